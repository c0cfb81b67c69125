"""A team's shared cache of finished steps (the recipe's `cache.url`: any fsspec URL — a folder, `s3://`,
`gs://`, `sftp://user@host/path`). A step is stored under its fingerprint as `out.tar` (its output folder)
and `entry.json` (its outputs' sha256, metrics and times), the entry written last: a step is in the cache
once its entry is, so an interrupted push leaves nothing another machine would take. A pulled step is
checked as a local one is: every output's hash against the entry, else nothing is taken."""

from __future__ import annotations

import contextlib
import json
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from modelops.apply.verify import record_outputs

ENTRY, ARCHIVE = "entry.json", "out.tar"


class CacheError(RuntimeError):
    pass


@contextlib.contextmanager
def _failing_as(message: str):
    """Any error of the storage (a missing protocol package, a refused connection, a denied write, a
    server's own exception types) as one CacheError: the cache never breaks a run."""
    try:
        yield
    except CacheError:
        raise
    except Exception as exc:
        raise CacheError(f"{message}: {type(exc).__name__}: {str(exc)[:300]}") from None


def _known_hosts_only():
    """A paramiko policy for servers whose host key is not already known: refused unless ~/.ssh/known_hosts
    lists it (fsspec's own default would trust any key on first contact: a man in the middle included)."""
    import paramiko

    class KnownHostsOnly(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client, hostname, key):
            known = Path("~/.ssh/known_hosts").expanduser()
            if known.is_file() and paramiko.HostKeys(str(known)).check(hostname, key):
                return
            raise paramiko.SSHException(f"the host key of {hostname} is not in ~/.ssh/known_hosts: connect once "
                                        "with ssh (or ssh-keyscan it) after checking its fingerprint")

    return KnownHostsOnly()


class RemoteCache:
    def __init__(self, url: str):
        import fsspec

        self.url = url
        with _failing_as(f"cache {url}: cannot open it"):
            options = {"host_key_policy": _known_hosts_only()} if url.startswith(("sftp://", "ssh://")) else {}
            self.fs, self.root = fsspec.core.url_to_fs(url, **options)

    def _path(self, fingerprint: str, name: str) -> str:
        return f"{self.root.rstrip('/')}/{fingerprint}/{name}"

    def entry(self, fingerprint: str) -> dict[str, Any] | None:
        """The stored entry of a step, or None when the cache does not hold it."""
        with _failing_as(f"cache {self.url}: cannot read the entry of {fingerprint[:12]}"):
            try:
                return json.loads(self.fs.cat_file(self._path(fingerprint, ENTRY)))
            except FileNotFoundError:
                return None

    def push(self, fingerprint: str, out: Path, entry: dict[str, Any]) -> bool:
        """Store a finished step's output folder and its state entry (hashes, metrics); False when the cache
        already holds the step (the same fingerprint is the same step: nothing to add)."""
        if self.entry(fingerprint) is not None:
            return False
        with tempfile.TemporaryDirectory() as scratch:
            archive = Path(scratch) / ARCHIVE
            with tarfile.open(archive, "w") as tar:
                tar.add(out, arcname="out")
            stored = {key: entry[key] for key in ("kind", "outputs", "metrics", "started", "ended")}
            body = json.dumps({"fingerprint": fingerprint, **stored, "pushed": time.time()}, ensure_ascii=False)
            with _failing_as(f"cache {self.url}: cannot store {fingerprint[:12]}"):
                self.fs.makedirs(f"{self.root.rstrip('/')}/{fingerprint}", exist_ok=True)
                self.fs.put_file(str(archive), self._path(fingerprint, ARCHIVE))
                self.fs.pipe_file(self._path(fingerprint, ENTRY), body.encode("utf-8"))
        return True

    def pull(self, fingerprint: str, outputs: list[str], into: Path) -> dict[str, Any] | None:
        """The step's outputs written into the empty folder `into`, checked against the entry's hashes;
        returns the entry, or None when the cache does not hold the step."""
        entry = self.entry(fingerprint)
        if entry is None:
            return None
        times = [entry.get(key) for key in ("started", "ended")]
        if (entry.get("fingerprint") != fingerprint or not isinstance(entry.get("outputs"), dict)
                or set(entry["outputs"]) != set(outputs) or not isinstance(entry.get("metrics", {}), dict)
                or not all(isinstance(t, (int, float)) for t in times)):
            raise CacheError(f"cache {self.url}: the entry of {fingerprint[:12]} is not this step's")
        with tempfile.TemporaryDirectory(dir=into.parent) as scratch:
            archive = Path(scratch) / ARCHIVE
            with _failing_as(f"cache {self.url}: cannot take {fingerprint[:12]}"):
                self.fs.get_file(self._path(fingerprint, ARCHIVE), str(archive))
                with tarfile.open(archive) as tar:
                    tar.extractall(scratch, filter="data")   # no links out, no absolute paths, no devices
                hashes, _ = record_outputs(Path(scratch) / "out", outputs)     # (a missing output fails here)
            wrong = sorted(name for name, digest in hashes.items() if digest != entry["outputs"][name])
            if wrong:
                raise CacheError(f"cache {self.url}: {fingerprint[:12]}'s {', '.join(wrong)} differ from the "
                                 "hashes it was stored with; nothing was taken")
            shutil.rmtree(into)
            (Path(scratch) / "out").rename(into)
        return entry
