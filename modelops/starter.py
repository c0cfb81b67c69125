"""`modelops init KIND`: a commented starter recipe that validates and plans as written, with a few sample
rows of data beside it when the data file named does not exist yet (to be replaced by the real data)."""

from __future__ import annotations

import json
from pathlib import Path

from modelops.fsutil import write_atomically
from modelops.task_kinds import task_kind
from modelops.templates import render

SCHEMA = "recipe.schema.json"
TOPICS = [
    ("overfitting", "Learning the noise of the training data instead of the signal."),
    ("a learning rate", "The size of each parameter update."),
    ("a validation set", "Held-out data used to choose settings and to stop training."),
    ("gradient descent", "Moving the parameters against the gradient of the loss, step by step."),
    ("a tokenizer", "The mapping between text and the integer ids a model reads."),
    ("quantisation", "Storing weights with fewer bits to save memory and time."),
    ("early stopping", "Ending training when the validation loss stops improving."),
    ("a baseline", "A simple model that a real one must beat to be worth it."),
]


def _sample(kind: str) -> str:
    """A few rows in the kind's format, all different (so that the default dedupe keeps them) and enough of
    them for the validation split to hold at least one."""
    if kind == "regression":
        rows = ["series,time,value"] + [
            f"s{s},2026-01-{1 + h // 24:02d} {h % 24:02d}:00,{(h * (s + 2)) % 17}" for s in range(3) for h in range(72)
        ]
        return "\n".join(rows) + "\n"
    if kind == "pretrain":
        return "".join(
            f"Sample document {i}: replace this file with your own text, one document per line.\n" for i in range(20)
        )
    if kind == "sft":
        return "".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": f"What is {topic}? ({n})"},
                        {"role": "assistant", "content": answer},
                    ]
                }
            )
            + "\n"
            for n in range(3)
            for topic, answer in TOPICS
        )
    if kind == "kto":
        return "".join(
            json.dumps({"prompt": f"What is {topic}? ({n})", "completion": text, "label": good}) + "\n"
            for n in range(3)
            for topic, answer in TOPICS
            for text, good in ((answer, True), (f"I do not know what {topic} is.", False))
        )
    if kind == "grpo":
        return "".join(
            json.dumps({"prompt": f"What is {a} + {b}? Think inside <think></think>, then write `Answer: <number>`.",
                        "answer": str(a + b)}) + "\n"
            for a in range(3, 11) for b in (4, 9, 17)
        )
    return "".join(
        json.dumps(
            {"prompt": f"What is {topic}? ({n})", "chosen": answer, "rejected": f"I do not know what {topic} is."}
        )
        + "\n"
        for n in range(3)
        for topic, answer in TOPICS
    )


def write_starter(
    kind: str, out: Path, name: str, base: str | None, data: str | None, hardware: str, from_scratch: bool = False
) -> list[Path]:
    """Write the starter, the recipe JSON Schema its editor comment names, and sample data, each only when
    missing; returns what was written. Refuses to overwrite the recipe."""
    from modelops.recipe.schema import recipe_json_schema

    if out.exists():
        raise FileExistsError(f"{out} exists; choose another file with --out")
    data = data or task_kind(kind).starter_data
    text = render(
        f"init/{kind}.yaml.j2",
        file=out.name,
        name=name,
        data=data,
        hardware=hardware,
        base=base or task_kind(kind).starter_base or "",
        schema=SCHEMA,
        from_scratch=from_scratch,
    )
    written = []
    data_path = out.parent / data
    if not data_path.exists():
        data_path.parent.mkdir(parents=True, exist_ok=True)
        data_path.write_text(_sample(kind), encoding="utf-8")
        written.append(data_path)
    schema = out.parent / SCHEMA
    if not schema.exists():
        write_atomically(schema, json.dumps(recipe_json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n")
        written.append(schema)
    write_atomically(out, text)
    return [out, *written]
