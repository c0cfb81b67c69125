"""What changed between two versions of a step's parameters, for `apply` (against the run directory's
state) and `plan --against` (against an older plan)."""

from __future__ import annotations

from typing import Any

ABSENT = "∅"


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level of dotted keys."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out |= flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return out
    return {prefix: value}


def param_diffs(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(dotted key, before, after) for every key whose value differs (∅ where absent), sorted by key."""
    before, after = flatten(old), flatten(new)
    return [(key, before.get(key, ABSENT), after.get(key, ABSENT)) for key in sorted(set(before) | set(after))
            if before.get(key, ABSENT) != after.get(key, ABSENT)]
