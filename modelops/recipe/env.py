"""`${VAR}` in recipes: which keys may name environment variables, and their expansion when a step runs.

Recipes come from strangers and `validate`/`plan` output goes into pull-request comments, so values of the
environment never enter a plan: `${VAR}` is allowed only where a value differs per machine and is only
needed when the step runs (a network address), it is shown in plans as written, and the runner that
contacts the address expands it. Anywhere else a reference is a positioned error."""

from __future__ import annotations

import os
import re
from typing import Mapping

ENV_KEYS = {("hardware", "scheduler"): "the Dask scheduler's address",
            ("deploy", "ollama", "host"): "the Ollama server",
            ("tracking", "mlflow", "uri"): "the MLflow tracking server"}
REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
ALLOWED = ", ".join(".".join(key) for key in ENV_KEYS)


def unset(text: str, env: Mapping[str, str]) -> list[str]:
    """The variables the text names that are neither set nor given a `:-default`."""
    return [m.group(1) for m in REFERENCE.finditer(text)
            if m.group(1) and m.group(1) not in env and m.group(2) is None]


def names(text: str) -> list[str]:
    return [m.group(1) for m in REFERENCE.finditer(text) if m.group(1)]


def expand(text: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The value with `${VAR}` / `${VAR:-default}` replaced and `$$` as `$` (for runners, at run time)."""
    if text is None:
        return None
    env = os.environ if env is None else env

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(2) or "")

    return REFERENCE.sub(replace, text)
