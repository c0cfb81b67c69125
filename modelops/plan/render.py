"""Plans for people (text, Markdown for pull requests) and for machines (canonical JSON)."""

from __future__ import annotations

import json
from typing import Any

from modelops.escape import md_code, md_fence, md_text, one_line
from modelops.plan.model import Plan, RecipePlan, Step
from modelops.plan.training import ASSUMED_MFU, STEP_OVERHEAD_S


def plan_json(plan: Plan) -> str:
    """Byte-identical for the same recipe and inputs: sorted keys, fixed indentation."""
    return json.dumps(plan.to_dict(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _count(n: int | None) -> str:
    if n is None:
        return "?"
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def _hardware_line(r: RecipePlan) -> str:
    hw = r.hardware
    nodes = f" × {hw['nodes']} nodes" if hw["nodes"] > 1 else ""
    per_device = f"{hw['memory_gb']:g} GiB per device, profile `{hw['name']}`"
    return f"{hw['label']} × {hw['processes_per_node']}{nodes} ({per_device})"


def _training_lines(t: dict[str, Any]) -> list[str]:
    lines = [
        f"precision {t['precision']}, strategy {t['distributed']}, attention {t['attn_implementation']}, "
        f"gradient checkpointing {'on' if t['gradient_checkpointing'] else 'off'}",
        f"batch: {t['per_device_batch']} per device × {t['gradient_accumulation']} accumulation × "
        f"{t['devices']} devices = {t['global_batch']} global",
        f"parameters: {_count(t['total_params'])} total, {_count(t['trainable_params'])} trained",
    ]
    memory = t.get("memory_gib")
    if memory:
        parts = ", ".join(f"{k} {v:g}" for k, v in memory.items() if k != "total")
        lines.append(
            f"peak memory estimate: {memory['total']:g} GiB of {t['memory_capacity_gib']:g} GiB per device ({parts})"
        )
    else:
        lines.append("peak memory estimate: unknown (model not in the catalog)")
    if "seconds_per_step_estimate" in t:
        lines.append(
            f"time estimate: ~{t['seconds_per_step_estimate']:g} s per optimizer step "
            f"(6·N FLOPs per token at {ASSUMED_MFU:.0%} of peak throughput, + {STEP_OVERHEAD_S:g} s per step)"
        )
    if "steps_estimate" in t:
        wall = t.get("wall_seconds_estimate")
        lines.append(
            f"steps: {t['steps_estimate']:,} ({t['steps_basis']})"
            + (f", wall time ≈ {_duration(wall)} with start-up" if wall is not None else "")
        )
    return lines + [f"why: {reason}" for reason in t["reasons"]]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _inputs(step: Step) -> str:
    return ", ".join(i.label for i in step.inputs) or "-"


def _cache_text(cache: dict) -> str:
    ways = [way for way in ("pull", "push") if cache[way]]
    return f"{cache['url']} ({' and '.join(ways) or 'neither pull nor push'})"


def _network_lines(r: RecipePlan) -> list[str]:
    if not r.network:
        return ["network: none (nothing leaves this machine)"]
    return ["network:"] + [f"  {d['key']}: {d['where']} — {d['what']}" for d in r.network]


def plan_text(plan: Plan) -> str:
    """For a terminal: every value on its own line with control characters shown, never acted on."""
    out: list[str] = []
    for r in plan.recipes:
        out.append(f"recipe {r.name} ({r.file}) — task {r.task}, run directory {r.workdir}")
        out.append(f"  hardware: {_hardware_line(r)}")
        if r.model:
            out.append(
                f"  model: {r.model['base']}"
                + (f", {_count(r.model.get('params'))} parameters" if r.model.get("params") else "")
            )
        if r.training:
            out += [f"  {line}" for line in _training_lines(r.training)]
        if r.task == "regression" and r.hardware["engine"] == "local":
            from modelops.forecast.parallel import describe_policy

            out.append(f"  LightGBM threads: {describe_policy(r.hardware['threads'])}")
        out += [f"  {line}" for line in _network_lines(r)]
        out += [f"  override: --set {one_line(o)}" for o in r.overrides]
        out += [f"  gate: {one_line(g)}" for g in r.gates]
        out += [f"  cache: {one_line(_cache_text(r.cache))}"] if r.cache else []
        out += [f"  note: {note}" for note in r.notes]
        for n, step in enumerate(r.steps, 1):
            out.append(f"  {n}. {step.short_id} [{step.kind}] {step.fingerprint[:12]} — {step.title}")
            if step.summary:
                out.append("       " + ", ".join(f"{k}: {v}" for k, v in step.summary.items()))
            out.append(f"       in:  {_inputs(step)}")
            out.append(f"       out: {', '.join(step.outputs)} in {step.directory}/")
            out.append(f"       run: {step.command_line()}")
            for rank, command in enumerate(step.node_commands):
                out.append(f"       node {rank}: {' '.join(command)}")
        out.append("")
    out = [one_line(line) for line in out] + [w.text() for w in plan.warnings]
    return "\n".join(out).rstrip() + "\n"


def plan_markdown(plan: Plan) -> str:
    """For a pull-request comment: recipe values in code spans and fences they cannot close, so that no
    value starts a heading, a link, an image, HTML or an @mention."""
    out: list[str] = []
    for r in plan.recipes:
        out.append(f"### {md_code(r.name)} — {r.task} ({md_code(r.file)})")
        out.append("")
        out.append(f"- **Hardware:** {md_text(_hardware_line(r))}")
        if r.model:
            out.append(
                f"- **Model:** {md_code(str(r.model['base']))}"
                + (f", {_count(r.model.get('params'))} parameters" if r.model.get("params") else "")
            )
        if r.training:
            out += [f"- {md_text(line)}" for line in _training_lines(r.training)]
        out.append("- **Network:** " + ("none (nothing leaves this machine)" if not r.network else ""))
        out += [f"  - {md_code(d['key'])}: {md_code(d['where'])} — {md_text(d['what'])}" for d in r.network]
        out += [f"- **Override:** {md_code('--set ' + o)}" for o in r.overrides]
        out += [f"- **Gate:** {md_code(g)}" for g in r.gates]
        out += [f"- **Cache:** {md_code(_cache_text(r.cache))}"] if r.cache else []
        out += [f"- Note: {md_text(note)}" for note in r.notes]
        out += ["", "| # | step | kind | key parameters | fingerprint |", "|---|---|---|---|---|"]
        for n, step in enumerate(r.steps, 1):
            params = "; ".join(f"{k}: {v}" for k, v in step.summary.items()) or step.title
            out.append(
                f"| {n} | {md_code(step.short_id, True)} | `{step.kind}` | {md_text(params)} | "
                f"`{step.fingerprint[:12]}` |"
            )
        out += ["", "<details><summary>Commands and generated configs</summary>", ""]
        out += md_fence("\n".join(step.command_line() for step in r.steps), "sh")
        for step in r.steps:
            for name, text in sorted(step.files.items()):
                lang = "json" if name.endswith(".json") else "yaml"
                out += ["", f"File {md_code(f'{step.directory}/{name}')}:", ""] + md_fence(text, lang)
        out += ["", "</details>", ""]
    if plan.warnings:
        out += ["**Warnings**", ""] + [w.markdown() for w in plan.warnings]
    return "\n".join(out).rstrip() + "\n"
