"""Step `lora_merge`: the adapter merged into its base loaded in 16-bit (or fp32 on CPU), never into a
4-bit base, saved as safetensors with the tokenizer, chat template and generation config."""

from __future__ import annotations

from modelops.steps.runtime import Spec, main


def run(spec: Spec) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[spec.params["precision"]]
    base = AutoModelForCausalLM.from_pretrained(spec.inputs["base"], dtype=dtype)
    merged = PeftModel.from_pretrained(base, spec.inputs["adapter"]).merge_and_unload()
    folder = spec.out / "model"
    merged.save_pretrained(folder)
    AutoTokenizer.from_pretrained(spec.inputs["adapter"]).save_pretrained(folder)
    parameters = sum(t.numel() for t in merged.parameters())
    spec.write_json("metrics.json", {"parameters": parameters})
    print(f"merged into a {spec.params['precision']} base: {parameters:,} parameters")


if __name__ == "__main__":
    main(run)
