"""`modelops doctor`: what this machine offers modelops, what is missing, and the command that fixes it."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

MIN_FREE_GIB = 20


@dataclass
class Check:
    name: str
    ok: bool
    found: str
    fix: str = ""
    required: bool = True       # optional ones (an Ollama server, Go) only inform

    @property
    def mark(self) -> str:
        return "✓" if self.ok else "✗" if self.required else "–"


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _torch() -> list[Check]:
    if _version("torch") is None:
        return [Check("torch", False, "not installed", "make setup")]
    import torch

    checks = [Check("torch", True, torch.__version__)]
    if not torch.cuda.is_available():
        return checks + [Check("CUDA GPUs", True, "none: CPU training (QLoRA, Liger and flash-attention need CUDA)")]
    gpus = [torch.cuda.get_device_properties(i) for i in range(torch.cuda.device_count())]
    listed = ", ".join(f"{g.name} {g.total_memory / 2**30:.0f} GiB" for g in gpus)
    return checks + [Check("CUDA GPUs", True, f"{len(gpus)}: {listed} (CUDA {torch.version.cuda})"),
                     Check("bf16", torch.cuda.is_bf16_supported(), "supported" if torch.cuda.is_bf16_supported()
                           else "not supported: training uses fp16", "")]


def _llama_cpp() -> list[Check]:
    from modelops.deploy.converter import expected_dir

    version = _version("llama-cpp-python")
    if version is None:
        return [Check("llama-cpp-python", False, "not installed", "make setup  (builds it from source, ~5 min)")]
    tree = expected_dir(version)
    converter = tree / "convert_hf_to_gguf.py"
    from modelops.deploy.llama_runtime import current_decision

    return [Check("llama-cpp-python", True, version),
            Check("GGUF converter", True, str(tree) if converter.exists() else
                  f"fetched from the {version} source distribution at the first conversion (~1 min)"),
            Check("llama.cpp weight repack", True, current_decision().reason)]


def _cpu() -> Check:
    """The CPU features llama.cpp and torch care about; AMX decides the weight-repack workaround."""
    from modelops.deploy.llama_runtime import cpu_flags

    flags = cpu_flags()
    if not flags:
        return Check("CPU features", True, f"{platform.machine()}: not listed (no /proc/cpuinfo)")
    found = {"AVX2": "avx2" in flags, "AVX-512": "avx512f" in flags,
             "AMX": {"amx_tile", "amx_int8"} <= flags}
    return Check("CPU features", True, ", ".join(f"{name} {'yes' if ok else 'no'}" for name, ok in found.items()))


def _ollama() -> Check:
    import httpx

    host = os.environ.get("OLLAMA_HOST") or "127.0.0.1:11434"
    url = host if "://" in host else f"http://{host}"
    try:
        version = httpx.get(f"{url}/api/version", timeout=2).json().get("version")
        return Check("Ollama server", True, f"{url} (version {version})")
    except (httpx.HTTPError, ValueError):
        return Check("Ollama server", False, f"none at {url}: deploys write a bundle to create by hand",
                     "install Ollama (https://ollama.com) and run `ollama serve`, or set OLLAMA_HOST", required=False)


def checks(workdir: Path) -> list[Check]:
    free = shutil.disk_usage(workdir).free / 2**30
    return [
        Check("Python", True, f"{platform.python_version()} ({platform.machine()})"),
        _cpu(),
        *_torch(),
        *_llama_cpp(),
        _ollama(),
        Check(
            "Go (template tests)",
            shutil.which("go") is not None,
            shutil.which("go") or "not found",
            "apt-get install golang-go",
            required=False,
        ),
        Check(
            "disk",
            free >= MIN_FREE_GIB,
            f"{free:.0f} GiB free in {workdir.resolve()}",
            f"free space: 7B models need ~{MIN_FREE_GIB} GiB for weights, merges and GGUFs",
        ),
    ]
