"""Model shapes: parameter counts and the dimensions the memory estimate needs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelops.catalog import model_catalog
from modelops.recipe.model import ModelInit

_LINEAR_NAMES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class ModelShape:
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    tied: bool
    head_dim: int
    context: int
    source: str
    family: str | None = None

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied else 2)

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of each linear layer of one block, by module name."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        h, i = self.hidden, self.intermediate
        return {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
                "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}

    @property
    def params(self) -> int:
        """Decoder-only transformer with gated MLP: embeddings, 7 linears and 2 norms per block, final norm."""
        per_block = sum(a * b for a, b in self.linear_shapes().values()) + 2 * self.hidden
        return self.embedding_params + self.layers * per_block + self.hidden

    def lora_params(self, r: int, targets: str | list[str]) -> int:
        """LoRA adds r × (in + out) parameters to each adapted linear layer."""
        names = _LINEAR_NAMES if targets == "all-linear" else [t for t in targets if t in _LINEAR_NAMES]
        shapes = self.linear_shapes()
        return self.layers * sum(r * sum(shapes[n]) for n in names)


def shape_from_catalog(model_id: str) -> ModelShape | None:
    entry = model_catalog().get(model_id.removeprefix("modelscope://").lower())
    if entry is None:
        return None
    return _shape(entry, f"catalog ({entry['id']})")


def _shape(entry: dict[str, Any], source: str) -> ModelShape:
    heads = int(entry["heads"])
    return ModelShape(
        hidden=int(entry["hidden"]), layers=int(entry["layers"]), heads=heads,
        kv_heads=int(entry.get("kv_heads") or heads), intermediate=int(entry["intermediate"]),
        vocab=int(entry["vocab"]), tied=bool(entry.get("tied", False)),
        head_dim=int(entry.get("head_dim") or int(entry["hidden"]) // heads),
        context=int(entry.get("context") or 2048), source=source, family=entry.get("family"),
    )


def shape_from_config(folder: Path) -> ModelShape:
    """Read a local model's config.json (Hugging Face names); raises ValueError when unusable."""
    config_file = folder / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{folder} has no config.json; is it a Hugging Face model folder?") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read {config_file}: {exc}") from None
    config = config.get("text_config", config)
    try:
        entry = {
            "hidden": config["hidden_size"], "layers": config["num_hidden_layers"],
            "heads": config["num_attention_heads"], "kv_heads": config.get("num_key_value_heads"),
            "intermediate": config.get("intermediate_size") or 4 * config["hidden_size"],
            "vocab": config["vocab_size"], "tied": config.get("tie_word_embeddings", False),
            "head_dim": config.get("head_dim"), "context": config.get("max_position_embeddings"),
        }
    except KeyError as exc:
        raise ValueError(f"{config_file} lacks {exc.args[0]}; cannot size the model") from None
    return _shape(entry, f"config.json ({folder})")


def shape_from_init(init: ModelInit, vocab: int) -> ModelShape:
    intermediate = init.intermediate_size or _round_up(init.hidden_size * 8 // 3, 64)
    entry = {"hidden": init.hidden_size, "layers": init.num_layers, "heads": init.num_heads,
             "kv_heads": init.num_kv_heads, "intermediate": intermediate, "vocab": vocab,
             "tied": init.tie_word_embeddings, "context": init.max_position_embeddings}
    return _shape(entry, f"model.init ({init.architecture})")


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple
