"""What `apply` shows while it works: one live line per step with done/total, elapsed time and time left,
and a summary table at the end. Steps' JSON-lines events (`done`/`total` counters, metrics) feed the live
line. The steps' own output (library progress bars and warnings included) goes to each step's log.txt,
and to the screen too with `-v`."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from modelops.plan.model import Step

COUNTERS = ("done", "total", "time", "type", "unit")
INFO_WIDTH = 48


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def scalar_metrics(metrics: dict[str, Any], limit: int = 4) -> str:
    """The first few plain numbers of a metrics dict, for a one-line summary."""
    items = [(k, v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return ", ".join(f"{k} {_number(v)}" for k, v in items[:limit])


class ConsoleProgress:
    """Callable `on_event` for `run_plan`, rendering with rich (live when a terminal, plain lines otherwise)."""

    def __init__(self, console: Console, verbose: bool = False, quiet: bool = False):
        self.console, self.verbose = console, verbose
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=20),
                                 MofNCompleteColumn(), TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                                 TextColumn("left"), TimeRemainingColumn(), console=console, transient=False,
                                 disable=quiet)
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> "ConsoleProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def __call__(self, event: str, step: Step, data: dict[str, Any]) -> None:
        if event == "start":
            self.tasks[step.id] = self.progress.add_task(escape(f"{step.id}: {step.title}"), total=None, info="")
        elif event == "output" and self.verbose:
            self.console.print(f"[dim]{escape(step.short_id)} │[/dim] {escape(data['line'])}", highlight=False)
        elif event == "event":
            self._update(step, data)
        elif event == "done":
            task = self.tasks[step.id]
            total = self.progress.tasks[task].total or 1
            self.progress.update(task, total=total, completed=total, description=escape(f"✓ {step.id}"))

    def _update(self, step: Step, data: dict[str, Any]) -> None:
        info = " · ".join(f"{k} {_number(v)}" for k, v in data.items()
                          if k not in COUNTERS and isinstance(v, (int, float, str)))
        if len(info) > INFO_WIDTH:
            info = info[: INFO_WIDTH - 1] + "…"
        fields: dict[str, Any] = {"info": escape(info)} if info else {}
        if "total" in data:
            fields["total"] = data["total"]
        if "done" in data:
            fields["completed"] = data["done"]
        self.progress.update(self.tasks[step.id], **fields)


def summary_table(results: list) -> Table:
    table = Table(title="apply summary", show_lines=False)
    table.add_column("step", no_wrap=True)
    for column in ("status", "duration", "key metrics", "artifacts"):
        table.add_column(column)
    for result in results:
        style = {"ran": "green", "pulled": "cyan", "skipped": "dim", "failed": "red",
                 "interrupted": "yellow"}[result.status]
        table.add_row(result.step.id, f"[{style}]{result.status}[/{style}]", f"{result.seconds:.1f}s",
                      escape(scalar_metrics(result.metrics)), escape(", ".join(result.step.outputs)))
    return table
