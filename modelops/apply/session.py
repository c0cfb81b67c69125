"""One `modelops apply` of a plan, from its changes to its exit status: what would run and why, nothing to
do (reports rebuilt if stale), or the run with live progress, the reports, the summary, warnings where a
stage made things worse, and what to do with the result. The CLI parses arguments and calls it once."""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from modelops.apply.changes import StepChange
from modelops.escape import one_line
from modelops.plan.model import Plan

EXIT_INTERRUPTED = 130


@dataclass
class Options:
    until: str | None = None        # a step id
    dry_run: bool = False
    verbose: bool = False
    quiet: bool = False


def print_changes(changes: list[StepChange]) -> None:
    for change in changes:
        mark = {"up-to-date": "=", "new": "+", "changed": "~"}[change.status]
        cached = " (in the shared cache: apply pulls it)" if change.cached else ""
        print(f"{mark} {change.step.id}: {change.status}{cached}")
        for reason in change.reasons[:8]:
            if reason != "+ new":
                print(f"    {one_line(reason)}")


def apply_plan(plan: Plan, changes: list[StepChange], options: Options, file: Path) -> int:
    """Print, run and report; the exit status (0, 1 for a failure or a held lock, 130 when interrupted)."""
    from rich.console import Console

    from modelops.apply.executor import run_plan, through
    from modelops.apply.lock import LockedError
    from modelops.apply.progress import ConsoleProgress, summary_table
    from modelops.apply.report import report_is_current, write_report
    from modelops.apply.verdicts import verdicts

    print_changes(changes)
    pending = [c for c in through(changes, options.until) if c.status != "up-to-date"]
    if options.dry_run:
        return 0
    if not pending:
        print("nothing to do: every step is up to date")
        for recipe in plan.recipes:
            if not report_is_current(recipe):
                print(f"report: rebuilt {write_report(recipe)[0]} and report.html (missing or older than the state)")
        return 0
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops as cleanly as Ctrl-C
    console = Console(highlight=False)
    try:
        with ConsoleProgress(console, options.verbose, options.quiet) as progress:
            results = run_plan(plan, changes, options.until, progress)
        reports = [write_report(recipe) for recipe in plan.recipes]
    except LockedError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"cannot write the run directory: {exc}", file=sys.stderr)
        return 1
    console.print(summary_table(results))
    for step_result in results:
        for text in step_result.warnings:
            print(f"warning: {step_result.step.id}: {one_line(text)}", file=sys.stderr)
        for check in verdicts(step_result.metrics):
            if not check.ok:
                print(f"warning: {step_result.step.id}: {check.text}", file=sys.stderr)
        for outcome in step_result.gates:
            print(one_line(str(outcome)), file=sys.stderr if not outcome.passed else sys.stdout)
    print(f"report: {reports[-1][0]} and {reports[-1][1].name}")
    last = results[-1]
    if last.status == "interrupted":
        print(f"\n{last.message}. Finished steps are recorded; run the same `modelops apply` again to resume.",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    if last.status == "failed":
        print(last.message, file=sys.stderr)
        return 1
    if not last.ok:
        print(f"\nstopped after {last.step.id}: a gate failed, so nothing after it ran. Its metrics are in the "
              "report; change the recipe (or the gate) and apply again.", file=sys.stderr)
        return 1
    if not options.until:
        print_what_now(plan, file)
    return 0


def print_what_now(plan: Plan, file: Path) -> None:
    """After a complete apply: what was produced and how to use it (each step kind's hints)."""
    from modelops.apply.state import finished_output
    from modelops.step_kinds import step_kind

    lines = []
    for step in plan.recipes[-1].steps:
        hints = step_kind(step.kind).hints
        if hints is not None:
            lines += hints(finished_output(plan, step.kind), str(file))
    if lines:
        print("\n" + "\n".join(lines))
