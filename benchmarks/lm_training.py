"""Language-model training on this CPU, side by side with hand-written TRL.

1. Packing: tokens per second (real tokens, not padding) of TRL's SFTTrainer with padding-free packing
   (modelops' default) vs its padded batches (TRL's default). Target: >= 1.5x.
2. Apply overhead: `modelops apply --until train` of an SFT recipe (data step, accelerate launch, runner)
   vs a hand-written TRL script doing the same training in one `python` process. Target: <= 1.10x.

Both train a LoRA on a tiny Llama pretrained here from the bundled corpus (hidden 128, 4 layers).
Run: .venv/bin/python benchmarks/lm_training.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS, BATCH, MAX_LENGTH = 60, 8, 256
PRETRAIN = """version: 1
name: bench-pre
seed: 1
data: {train: {path: corpus.txt, format: text}, validation: {fraction: 0.1}}
model:
  init: {architecture: llama, hidden_size: 128, num_layers: 4, num_heads: 4, intermediate_size: 256,
         max_position_embeddings: 512}
  tokenizer: {train: {vocab_size: 800}}
  chat_template: chatml
task: {kind: pretrain, max_steps: 30, learning_rate: 3.0e-3, batch_size: 16, max_length: 128}
hardware: cpu
"""
SFT = f"""version: 1
name: bench-sft
seed: 1
data: {{train: {{path: sft-large.jsonl, format: messages}}, validation: {{fraction: 0.05}}}}
model: {{base: {{from: pre.yaml}}}}
task:
  kind: sft
  adapter: {{type: lora, r: 8, alpha: 16}}
  max_steps: {STEPS}
  learning_rate: 2.0e-3
  batch_size: {BATCH}
  max_length: {MAX_LENGTH}
  save: {{every_steps: 1000}}
hardware: cpu
"""
SCRIPT = """
import sys, time
from datasets import load_dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer

model_dir, data_file, out, packing = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "packed"
tokenizer = AutoTokenizer.from_pretrained(model_dir)
model = AutoModelForCausalLM.from_pretrained(model_dir)
data = load_dataset("json", data_files=data_file)["train"]
config = SFTConfig(output_dir=out, per_device_train_batch_size={batch}, max_steps={steps}, learning_rate=2e-3,
                   max_length={max_length}, packing=packing, padding_free=packing, use_cpu=True, bf16=False,
                   gradient_checkpointing=False, save_strategy="no", report_to="none", logging_steps=10, seed=1,
                   assistant_only_loss=True, disable_tqdm=True)
trainer = SFTTrainer(model=model, args=config, train_dataset=data, processing_class=tokenizer,
                     peft_config=LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM"))
tokens = [0]
collate = trainer.data_collator
def counting(features):
    batch = collate(features)
    tokens[0] += int(batch["attention_mask"].sum()) if "attention_mask" in batch else int(batch["input_ids"].numel())
    return batch
trainer.data_collator = counting
started = time.perf_counter()
trainer.train()
seconds = time.perf_counter() - started
trainer.save_model(out + "/adapter")
print("RESULT", tokens[0], seconds)
""".format(batch=BATCH, steps=STEPS, max_length=MAX_LENGTH)


def _modelops(folder: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "modelops", *args, "-q"], cwd=folder, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _script(folder: Path, model: Path, mode: str) -> tuple[float, int, float]:
    """(wall seconds of the whole process, real tokens trained, training seconds)."""
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            str(folder / "train.py"),
            str(model),
            str(folder / "train.jsonl"),
            str(folder / f"script-{mode}"),
            mode,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    _, tokens, seconds = next(line for line in result.stdout.splitlines() if line.startswith("RESULT")).split()
    return wall, int(tokens), float(seconds)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copy(ROOT / "examples" / "tiny-zh" / "corpus.txt", folder / "corpus.txt")
        rows = (ROOT / "examples" / "tiny-zh" / "sft.jsonl").read_text(encoding="utf-8").splitlines()
        (folder / "sft-large.jsonl").write_text(
            "\n".join(
                json.dumps(
                    {
                        "messages": [
                            m | ({"content": m["content"] * (1 + i % 4)} if m["role"] == "assistant" else {})
                            for m in json.loads(row)["messages"]
                        ]
                    },
                    ensure_ascii=False,
                )
                for i in range(12)
                for row in rows
            )
            + "\n",
            encoding="utf-8",
        )
        (folder / "pre.yaml").write_text(PRETRAIN, encoding="utf-8")
        (folder / "sft.yaml").write_text(SFT, encoding="utf-8")
        (folder / "train.py").write_text(textwrap.dedent(SCRIPT), encoding="utf-8")
        _modelops(folder, "apply", "pre.yaml")
        _modelops(folder, "apply", "sft.yaml", "--until", "bench-sft/data")
        [model] = (folder / "runs" / "bench-pre").glob("train-*/out/model")
        [data] = (folder / "runs" / "bench-sft").glob("data-*/out/train.jsonl")
        shutil.copy(data, folder / "train.jsonl")

        padded = _script(folder, model, "padded")
        packed = _script(folder, model, "packed")
        modelops_wall = _modelops(folder, "apply", "sft.yaml", "--until", "bench-sft/train")
        print(f"SFT LoRA, {STEPS} steps × batch {BATCH}, max_length {MAX_LENGTH}, {len(rows) * 12} conversations\n")
        print("| TRL SFTTrainer | real tokens | training s | tokens/s |\n|---|---:|---:|---:|")
        for name, (_, tokens, seconds) in (
            ("padded batches (TRL default)", padded),
            ("packed, padding-free (modelops default)", packed),
        ):
            print(f"| {name} | {tokens:,} | {seconds:.1f} | {tokens / seconds:,.0f} |")
        print(f"\npacking speed-up: {(packed[1] / packed[2]) / (padded[1] / padded[2]):.2f}x tokens/s\n")
        print("| run | wall s |\n|---|---:|")
        print(f"| hand-written TRL script (packed, one process) | {packed[0]:.1f} |")
        print(f"| `modelops apply --until train` (data step + accelerate launch + runner) | {modelops_wall:.1f} |")
        print(f"\napply overhead: {modelops_wall / packed[0]:.2f}x the script")


if __name__ == "__main__":
    main()
