"""Step `lora_merge`: the adapter merged into its base loaded in 16-bit (or fp32 on CPU), never into a
4-bit base, saved as safetensors with the tokenizer, chat template and generation config."""

from __future__ import annotations

from modelops.lm.trained import head_arguments, model_class
from modelops.steps.runtime import Spec, main


def run(spec: Spec) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoTokenizer

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[spec.params.precision]
    kind = model_class(spec.inputs["adapter"])   # a reward adapter merges into a sequence classifier
    base = kind.from_pretrained(spec.inputs["base"], dtype=dtype, **head_arguments(kind))
    merged = PeftModel.from_pretrained(base, spec.inputs["adapter"]).merge_and_unload()
    tokenizer = AutoTokenizer.from_pretrained(spec.inputs["adapter"])
    if head_arguments(kind):   # a reward model's score is read at the last token that is not padding
        merged.config.pad_token_id = merged.config.pad_token_id or tokenizer.pad_token_id
    folder = spec.out / "model"
    merged.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    parameters = sum(t.numel() for t in merged.parameters())
    spec.write_json("metrics.json", {"parameters": parameters})
    print(f"merged into a {spec.params.precision} base: {parameters:,} parameters")


if __name__ == "__main__":
    main(run)
