"""Step `lm_data`: load, convert, clean and split a language model's data (modelops/lm/data.py) into
train.jsonl and validation.jsonl, with counts of everything dropped."""

from __future__ import annotations

import json
import random
import sys

from modelops.lm.data import TokenLimit, clean, load
from modelops.steps.runtime import Spec, main


def run(spec: Spec) -> None:
    p = spec.params
    if p.remote_train:
        raise SystemExit(
            f"remote dataset `{p.remote_train}`: fetching datasets is not supported by this step yet; "
            "download it and point `data.train.path` at the file"
        )
    data, fmt = p.data, p.format
    counts = {
        k: 0
        for k in (
            "bad_rows",
            "dropped_empty",
            "dropped_short",
            "dropped_long",
            "dropped_duplicates",
            "dropped_near_duplicates",
            "dropped_over_max_tokens",
            "truncated_over_max_tokens",
        )
    }
    samples: list[str] = []
    rows = load(spec.inputs["train"], fmt, data.train.text_field, data.on_bad_rows, counts, samples)
    counts["read"] = len(rows) + counts["bad_rows"]
    rows = clean(rows, data.clean, counts)
    if "validation" in spec.inputs:
        val_fmt = data.validation.format or fmt
        validation = clean(
            load(spec.inputs["validation"], val_fmt, "text", data.on_bad_rows, counts, samples), data.clean, counts
        )
        train = rows
    else:
        order = list(range(len(rows)))
        random.Random(p.seed).shuffle(order)
        size = max(1, round(len(rows) * p.validation_fraction)) if len(rows) > 1 else 0
        held = set(order[:size])
        validation = [rows[i] for i in sorted(held)]
        train = [row for i, row in enumerate(rows) if i not in held]
    if data.clean.max_tokens:
        limit = TokenLimit(spec.inputs["tokenizer"], data.clean.max_tokens, data.clean.over_max_tokens)
        train, validation = limit.apply(train, counts), limit.apply(validation, counts)
    if not train:
        raise SystemExit("no training rows are left after cleaning")
    for column in p.columns:   # read by GRPO's rewards
        missing = sum(column not in row for row in train + validation)
        if missing:
            raise SystemExit(f"{missing} rows have no `{column}` column, which `task.rewards` reads")
    for name, part in (("train.jsonl", train), ("validation.jsonl", validation)):
        with (spec.out / name).open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in part)
    stats = counts | {"train": len(train), "validation": len(validation), "bad_row_samples": samples}
    spec.write_json("stats.json", stats)
    metrics = {"train": len(train), "validation": len(validation)} | {k: v for k, v in counts.items() if v}
    spec.write_json("metrics.json", metrics)
    spec.emit(type="metrics", **metrics)
    print(
        f"train {len(train)} rows, validation {len(validation)} rows; "
        + ", ".join(f"{k} {v}" for k, v in counts.items() if v and k != "read"),
        file=sys.stdout,
    )


if __name__ == "__main__":
    main(run)
