"""Named chat templates (`model.chat_template`), with `{% generation %}` markers so that TRL can train on
assistant turns only, and the special tokens each one needs in a tokenizer trained from scratch."""

from __future__ import annotations

from modelops.templates import TEMPLATE_DIR

SPECIAL_TOKENS = {
    "chatml": ["<|im_start|>", "<|im_end|>"],
    "qwen2": ["<|im_start|>", "<|im_end|>"],
    "llama3": ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
    "mistral": ["[INST]", "[/INST]"],
    "gemma": ["<start_of_turn>", "<end_of_turn>"],
    "phi3": ["<|system|>", "<|user|>", "<|assistant|>", "<|end|>"],
}


def chat_template(name: str) -> str:
    return (TEMPLATE_DIR / "chat" / f"{name}.jinja").read_text(encoding="utf-8")
