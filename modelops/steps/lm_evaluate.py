"""Step `lm_evaluate`: validation loss and perplexity of the trained model (on rows with answers), the win
rate of chosen over rejected answers (log-likelihood) on held-out preference pairs, and greedy sample
generations of the model before and after training on the same held-out prompts."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from modelops import jsonlines
from modelops.lm.rows import answer_pairs, taught
from modelops.lm.rows import prompt as asked
from modelops.lm.trained import load_trained
from modelops.steps.runtime import Spec, main

SAMPLES, NEW_TOKENS = 3, 32


def _ids(tokenizer, row: dict[str, Any], max_length: int) -> tuple[list[int], int]:
    """Token ids of a row and where its scored part starts (the answer, for conversations)."""
    conversation = taught(row)
    if conversation is None:
        return (tokenizer(row["text"])["input_ids"][:max_length] if "text" in row else []), 1   # [] : nothing taught
    prompt = tokenizer.apply_chat_template(conversation[:-1], add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template(conversation, tokenize=False)
    start = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    return tokenizer(full, add_special_tokens=False)["input_ids"][:max_length], max(1, start)


def _answer_logprob(model, tokenizer, prompt: list[dict], answer: list[dict], max_length: int) -> float:
    row = {"prompt": prompt, "chosen": answer}
    ids, start = _ids(tokenizer, row, max_length)
    return -_nll(model, ids, start)[0]


def _nll(model, ids: list[int], start: int) -> tuple[float, int]:
    """Summed negative log-likelihood of ids[start:] and how many tokens that is."""
    import torch

    if len(ids) <= start:
        return 0.0, 0
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, :-1].float()
    targets = torch.tensor(ids[1:])
    losses = torch.nn.functional.cross_entropy(logits, targets, reduction="none")[start - 1:]
    return float(losses.sum()), int(losses.numel())


def _sample(model, tokenizer, row: dict[str, Any]) -> dict[str, str]:
    import torch

    if "text" in row:
        prompt = row["text"][:20]
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    else:
        prompt = tokenizer.apply_chat_template(asked(row), add_generation_prompt=True, tokenize=False)
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        output = model.generate(ids, max_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return {"prompt": prompt, "completion": tokenizer.decode(output[0, ids.shape[1]:], skip_special_tokens=True)}


def _samples_before(base: Path | None, tokenizer, rows: list[dict]) -> list[str | None]:
    """The model training started from, answering the same prompts (the trained model's tokenizer makes
    them, so both see the same ids)."""
    if base is None:
        return [None] * len(rows)
    model, _ = load_trained(base, None)
    return [_sample(model, tokenizer, row)["completion"] for row in rows]


def run(spec: Spec) -> None:
    model, tokenizer = load_trained(spec.inputs.get("model") or spec.inputs["adapter"], spec.inputs.get("base"))
    max_length = spec.params.max_length
    rows = jsonlines.load(Path(spec.inputs["validation.jsonl"]))
    if not rows:
        raise SystemExit("the validation split is empty: set `data.validation` to evaluate")
    total, count = 0.0, 0
    for row in rows:
        loss, n = _nll(model, *_ids(tokenizer, row, max_length))
        total, count = total + loss, count + n
    metrics: dict[str, Any] = {}
    if count:   # prompts alone (GRPO) have no answer to score
        metrics = {"validation_loss": total / count, "validation_tokens": count}
        metrics["perplexity"] = math.exp(min(metrics["validation_loss"], 50))
    pairs = answer_pairs(rows)
    if pairs:
        wins = sum(_answer_logprob(model, tokenizer, prompt, better, max_length)
                   > _answer_logprob(model, tokenizer, prompt, worse, max_length) for prompt, better, worse in pairs)
        metrics |= {"preference_win_rate": wins / len(pairs), "preference_pairs": len(pairs)}
    samples = [_sample(model, tokenizer, row) for row in rows[:SAMPLES]]
    del model                                             # one model in memory at a time
    for sample, before in zip(samples, _samples_before(spec.inputs.get("base"), tokenizer, rows[:SAMPLES]),
                              strict=True):
        sample["before"] = before
    with (spec.out / "samples.jsonl").open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(s, ensure_ascii=False) + "\n" for s in samples)
    spec.write_json("metrics.json", metrics)
    print(", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()))
    for sample in samples:
        print(f"sample: {sample['prompt'][-40:]!r} → {sample['completion'][:60]!r} "
              f"(before training: {str(sample['before'])[:60]!r})")


if __name__ == "__main__":
    main(run)
