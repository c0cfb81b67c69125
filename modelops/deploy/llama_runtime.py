"""Loading GGUFs with llama.cpp on every CPU. A llama.cpp built on a CPU with Intel AMX repacks q8_0/k-quant
weights into AMX tiles when a model loads, and then segfaults decoding a batch of 4+ tokens
(ggml-org/llama.cpp#20824). Turning llama.cpp's extra buffer types off (`use_extra_bufts`, the weight
repack) avoids it there. `MODELOPS_LLAMA_REPACK` = `auto` (default: off only where the library has AMX),
`on` or `off` lets a user decide. Every place that loads a GGUF (parity, the server behind smoke, serve
and chat) calls `configure()` before building a `Llama`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

ENV = "MODELOPS_LLAMA_REPACK"
SETTINGS = ("auto", "on", "off")
FEATURES_SHOWN = ("AVX2", "AVX512", "AMX_INT8")


@dataclass(frozen=True)
class RepackDecision:
    enabled: bool
    reason: str


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags as Linux lists them (empty where /proc/cpuinfo is not available)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    match = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
    return set(match.group(1).split()) if match else set()


def library_features(system_info: str) -> dict[str, bool]:
    """`AVX2 = 1 | AMX_INT8 = 1 | ...` from `llama_print_system_info()`: what the library was built with."""
    return {name: value == "1" for name, value in re.findall(r"([A-Z0-9_]+) = (\d+)", system_info)}


def decide(setting: str, library_has_amx: bool) -> RepackDecision:
    if setting not in SETTINGS:
        raise SystemExit(f"{ENV}={setting!r}: use one of {', '.join(SETTINGS)}")
    if setting == "on":
        return RepackDecision(True, f"on ({ENV}=on)")
    if setting == "off":
        return RepackDecision(False, f"off ({ENV}=off)")
    if library_has_amx:
        return RepackDecision(False, "off: llama.cpp was built with AMX, whose weight repack crashes on quantised "
                                     f"GGUFs (llama.cpp#20824); {ENV}=on turns it back on")
    return RepackDecision(True, "on: llama.cpp was built without AMX")


def current_decision() -> RepackDecision:
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    return decide(os.environ.get(ENV, "auto").strip().lower() or "auto", library_features(info).get("AMX_INT8", False))


def configure() -> RepackDecision:
    """Make every `Llama` built in this process load with the decided repack setting (llama-cpp-python has no
    argument for it: its constructor starts from `llama_model_default_params()`, which is wrapped here)."""
    import llama_cpp.llama_cpp as bindings

    decision = current_decision()
    original = getattr(bindings.llama_model_default_params, "unconfigured", bindings.llama_model_default_params)

    def default_params():
        params = original()
        params.use_extra_bufts = decision.enabled
        return params

    default_params.unconfigured = original  # type: ignore[attr-defined]
    bindings.llama_model_default_params = default_params
    return decision
