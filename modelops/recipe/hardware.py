"""The `hardware` section: a catalog profile name or an explicit machine description."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from modelops.recipe.common import Section


class HardwareSpec(Section):
    """An explicit machine: GPU type, GPUs per node, nodes."""

    gpu: str = Field("cpu", description="GPU type from `modelops hardware` (`a10-24g`, `h100-80g`, ...) or `cpu`.")
    gpus: int = Field(1, ge=1, description="GPUs per node.")
    nodes: int = Field(1, ge=1, description="Machines; more than one launches a multi-node run.")
    processes: int | None = Field(None, ge=1, description="Processes per node on CPU (gloo); defaults to 1.")
    memory_gb: float | None = Field(None, gt=0, description="Override the memory per device (RAM for `cpu`).")
    main_process_ip: str | None = Field(None, description="Address of node 0, for multi-node runs.")
    main_process_port: int = Field(29500, ge=1, le=65535, description="Port of node 0's rendezvous.")
    engine: Literal["local", "dask"] = Field("local", description="Regression only: `dask` trains with lightgbm.dask.")
    scheduler: str | None = Field(
        None, description="Dask scheduler address (`tcp://host:8786`); none starts a local cluster."
    )
    threads: int | None = Field(
        None,
        ge=1,
        description="Regression only: CPU threads the LightGBM fits may use in "
        "all (default: the CPUs this process may use, from its affinity and cgroup quota).",
    )
