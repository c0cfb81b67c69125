"""Loading what a training step produced: a full model folder, or a PEFT adapter applied to its base; a
reward model (one score per sequence) as a sequence classifier, everything else as a causal LM."""

from __future__ import annotations

import json
from pathlib import Path


def scores(folder: Path) -> bool:
    """Whether a trained model or adapter folder holds a reward model (a sequence classifier)."""
    adapter = folder / "adapter_config.json"
    if adapter.exists():
        return json.loads(adapter.read_text(encoding="utf-8")).get("task_type") == "SEQ_CLS"
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return any(name.endswith("ForSequenceClassification") for name in config.get("architectures") or [])


def model_class(folder: Path):
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    return AutoModelForSequenceClassification if scores(folder) else AutoModelForCausalLM


def load_trained(folder: Path, base: Path | None):
    """(model in eval mode, tokenizer) from a trained model or adapter folder."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    kind = model_class(folder)
    if (folder / "adapter_config.json").exists():
        if base is None:
            raise ValueError(f"{folder} is an adapter and needs its base model")
        from peft import PeftModel

        model = PeftModel.from_pretrained(kind.from_pretrained(base, **head_arguments(kind)), folder)
    else:
        model = kind.from_pretrained(folder)
    return model.eval(), tokenizer


def head_arguments(kind) -> dict:
    """A base loaded under a reward adapter gets the adapter's one-score head (saved with the adapter)."""
    return {"num_labels": 1} if kind.__name__.endswith("SequenceClassification") else {}
