"""Large input files are hashed once, then recognised by path + size + mtime."""

from __future__ import annotations

import json
import os

from modelops.hashing import CACHED_FROM_BYTES, _stream_hash, cache_dir, hash_file


def test_an_unchanged_large_file_is_not_rehashed_and_a_touched_one_is(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(CACHED_FROM_BYTES + 10))
    real = hash_file(big)
    assert real == _stream_hash(big)
    cache = cache_dir() / "file-hashes.json"
    entries = json.loads(cache.read_text())
    entries[str(big.resolve())][2] = "remembered"
    cache.write_text(json.dumps(entries))
    assert hash_file(big) == "remembered"          # read from the cache, not from the file
    stat = big.stat()
    os.utime(big, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert hash_file(big) == real                  # mtime moved: hashed again


def test_small_files_skip_the_cache(tmp_path):
    small = tmp_path / "small.txt"
    small.write_text("x")
    hash_file(small)
    assert not (cache_dir() / "file-hashes.json").exists()
