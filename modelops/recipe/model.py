"""The `model` section: which base model a language-model task starts from."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from modelops.recipe.common import Section, name_or

ChatTemplateName = Literal["chatml", "llama3", "qwen2", "mistral", "gemma", "phi3"]


class FromRecipe(Section):
    """Use the model another recipe produces."""

    from_: str = Field(alias="from", min_length=1, description="Path of the upstream recipe, relative to this one.")


class ModelInit(Section):
    """A fresh, randomly initialised architecture (training from scratch)."""

    architecture: Literal["llama", "qwen2"] = Field("llama", description="Model family to initialise.")
    hidden_size: int = Field(256, gt=0, description="Width of the residual stream.")
    num_layers: int = Field(4, gt=0, description="Transformer blocks.")
    num_heads: int = Field(4, gt=0, description="Attention heads.")
    num_kv_heads: int | None = Field(
        None, gt=0, description="Key/value heads (grouped-query attention); defaults to `num_heads`."
    )
    intermediate_size: int | None = Field(None, gt=0, description="MLP width; defaults to about 8/3 of `hidden_size`.")
    max_position_embeddings: int = Field(2048, gt=0, description="Longest sequence the model supports.")
    tie_word_embeddings: bool = Field(True, description="Share the input embedding and the output head.")

    @model_validator(mode="after")
    def _heads_divide(self) -> "ModelInit":
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} must be divisible by num_heads {self.num_heads}")
        if self.num_kv_heads and self.num_heads % self.num_kv_heads:
            raise ValueError(f"num_heads {self.num_heads} must be divisible by num_kv_heads {self.num_kv_heads}")
        return self


class TokenizerTraining(Section):
    """Train a SentencePiece tokenizer on the training text."""

    vocab_size: int = Field(8000, ge=64, description="Vocabulary size, special tokens included.")
    type: Literal["bpe", "unigram"] = Field("bpe", description="SentencePiece model type.")


class TokenizerSpec(Section):
    """Where the tokenizer comes from, when not from the base model."""

    path: str | None = Field(None, description="A local tokenizer folder.")
    train: TokenizerTraining | None = Field(None, description="Train a tokenizer on the training text.")

    @model_validator(mode="after")
    def _one_of(self) -> "TokenizerSpec":
        if (self.path is None) == (self.train is None):
            raise ValueError("give exactly one of `path` or `train`")
        return self


class Model(Section):
    """The model section."""

    base: name_or(FromRecipe) | None = Field(
        None,
        description=(  # type: ignore[valid-type]
            "Starting model: a Hugging Face hub id (`Qwen/Qwen2.5-0.5B-Instruct`), `modelscope://org/name`, "
            "a local folder, or `{from: other-recipe.yaml}` for another recipe's output."
        ),
    )
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit) to pin.")
    init: ModelInit | None = Field(None, description="Initialise a fresh model instead of loading `base`.")
    tokenizer: TokenizerSpec | None = Field(None, description="Tokenizer, when it does not come from `base`.")
    chat_template: ChatTemplateName | None = Field(None, description="Chat template to use when the base has none.")
    trust_remote_code: bool = Field(
        False, description="Run model code from the hub. Off unless you trust it; every plan warns."
    )
    attn_implementation: Literal["auto", "sdpa", "eager", "flash_attention_2"] = Field(
        "auto", description=("Attention kernel: `auto` picks `flash_attention_2` on CUDA when installed, else `sdpa`.")
    )

    @model_validator(mode="after")
    def _base_or_init(self) -> "Model":
        if (self.base is None) == (self.init is None):
            raise ValueError("give exactly one of `base` (a model to start from) or `init` (a fresh architecture)")
        if self.init is not None and self.tokenizer is None:
            raise ValueError(
                "a fresh model (`init`) needs `tokenizer: {train: {vocab_size: N}}` or `tokenizer: {path: ...}`"
            )
        return self
