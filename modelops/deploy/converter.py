"""llama.cpp's converters (`convert_hf_to_gguf.py`, `convert_lora_to_gguf.py`), version-matched to the
installed llama-cpp-python runtime: a GGUF written by a newer or older converter may not load.

They come from `LLAMA_CPP_DIR` when set, else from that version's source distribution, fetched once
through pip (so pip's index, mirrors and cache apply) and unpacked into a cache folder."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

WANTED = ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py", "conversion/", "gguf-py/")


class ConverterMissing(RuntimeError):
    pass


def tools_dir() -> Path:
    return Path(os.environ.get("MODELOPS_TOOLS_DIR") or Path.home() / ".cache" / "modelops" / "tools")


def runtime_version() -> str:
    try:
        return importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        raise ConverterMissing(
            "llama-cpp-python is not installed: pip install -c constraints.txt 'llama-cpp-python[server]'"
        ) from None


def expected_dir(version: str) -> Path:
    """Where the converters are or will be: `LLAMA_CPP_DIR`, else the cache folder for this runtime version."""
    if os.environ.get("LLAMA_CPP_DIR"):
        return Path(os.environ["LLAMA_CPP_DIR"])
    return tools_dir() / f"llama.cpp-{version}"


def converter_dir(announce=print) -> Path:
    """The folder holding the converters and their `gguf-py`, fetched on first use."""
    version = runtime_version()
    folder = expected_dir(version)
    if (folder / "convert_hf_to_gguf.py").exists():
        return folder
    if os.environ.get("LLAMA_CPP_DIR"):
        raise ConverterMissing(f"LLAMA_CPP_DIR={folder} has no convert_hf_to_gguf.py")
    announce(f"fetching llama.cpp's converter from the llama-cpp-python {version} source distribution (once)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as scratch:
        archive = download_sdist(version, Path(scratch))
        unpacked = Path(scratch) / "llama.cpp"
        _extract(archive, unpacked)
        try:
            unpacked.rename(folder)
        except OSError:  # another process unpacked it meanwhile
            if not (folder / "convert_hf_to_gguf.py").exists():
                raise
    return folder


def download_sdist(version: str, into: Path) -> Path:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        f"llama-cpp-python=={version}",
        "--no-deps",
        "--no-binary",
        ":all:",
        "--quiet",
        "-d",
        str(into),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    archives = list(into.glob("llama_cpp_python-*.tar.gz"))
    if result.returncode != 0 or not archives:
        raise ConverterMissing(
            f"could not download the llama-cpp-python {version} source distribution "
            f"({result.stderr.strip().splitlines()[-1:] or 'no archive'}); "
            "set LLAMA_CPP_DIR to a llama.cpp checkout of the matching version"
        )
    return archives[0]


def _extract(archive: Path, into: Path) -> None:
    with tarfile.open(archive) as tar:
        root = tar.getnames()[0].split("/")[0] + "/vendor/llama.cpp/"
        members = [
            m
            for m in tar.getmembers()
            if m.name.startswith(root)
            and any(m.name[len(root) :].startswith(w) for w in WANTED)
            and (m.isfile() or m.isdir())
        ]
        if not any(m.name.endswith("/convert_hf_to_gguf.py") for m in members):
            raise ConverterMissing(f"{archive.name} carries no vendor/llama.cpp/convert_hf_to_gguf.py")
        for member in members:
            member.name = member.name[len(root) :]
        tar.extractall(into, members=members, filter="data")


def run_converter(script: str, arguments: list[str]) -> None:
    """Run one of the converters with its own `gguf-py` first on the import path; output streams through."""
    folder = converter_dir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(folder / "gguf-py"), str(folder)]))
    result = subprocess.run([sys.executable, str(folder / script), *arguments], env=env)
    if result.returncode != 0:
        raise SystemExit(f"{script} failed (exit {result.returncode}); its messages are above")
