"""What a GGUF file holds: parameters, bytes, bits per weight, tensor types, k-quant fallbacks, and the chat
template it carries."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

K_QUANT_ROW = 256          # k-quants pack rows in super-blocks of 256 values
GENERATION_TAGS = r"\{%-?\s*(?:end)?generation\s*-?%\}"


def gguf_facts(path: Path, requested: str | None = None) -> dict[str, Any]:
    """Size and composition of a GGUF; with `requested` (a quant type), the tensors that could not get a
    k-quant because their rows do not divide by 256, and the types llama.cpp used instead."""
    from gguf import GGUFReader

    reader = GGUFReader(path)
    parameters = sum(int(t.n_elements) for t in reader.tensors)
    size = path.stat().st_size
    types = Counter(t.tensor_type.name for t in reader.tensors)
    facts: dict[str, Any] = {"file": path.name, "bytes": size, "mib": round(size / 2**20, 3), "parameters": parameters,
                             "bits_per_weight": round(size * 8 / max(parameters, 1), 3), "tensor_types": dict(types)}
    if requested and "_k" in requested:
        fallback = Counter(
            t.tensor_type.name
            for t in reader.tensors
            if len(t.shape) > 1 and int(t.shape[0]) % K_QUANT_ROW and not t.tensor_type.name.startswith("F")
        )
        if fallback:
            facts["fallback"] = {
                "tensors": sum(fallback.values()),
                "types": dict(fallback),
                "reason": f"rows not divisible by {K_QUANT_ROW}, which {requested} needs",
            }
    return facts


def model_folder(inputs: dict[str, Path]) -> Path:
    """The Hugging Face folder a deploy step works from: the merged/full model, else the base."""
    return inputs.get("model") or inputs["base"]


def servable_template(chat_template: str) -> str:
    """The chat template as a GGUF carries it: without `{% generation %}` markers (a transformers extension
    that training needs and llama.cpp's and Ollama's Jinja do not know)."""
    return re.sub(GENERATION_TAGS, "", chat_template)


def gguf_chat_template(path: Path) -> str | None:
    """The chat template a GGUF carries (`tokenizer.chat_template`), which llama.cpp and Ollama render."""
    from gguf import GGUFReader

    field = GGUFReader(path).fields.get("tokenizer.chat_template")
    return bytes(field.parts[field.data[0]]).decode("utf-8") if field else None
