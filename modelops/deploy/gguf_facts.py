"""What a GGUF file holds: parameters, bytes, bits per weight, tensor types, and k-quant fallbacks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

K_QUANT_ROW = 256          # k-quants pack rows in super-blocks of 256 values


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
