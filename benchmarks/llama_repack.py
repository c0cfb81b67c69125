"""What turning llama.cpp's weight repack off costs (modelops turns it off where the library has AMX, whose
repack crashes on quantised GGUFs: llama.cpp#20824). A seeded Llama of ~100M parameters (hidden 1024, 8
layers, rows divisible by 256 so that k-quants and repacked layouts apply) is built, converted and quantised
through `modelops apply`, then each GGUF is loaded with the repack on and off: prompt processing (a batch of
256 tokens) and generation (64 tokens, greedy) in tokens per second, medians of 3, one process per case.
Run: .venv/bin/python benchmarks/llama_repack.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUANTS = ["q8_0", "q4_0", "q4_k_m"]
RECIPE = textwrap.dedent(f"""
    version: 1
    name: repack-bench
    seed: 1
    data:
      train: {{path: corpus.txt, format: text}}
    model:
      init: {{architecture: llama, hidden_size: 1024, num_layers: 8, num_heads: 16, intermediate_size: 2816,
             max_position_embeddings: 512}}
      tokenizer: {{train: {{vocab_size: 800}}}}
      chat_template: chatml
    task:
      kind: pretrain
      max_steps: 1
      batch_size: 4
      max_length: 64
    hardware: cpu
    deploy:
      target: llama-cpp
      quantize: {QUANTS}
      parity: {{min_top1: 0}}
    """).lstrip()

MEASURE = """
import json, statistics, sys, time
from llama_cpp import Llama
from modelops.deploy.llama_runtime import configure
decision = configure()
llm = Llama(sys.argv[1], n_ctx=512, n_batch=512, verbose=False, seed=0)
prompt = [(i * 37) % 700 + 50 for i in range(256)]
eos = llm.token_eos()
prefill, generate = [], []
for _ in range(3):
    llm.reset()
    started = time.perf_counter(); llm.eval(prompt); prefill.append(len(prompt) / (time.perf_counter() - started))
    started, n = time.perf_counter(), 0
    never_end = lambda ids, scores: (scores.__setitem__(eos, -1e9), scores)[1]
    for token in llm.generate(prompt, temp=0, reset=True, logits_processor=never_end):
        n += 1
        if n == 64:
            break
    generate.append(n / (time.perf_counter() - started))
llm.close()
print(json.dumps({"repack": decision.enabled, "prefill": statistics.median(prefill),
                  "generate": statistics.median(generate)}))
"""


def measure(gguf: Path, setting: str) -> dict:
    env = {**os.environ, "MODELOPS_LLAMA_REPACK": setting}
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(gguf)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    import llama_cpp

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copy(ROOT / "examples" / "tiny-zh" / "corpus.txt", folder / "corpus.txt")
        (folder / "bench.yaml").write_text(RECIPE, encoding="utf-8")
        subprocess.run(
            [sys.executable, "-m", "modelops", "apply", "bench.yaml", "-q"],
            cwd=folder,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        run = folder / "runs" / "repack-bench"
        print(f"llama.cpp: {llama_cpp.llama_print_system_info().decode().strip()}\n")
        print(
            "| GGUF | repack on: prompt tok/s | off: prompt tok/s | off ÷ on | on: generate tok/s "
            "| off: generate tok/s | off ÷ on |\n|---|---:|---:|---:|---:|---:|---:|"
        )
        for quant in QUANTS:
            [gguf] = run.glob(f"quantize-{quant}-*/out/model-{quant}.gguf")
            on, off = measure(gguf, "on"), measure(gguf, "off")
            print(
                f"| {quant} | {on['prefill']:.0f} | {off['prefill']:.0f} | {off['prefill'] / on['prefill']:.2f} "
                f"| {on['generate']:.1f} | {off['generate']:.1f} | {off['generate'] / on['generate']:.2f} |"
            )


if __name__ == "__main__":
    main()
