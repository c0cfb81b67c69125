"""How the LightGBM fits of one step share the CPUs. LightGBM's OpenMP threads spin at barriers: on a
loaded machine a small fit with all threads took 167 s instead of 1.1 s with one. So small fits get one
thread each and the independent fits (parameter sets × steps ahead, each over its folds) run side by side
in worker processes; large fits, where threads pay, get every usable CPU one at a time."""

from __future__ import annotations

from dataclasses import dataclass

from modelops.machine import UsableCpus, usable_cpus

SMALL_FIT_CELLS = 2_000_000      # rows × features up to which one thread per fit beats OpenMP's overhead


@dataclass(frozen=True)
class Parallelism:
    processes: int                # fits at a time
    threads: int                  # LightGBM threads per fit
    reason: str


def choose(rows: int, columns: int, pinned: int | None, cpus: UsableCpus | None = None) -> Parallelism:
    """`pinned` (`hardware.threads`) replaces the usable CPU count as the budget of threads."""
    cpus = cpus or usable_cpus()
    budget, source = (pinned, f"hardware.threads {pinned}") if pinned else (cpus.count, cpus.reason)
    size = f"{rows:,} rows × {columns} features"
    if rows * columns <= SMALL_FIT_CELLS:
        return Parallelism(budget, 1, f"{source}; {size} is small: 1 thread per fit, {budget} fit(s) at a time")
    return Parallelism(1, budget, f"{source}; {size}: {budget} thread(s) per fit, one fit at a time")


def describe_policy(pinned: int | None) -> str:
    """The rule `choose` applies at run time, for the plan (which does not know the feature rows yet)."""
    budget = f"hardware.threads {pinned}" if pinned else usable_cpus().reason
    return (f"{budget}; fits up to {SMALL_FIT_CELLS:,} rows × features use 1 thread each, that many at a time in "
            "parallel processes; larger fits use all of them one at a time")
