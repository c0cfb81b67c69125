"""Export and deploy: GGUF conversion, quantisation, Ollama Modelfiles, serving."""
