"""Step `gguf_parity`: does each GGUF compute what the Hugging Face model computes? On held-out validation
prompts, the same token ids go through both; per position, next-token agreement (the GGUF's argmax is the HF
model's, or ties with it within 0.05 nats) and the KL divergence of the GGUF's distribution from the HF one,
and perplexity over the answers. Tokenisation is compared separately (llama.cpp's tokenizer vs the HF one on
the same text). A conversion whose agreement falls below the threshold fails the step."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from modelops import jsonlines
from modelops.lm.rows import kind, taught
from modelops.lm.trained import load_trained
from modelops.steps.runtime import Spec, main

EXACT_TYPES = {"f32", "f16", "bf16", "q8_0"}  # conversions expected to agree almost everywhere
DEFAULT_MIN_TOP1 = 0.98
TIE = 0.05  # nats: where the HF model's two best tokens are this close, either is its greedy choice


def _texts(tokenizer, rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Each row as the text the model sees, and the character where its answer starts (0 for plain text)."""
    texts = []
    for row in rows:
        conversation = taught(row)
        if conversation is None:
            if "text" in row:
                texts.append((row["text"], 0))
            elif kind(row) == "prompt":   # a prompt alone (GRPO's data): its own tokens are compared
                asked = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
                texts.append((asked, 0))
            continue
        prompt = tokenizer.apply_chat_template(conversation[:-1], add_generation_prompt=True, tokenize=False)
        full = tokenizer.apply_chat_template(conversation, tokenize=False)
        texts.append((full, len(prompt) if full.startswith(prompt) else 0))
    return texts


def _gguf_logits(llm, ids: list[int]):
    import numpy as np

    llm.reset()
    llm.eval(ids)
    return np.array(llm.scores[: len(ids)], dtype=np.float64)


def _compare(reference_logits, gguf_logits, ids: list[int], answer_from: int) -> dict[str, float]:
    import numpy as np

    def log_softmax(x):
        x = x - x.max(axis=-1, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))

    p, q = log_softmax(reference_logits), log_softmax(gguf_logits)
    kl = (np.exp(p) * (p - q)).sum(axis=-1)
    targets = np.array(ids[1:])
    scored = slice(max(answer_from, 1) - 1, len(ids) - 1)
    picked = q.argmax(-1)
    near_tie = p[np.arange(len(ids)), picked] >= p.max(-1) - TIE
    return {
        "agree": float(near_tie.sum()),
        "exact": float((p.argmax(-1) == picked).sum()),
        "positions": len(ids),
        "kl": float(kl.sum()),
        "nll_gguf": float(-q[:-1][np.arange(len(targets)), targets][scored].sum()),
        "nll_hf": float(-p[:-1][np.arange(len(targets)), targets][scored].sum()),
        "scored": float(len(targets[scored])),
    }


def run(spec: Spec) -> None:
    import torch
    from llama_cpp import Llama

    from modelops.deploy.llama_runtime import configure

    print(f"llama.cpp weight repack: {configure().reason}")
    model, tokenizer = load_trained(spec.inputs["reference"], spec.inputs.get("base"))
    model = model.float()
    rows = jsonlines.load(Path(spec.inputs["validation.jsonl"]))
    texts = _texts(tokenizer, rows[: spec.params.prompts])
    if not texts:
        raise SystemExit("the validation split is empty: parity needs held-out prompts")
    encoded = []
    for text, answer_at in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        answer_from = len(tokenizer(text[:answer_at], add_special_tokens=False)["input_ids"]) if answer_at else 1
        encoded.append((text, ids, answer_from))
    with torch.no_grad():
        reference = [model(torch.tensor([ids])).logits[0].double().numpy() for _, ids, _ in encoded]
    adapter = spec.inputs.get("adapter.gguf")
    ggufs = {name: path for name, path in spec.inputs.items() if path.suffix == ".gguf" and name != "adapter.gguf"}
    n_ctx = max(len(ids) for _, ids, _ in encoded) + 8
    rows_out, failures = [], []
    for name, path in ggufs.items():
        llm = Llama(
            str(path), n_ctx=n_ctx, logits_all=True, verbose=False, seed=0, lora_path=str(adapter) if adapter else None
        )
        totals: dict[str, float] = {}
        same_tokens = 0
        for (text, ids, answer_from), ref in zip(encoded, reference, strict=True):
            same_tokens += llm.tokenize(text.encode("utf-8"), add_bos=False, special=True) == ids
            for key, value in _compare(ref, _gguf_logits(llm, ids), ids, answer_from).items():
                totals[key] = totals.get(key, 0.0) + value
        llm.close()
        row = {
            "gguf": name,
            "top1_agreement": totals["agree"] / totals["positions"],
            "top1_exact": totals["exact"] / totals["positions"],
            "mean_kl": totals["kl"] / totals["positions"],
            "perplexity": math.exp(totals["nll_gguf"] / max(totals["scored"], 1)),
            "hf_perplexity": math.exp(totals["nll_hf"] / max(totals["scored"], 1)),
            "same_tokenization": same_tokens / len(encoded),
            "prompts": len(encoded),
            "positions": int(totals["positions"]),
        }
        threshold = (
            spec.params.min_top1
            if spec.params.min_top1 is not None
            else (DEFAULT_MIN_TOP1 if name in EXACT_TYPES else None)
        )
        row["min_top1"] = threshold
        row["ok"] = threshold is None or row["top1_agreement"] >= threshold
        rows_out.append(row)
        if not row["ok"]:
            failures.append(f"{name}: top-1 agreement {row['top1_agreement']:.3f} < {threshold}")
        print(
            f"{name}: top-1 {row['top1_agreement']:.3%}, mean KL {row['mean_kl']:.5f}, perplexity "
            f"{row['perplexity']:.3f} (HF {row['hf_perplexity']:.3f}), same tokenisation {row['same_tokenization']:.0%}"
        )
    spec.write_json("parity.json", rows_out)
    columns = list(rows_out[0])
    table = [columns] + [
        [round(row[c], 5) if isinstance(row[c], float) else row[c] for c in columns] for row in rows_out
    ]
    spec.write_json("tables.json", {"GGUF parity with the Hugging Face model": table})
    spec.write_json("metrics.json", {f"top1_{r['gguf']}": r["top1_agreement"] for r in rows_out})
    if failures:
        raise SystemExit("the conversion is broken — " + "; ".join(failures))


if __name__ == "__main__":
    main(run)
