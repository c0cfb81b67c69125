"""Built-in data: hardware profiles and shapes of well-known model architectures.

Stored as JSON (read by the C-accelerated json module) so that planning stays fast."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

_HERE = Path(__file__).parent


def _read(name: str) -> dict[str, Any]:
    data = json.loads((_HERE / name).read_text(encoding="utf-8"))
    data.pop("_about", None)
    return data


@lru_cache(maxsize=None)
def hardware_catalog() -> dict[str, dict[str, Any]]:
    return _read("hardware.json")


@lru_cache(maxsize=None)
def model_catalog() -> dict[str, dict[str, Any]]:
    """Model shapes by lower-cased hub id."""
    out: dict[str, dict[str, Any]] = {}
    for entry in _read("models.json")["models"]:
        shape = {k: v for k, v in entry.items() if k != "ids"}
        for model_id in entry["ids"]:
            out[model_id.lower()] = shape | {"id": model_id}
    return out
