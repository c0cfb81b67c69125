"""What this machine really gives this process. CPUs: the affinity mask (taskset, a container's cpuset)
capped by a cgroup CPU quota (Docker's `--cpus`, Kubernetes limits) — `os.cpu_count()` counts the
machine's cores, which oversubscribes a container or a shared machine. Memory: RAM capped by a cgroup
memory limit."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class UsableCpus:
    count: int
    reason: str


def _quota(cgroup: Path) -> float | None:
    """CPUs allowed by the cgroup quota (v2 `cpu.max`, v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us`), or None."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def usable_cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> UsableCpus:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = _quota(cgroup)
    count = max(1, min(affinity, math.floor(quota) if quota else affinity))
    limit = f"cgroup quota {quota:g}" if quota else "no cgroup quota"
    return UsableCpus(count, f"{count} usable CPU(s): affinity {affinity}, {limit}")


def usable_memory_gib(meminfo: Path = Path("/proc/meminfo"), cgroup: Path = Path("/sys/fs/cgroup")) -> float | None:
    """RAM (MemTotal) capped by the cgroup memory limit (v2 `memory.max`, v1 `memory.limit_in_bytes`);
    None where Linux does not say."""
    try:
        total = next(int(line.split()[1]) * 1024 for line in meminfo.read_text().splitlines()
                     if line.startswith("MemTotal:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    for limit_file in (cgroup / "memory.max", cgroup / "memory" / "memory.limit_in_bytes"):
        try:
            limit = limit_file.read_text().strip()
        except OSError:
            continue
        if limit.isdigit():
            total = min(total, int(limit))
        break
    return total / 2**30
