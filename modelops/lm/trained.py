"""Loading what a training step produced: a full model folder, or a PEFT adapter applied to its base."""

from __future__ import annotations

from pathlib import Path


def load_trained(folder: Path, base: Path | None):
    """(model in eval mode, tokenizer) from a trained model or adapter folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    if (folder / "adapter_config.json").exists():
        if base is None:
            raise ValueError(f"{folder} is an adapter and needs its base model")
        from peft import PeftModel

        model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), folder)
    else:
        model = AutoModelForCausalLM.from_pretrained(folder)
    return model.eval(), tokenizer
