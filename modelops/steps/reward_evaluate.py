"""Step `reward_evaluate`: how well the trained reward model ranks held-out answers — the share of
validation pairs whose preferred answer scores higher (pair accuracy) and the mean score margin."""

from __future__ import annotations

from pathlib import Path

from modelops import jsonlines
from modelops.lm.rows import answer_pairs
from modelops.lm.trained import load_trained
from modelops.steps.runtime import Spec, main


def _score(model, tokenizer, conversation: list[dict], max_length: int) -> float:
    import torch

    text = tokenizer.apply_chat_template(conversation, tokenize=False)
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"][:, :max_length]
    with torch.no_grad():
        return float(model(input_ids=ids).logits[0, 0])


def run(spec: Spec) -> None:
    model, tokenizer = load_trained(spec.inputs.get("model") or spec.inputs["adapter"], spec.inputs.get("base"))
    pairs = answer_pairs(jsonlines.load(Path(spec.inputs["validation.jsonl"])))
    if not pairs:
        raise SystemExit("the validation split has no preference pairs: set `data.validation` to evaluate")
    def score(conversation: list[dict]) -> float:
        return _score(model, tokenizer, conversation, spec.params.max_length)

    margins = [score(prompt + better) - score(prompt + worse) for prompt, better, worse in pairs]
    metrics = {"pair_accuracy": sum(m > 0 for m in margins) / len(margins),
               "mean_margin": sum(margins) / len(margins), "pairs": len(margins)}
    spec.write_json("metrics.json", metrics)
    print(f"held-out pair accuracy {metrics['pair_accuracy']:.3f} over {len(margins)} pairs, "
          f"mean margin {metrics['mean_margin']:.3f}")


if __name__ == "__main__":
    main(run)
