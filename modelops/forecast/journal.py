"""Finished cross-validated evaluations of a fit step, kept beside its output folder so that an interrupted
search resumes where it stopped. The step folder is named by the step's fingerprint (parameters and input
hashes), so every entry found there was computed on the same data with the same settings. Each entry is
written whole (temporary file, then rename); an unreadable one is computed again."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 2   # what an entry holds: since 2, a direct `changes` unit's predictions are its step's changes


def unit_key(unit: tuple[Any, ...]) -> str:
    """The entry's name: the unit and the entry format, so an older modelops' entries are computed again."""
    return hashlib.sha256(json.dumps([FORMAT, unit], sort_keys=True, default=str).encode()).hexdigest()[:24]


class Journal:
    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def load(self, unit: tuple[Any, ...]) -> dict[str, np.ndarray] | None:
        path = self.directory / f"{unit_key(unit)}.npz"
        try:
            with np.load(path) as stored:
                return {name: stored[name] for name in stored.files}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None

    def save(self, unit: tuple[Any, ...], arrays: dict[str, np.ndarray]) -> None:
        path = self.directory / f"{unit_key(unit)}.npz"
        temporary = path.with_suffix(".tmp.npz")
        np.savez(temporary, **arrays)
        os.replace(temporary, path)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
