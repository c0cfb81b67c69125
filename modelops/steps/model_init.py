"""Step `model_init`: a freshly initialised (seeded) causal LM of the recipe's architecture and size, sized
to the tokenizer, saved as safetensors with the tokenizer beside it."""

from __future__ import annotations

from modelops.steps.runtime import Spec, main


def run(spec: Spec) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, Qwen2Config

    p = spec.params
    tokenizer = AutoTokenizer.from_pretrained(spec.inputs["tokenizer"])
    config_class = {"llama": LlamaConfig, "qwen2": Qwen2Config}[p.architecture]
    config = config_class(
        vocab_size=len(tokenizer), hidden_size=p.hidden_size, num_hidden_layers=p.num_layers,
        num_attention_heads=p.num_heads, num_key_value_heads=p.num_kv_heads or p.num_heads,
        intermediate_size=p.intermediate_size or (p.hidden_size * 8 // 3 + 63) // 64 * 64,
        max_position_embeddings=p.max_position_embeddings, tie_word_embeddings=p.tie_word_embeddings,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(p.seed)
    model = AutoModelForCausalLM.from_config(config)
    folder = spec.out / "model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    parameters = sum(t.numel() for t in model.parameters())
    spec.write_json("metrics.json", {"parameters": parameters})
    print(f"{p.architecture} with {parameters:,} parameters, vocabulary {len(tokenizer)}")


if __name__ == "__main__":
    main(run)
