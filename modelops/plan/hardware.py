"""Resolve a recipe's `hardware` into concrete devices from the catalog."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from modelops.catalog import hardware_catalog
from modelops.recipe.hardware import HardwareSpec

_SHORTHAND = re.compile(r"^(?P<gpu>[a-z0-9.-]+?)x(?P<count>\d+)$")


class HardwareError(ValueError):
    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class ResolvedHardware:
    """The devices a run gets: what the planner sizes batches and strategies for."""

    name: str
    gpu: str
    label: str
    gpus_per_node: int
    nodes: int
    processes_per_node: int
    memory_gb: float
    bf16: bool
    fp16: bool
    cuda: bool
    tflops: float
    interconnect: str
    engine: str
    scheduler: str | None
    threads: int | None
    main_process_ip: str | None
    main_process_port: int

    @property
    def devices(self) -> int:
        """Training processes in all: one per GPU, or the CPU processes per node."""
        return self.processes_per_node * self.nodes


def resolve_hardware(value: str | HardwareSpec) -> ResolvedHardware:
    spec = value if isinstance(value, HardwareSpec) else _parse_shorthand(value)
    gpu = _gpu_name(spec.gpu)
    info = hardware_catalog()[gpu]
    if info["cuda"] and spec.processes is not None:
        raise HardwareError("`processes` is for CPU runs; on GPUs there is one process per GPU",
                            "remove `processes` or use `gpus:`")
    if not info["cuda"] and spec.gpus != 1:
        raise HardwareError("`gpus` does not apply to `cpu`", "use `processes: N` for several CPU processes")
    processes = spec.gpus if info["cuda"] else (spec.processes or 1)
    name = value if isinstance(value, str) else _describe(gpu, spec.gpus if info["cuda"] else processes, spec.nodes)
    return ResolvedHardware(
        name=name, gpu=gpu, label=info["label"], gpus_per_node=spec.gpus if info["cuda"] else 0,
        nodes=spec.nodes, processes_per_node=processes, memory_gb=float(spec.memory_gb or info["memory_gb"]),
        bf16=info["bf16"], fp16=info["fp16"], cuda=info["cuda"], tflops=float(info["tflops"]),
        interconnect=info["interconnect"], engine=spec.engine, scheduler=spec.scheduler, threads=spec.threads,
        main_process_ip=spec.main_process_ip, main_process_port=spec.main_process_port,
    )


def _describe(gpu: str, count: int, nodes: int) -> str:
    return f"{gpu}x{count}" + (f" × {nodes} nodes" if nodes > 1 else "")


def _parse_shorthand(text: str) -> HardwareSpec:
    """`a10x2` → 2 × a10-24g; `h100-80g` → 1 × h100-80g; `cpu` → the CPU."""
    text = text.strip().lower()
    match = _SHORTHAND.match(text)
    if match:
        return HardwareSpec(gpu=match["gpu"], gpus=int(match["count"])) if match["gpu"] != "cpu" else \
            HardwareSpec(gpu="cpu", processes=int(match["count"]))
    return HardwareSpec(gpu=text)


def _gpu_name(text: str) -> str:
    catalog = hardware_catalog()
    text = text.lower()
    if text in catalog:
        return text
    prefixed = [name for name in catalog if name.split("-")[0] == text]
    if len(prefixed) == 1:
        return prefixed[0]
    if prefixed:
        raise HardwareError(f"`{text}` is ambiguous", "one of: " + ", ".join(prefixed))
    close = difflib.get_close_matches(text, list(catalog), n=2, cutoff=0.5)
    hint = ("did you mean " + " or ".join(f"`{c}`" for c in close) + "? ") if close else ""
    raise HardwareError(f"unknown hardware `{text}`", hint + "see `modelops hardware` for the profiles")


def shorthand_examples() -> list[str]:
    return ["cpu", "cpux2", "t4x1", "a10x2", "h20x1", "h100x8", "{gpu: a100-80g, gpus: 8, nodes: 2}"]
