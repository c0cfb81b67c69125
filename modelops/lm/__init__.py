"""Language-model helpers shared by the tokenizer, init, training and evaluation runners."""
