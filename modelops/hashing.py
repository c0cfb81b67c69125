"""Content hashes of files and folders, streamed so large files never sit in memory."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from modelops.fsutil import write_atomically

_CHUNK = 1 << 20
CACHED_FROM_BYTES = 1 << 20      # smaller files rehash faster than a cache lookup is worth keeping


def cache_dir() -> Path:
    return Path(os.environ.get("MODELOPS_CACHE_DIR") or Path.home() / ".cache" / "modelops")


def _stream_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def hash_file(path: Path, trust_cache: bool = True) -> str:
    """sha256 of a file; large files are cached by path + size + mtime so an unchanged one is not reread
    (`trust_cache=False` rereads it all and refreshes the cache)."""
    stat = path.stat()
    if stat.st_size < CACHED_FROM_BYTES:
        return _stream_hash(path)
    cache = cache_dir() / "file-hashes.json"
    key, stamp = str(path.resolve()), [stat.st_size, stat.st_mtime_ns]
    try:
        known = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    entry = known.get(key)
    if trust_cache and entry and entry[:2] == stamp:
        return entry[2]
    digest = _stream_hash(path)
    known[key] = stamp + [digest]
    try:
        write_atomically(cache, json.dumps(known, sort_keys=True))
    except OSError:
        pass                                   # a cache that cannot be written only costs time
    return digest


def hash_path(path: Path, trust_cache: bool = True) -> str:
    """sha256 of a file, or of a folder's relative names and file hashes."""
    if path.is_file():
        return hash_file(path, trust_cache)
    digest = hashlib.sha256()
    for child in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(
            child.relative_to(path).as_posix().encode() + b"\0" + hash_file(child, trust_cache).encode() + b"\n"
        )
    return digest.hexdigest()


def canonical_json(value: Any) -> str:
    """The one JSON spelling of a value: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(kind: str, params: dict[str, Any], inputs: dict[str, str]) -> str:
    """Hash of a step's kind, canonical parameters and the fingerprints or content hashes of its inputs."""
    body = canonical_json({"kind": kind, "params": params, "inputs": inputs})
    return hashlib.sha256(body.encode()).hexdigest()
