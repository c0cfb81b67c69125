"""The `deploy` section: export, quantise, and where the model goes."""

from __future__ import annotations

from typing import Literal, Union

from pydantic import Field, model_validator

from modelops.recipe.common import Section

QuantType = Literal[
    "q8_0", "q6_k", "q5_k_m", "q5_k_s", "q5_0", "q5_1", "q4_k_m", "q4_k_s", "q4_0", "q4_1",
    "q3_k_l", "q3_k_m", "q3_k_s", "q2_k", "iq4_nl", "iq4_xs", "f16", "bf16",
]

# Ollama's runtime options that a Modelfile PARAMETER may set, with their value types.
OLLAMA_PARAMETERS: dict[str, type] = {
    "num_ctx": int, "repeat_last_n": int, "repeat_penalty": float, "temperature": float, "seed": int,
    "stop": str, "num_predict": int, "top_k": int, "top_p": float, "min_p": float, "num_keep": int,
    "typical_p": float, "presence_penalty": float, "frequency_penalty": float, "num_batch": int,
    "num_gpu": int, "num_thread": int,
}


class GgufMetadata(Section):
    """GGUF metadata written by the converter."""

    name: str | None = Field(None, description="Model name; defaults to the recipe name.")
    version: str | None = Field(None, description="Model version.")
    description: str | None = Field(None, description="Short description; defaults to the recipe's.")
    license: str | None = Field(None, description="License identifier.")


class Gguf(Section):
    """Conversion to GGUF with llama.cpp's converter."""

    outtype: Literal["f32", "f16", "bf16", "q8_0"] = Field(
        "f16", description="Type of the converted file (before quantisation)."
    )
    metadata: GgufMetadata = Field(default_factory=GgufMetadata, description="GGUF metadata.")


class Parity(Section):
    """Agreement of each GGUF with the Hugging Face model; a broken conversion fails the step."""

    min_top1: float | None = Field(
        None, ge=0, le=1, description="Minimum next-token agreement; default 0.98 for f16/bf16/q8_0, unchecked below."
    )
    prompts: int = Field(16, ge=1, description="Held-out prompts to compare on.")


class OllamaMessage(Section):
    """An example turn baked into the Ollama model."""

    role: Literal["system", "user", "assistant"] = Field(description="Who speaks.")
    content: str = Field(description="What is said.")


class Ollama(Section):
    """The Ollama model to create."""

    name: str | None = Field(None, description="Model name and tag (`zh-assistant:0.1`); defaults to the recipe name.")
    system: str | None = Field(None, description="System prompt (SYSTEM).")
    template: str | None = Field(
        None, description="A literal Go template, for chat templates that cannot be translated."
    )
    parameters: dict[str, Union[int, float, str, list[str]]] = Field(
        default_factory=dict,
        description=(
            "Runtime options (PARAMETER lines): num_ctx, temperature, top_p, top_k, min_p, repeat_penalty, "
            "repeat_last_n, num_predict, seed, stop, ..."
        ),
    )
    messages: list[OllamaMessage] = Field(default_factory=list, description="MESSAGE lines.")
    license: str | None = Field(None, description="LICENSE text.")
    quantization: str | None = Field(
        None, description="Which GGUF goes into FROM; defaults to the first of `quantize`."
    )
    host: str | None = Field(
        None, description="Ollama server; defaults to `OLLAMA_HOST`. Without one, a bundle is written."
    )
    require: bool = Field(False, description="Fail when no Ollama server is reachable instead of writing a bundle.")


class Serve(Section):
    """The llama.cpp server smoke test (and `modelops serve`)."""

    n_ctx: int = Field(2048, ge=64, description="Context length of the server.")
    requests: int = Field(3, ge=1, description="Chat requests sent by the smoke test.")


class Deploy(Section):
    """The deploy section."""

    target: Literal["ollama", "llama-cpp", "hf", "api", "none"] = Field(
        description=(
            "`ollama`, `llama-cpp` (GGUF + server), `hf` (merged folder + model card), `api` (regression), or `none`."
        )
    )
    merge: bool = Field(
        True, description="Merge a trained adapter into the base; `false` ships the adapter separately."
    )
    gguf: Gguf = Field(default_factory=Gguf, description="GGUF conversion.")
    quantize: list[QuantType] = Field(default_factory=list, description="Quantised GGUFs to produce.")
    parity: Parity = Field(default_factory=Parity, description="Conversion parity checks.")
    ollama: Ollama = Field(default_factory=Ollama, description="Ollama model settings.")
    serve: Serve = Field(default_factory=Serve, description="Server smoke test.")

    @model_validator(mode="after")
    def _unique_quants(self) -> "Deploy":
        if len(set(self.quantize)) != len(self.quantize):
            raise ValueError("`quantize` lists a type twice")
        return self
