"""`modelops init KIND`: a commented starter recipe that validates and plans as written, with a few sample
rows of data beside it when the data file named does not exist yet (to be replaced by the real data)."""

from __future__ import annotations

import json
from pathlib import Path

from modelops.fsutil import write_atomically
from modelops.templates import render

KINDS = ("regression", "pretrain", "sft", "dpo")
DEFAULT_BASE = {"pretrain": "Qwen/Qwen2.5-0.5B", "sft": "Qwen/Qwen2.5-0.5B-Instruct", "dpo": "Qwen/Qwen2.5-0.5B-Instruct"}
DEFAULT_DATA = {"regression": "data/series.csv", "pretrain": "data/corpus.txt", "sft": "data/chats.jsonl",
                "dpo": "data/preferences.jsonl"}


def _sample(kind: str) -> str:
    if kind == "regression":
        rows = ["series,time,value"] + [f"s{s},2026-01-{1 + h // 24:02d} {h % 24:02d}:00,{(h * (s + 2)) % 17}"
                                        for s in range(3) for h in range(72)]
        return "\n".join(rows) + "\n"
    if kind == "pretrain":
        return "".join(f"Sample document {i}: replace this file with your own text, one document per line.\n" for i in range(20))
    if kind == "sft":
        chat = [{"role": "user", "content": "What is overfitting?"},
                {"role": "assistant", "content": "Learning the noise of the training data instead of the signal."}]
        return "".join(json.dumps({"messages": chat}) + "\n" for _ in range(3))
    pair = {"prompt": "What is overfitting?", "chosen": "Fitting noise instead of signal.", "rejected": "A kind of GPU."}
    return "".join(json.dumps(pair) + "\n" for _ in range(3))


def write_starter(kind: str, out: Path, name: str, base: str | None, data: str | None, hardware: str) -> list[Path]:
    """Write the starter (and sample data when missing); returns what was written. Refuses to overwrite."""
    if out.exists():
        raise FileExistsError(f"{out} exists; choose another file with --out")
    data = data or DEFAULT_DATA[kind]
    text = render(f"init/{kind}.yaml.j2", file=out.name, name=name, data=data, hardware=hardware,
                  base=base or DEFAULT_BASE.get(kind, ""))
    written = []
    data_path = out.parent / data
    if not data_path.exists():
        data_path.parent.mkdir(parents=True, exist_ok=True)
        data_path.write_text(_sample(kind), encoding="utf-8")
        written.append(data_path)
    write_atomically(out, text)
    return [out, *written]
