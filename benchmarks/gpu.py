"""Training on real hardware against what the plan promises: for model shapes from modelops' catalog
(random-initialised, so nothing comes from a hub), a tokenizer trained here and generated text, each
variant is planned (`modelops plan -f json`: peak memory and seconds per step estimated) and applied up to
its training step, whose metrics hold what happened (peak memory, seconds per step, samples per second).
Reports per variant: real tokens per second, MFU (6·N·tokens/s over the device's peak bf16 FLOPs from the
hardware catalog, N = parameters of the shape), and measured / estimated for memory and step time.

    .venv/bin/python benchmarks/gpu.py                       # on a CUDA machine: 0.5B- and 1.5B-shaped runs
    .venv/bin/python benchmarks/gpu.py --size tiny --out r.json   # anywhere, seconds (the test suite runs it)

Variants: LoRA with packing and full fine-tuning everywhere; QLoRA (bitsandbytes NF4) and Liger kernels on
CUDA only. Targets (benchmarks/README.md): peak memory within 20 % of the estimate, step time within 50 %.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHAPES = {   # modelops/catalog/models.json shapes, and the tokenizer vocabulary trained for them
    "tiny": {"hidden_size": 128, "num_layers": 4, "num_heads": 4, "intermediate_size": 256, "vocab": 800},
    "0.5b": {"hidden_size": 896, "num_layers": 24, "num_heads": 14, "num_kv_heads": 2, "intermediate_size": 4864,
             "vocab": 32000},
    "1.5b": {"hidden_size": 1536, "num_layers": 28, "num_heads": 12, "num_kv_heads": 2, "intermediate_size": 8960,
             "vocab": 32000},
}
WORDS = ("model data train loss token batch layer memory device gradient learning rate optimizer adapter "
         "sequence attention kernel throughput precision checkpoint").split()


def _corpus(path: Path, lines: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    path.write_text("\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 120)))
                              for _ in range(lines)) + "\n", encoding="utf-8")


def _recipe(name: str, shape: dict, adapter: str, steps: int, batch: int, length: int, hardware: str,
            liger: bool) -> str:
    init = {k: v for k, v in shape.items() if k != "vocab"} | {"architecture": "qwen2",
                                                                "max_position_embeddings": max(length, 256)}
    return f"""version: 1
name: {name}
seed: 1
data: {{train: {{path: corpus.txt, format: text}}, validation: {{fraction: 0.02}}}}
model:
  init: {json.dumps(init)}
  tokenizer: {{train: {{vocab_size: {shape['vocab']}}}}}
task:
  kind: pretrain
  adapter: {{type: {adapter}}}
  max_steps: {steps}
  batch_size: {batch}
  max_length: {length}
  liger_kernels: {str(liger).lower()}
  eval: {{every_steps: 100000}}
  save: {{every_minutes: null}}
hardware: {hardware}
"""


def _modelops(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modelops", *args], cwd=cwd, capture_output=True, text=True)


def run_variant(work: Path, name: str, recipe: str, length: int, peak_tflops: float) -> dict:
    (work / f"{name}.yaml").write_text(recipe, encoding="utf-8")
    planned = _modelops("plan", f"{name}.yaml", "-f", "json", cwd=work)
    if planned.returncode:
        return {"variant": name, "error": planned.stderr.strip()[-500:]}
    plan = json.loads(planned.stdout)["recipes"][-1]
    training = plan["training"]
    started = time.monotonic()
    applied = _modelops("apply", f"{name}.yaml", "--until", f"{name}/train", "-q", cwd=work)
    if applied.returncode:
        return {"variant": name, "error": (applied.stdout + applied.stderr).strip()[-800:]}
    [out] = (work / "runs" / name).glob("train-*/out")
    metrics = json.loads((out / "metrics.json").read_text())
    tokens_per_second = training["global_batch"] * length / metrics["seconds_per_step"]   # packed: all full
    params = plan["model"]["params"]
    estimate = training.get("memory_gib", {}).get("total")
    return {
        "variant": name, "device": plan["hardware"]["label"], "parameters": params,
        "tokens_per_second": round(tokens_per_second, 1),
        "mfu": round(6 * params * tokens_per_second / (peak_tflops * 1e12), 4),
        "peak_memory_gib": metrics["peak_memory_gib"], "memory_estimate_gib": estimate,
        "memory_ratio": round(metrics["peak_memory_gib"] / estimate, 3) if estimate else None,
        "seconds_per_step": metrics["seconds_per_step"],
        "step_estimate_s": training.get("seconds_per_step_estimate"),
        "step_ratio": round(metrics["seconds_per_step"] / training["seconds_per_step_estimate"], 3)
        if training.get("seconds_per_step_estimate") else None,
        "apply_seconds": round(time.monotonic() - started, 1),
    }


def main() -> None:
    import torch

    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=[*SHAPES, "all"], default="all" if cuda else "tiny")
    parser.add_argument("--hardware", default="h100x1" if cuda else "cpu", help="the planner's hardware profile")
    parser.add_argument("--steps", type=int, default=30 if cuda else 4)
    parser.add_argument("--variants", default="lora,full,qlora,liger" if cuda else "lora,full")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    catalog = json.loads((ROOT / "modelops" / "catalog" / "hardware.json").read_text())
    gpu = "cpu" if not cuda else "h100-80g" if "h100" in args.hardware else args.hardware.rstrip("x0123456789")
    peak = float(catalog.get(gpu, catalog["cpu"])["tflops"])
    sizes = [s for s in SHAPES if s != "tiny"] if args.size == "all" else [args.size]
    batch, length = (16, 1024) if cuda else (4, 128)
    results = []
    with tempfile.TemporaryDirectory(prefix="modelops-gpu-bench-") as folder:
        work = Path(folder)
        _corpus(work / "corpus.txt", 3000 if cuda else 200)
        for size in sizes:
            for variant in args.variants.split(","):
                adapter = {"lora": "lora", "full": "none", "qlora": "qlora", "liger": "lora"}[variant]
                name = f"bench-{size.replace('.', '')}-{variant}"
                recipe = _recipe(name, SHAPES[size], adapter, args.steps, batch, length, args.hardware,
                                 variant == "liger")
                result = run_variant(work, name, recipe, length, peak)
                results.append(result)
                print(json.dumps(result), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
