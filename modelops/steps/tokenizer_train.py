"""Step `tokenizer_train`: a SentencePiece tokenizer (byte fallback, full character coverage) trained on the
training text, saved as a transformers tokenizer with the recipe's chat template.

No dummy space prefix: with one, llama.cpp prefixes every piece of text after a special token with a
space while transformers prefixes only the start, and a GGUF would tokenise chats differently."""

from __future__ import annotations

import json
import sys

from modelops.lm.chat_templates import SPECIAL_TOKENS, chat_template
from modelops.lm.texts import texts
from modelops.steps.runtime import Spec, main


def run(spec: Spec) -> None:
    import sentencepiece as spm
    from transformers import AutoTokenizer

    p = spec.params
    template = p.chat_template or "chatml"
    work = spec.out / "sentencepiece"
    work.mkdir()
    spm.set_random_generator_seed(p.seed)
    lines = list(texts(spec.inputs["train"]))
    if not lines:
        raise SystemExit(f"{spec.inputs['train']}: no text to train a tokenizer on")
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_prefix=str(work / "tokenizer"), vocab_size=p.vocab_size,
        model_type=p.type, byte_fallback=True, character_coverage=1.0, pad_id=0, bos_id=1, eos_id=2, unk_id=3,
        user_defined_symbols=SPECIAL_TOKENS[template], hard_vocab_limit=False, num_threads=1, minloglevel=2,
        add_dummy_prefix=False)
    folder = spec.out / "tokenizer"
    folder.mkdir()
    (folder / "tokenizer.model").write_bytes((work / "tokenizer.model").read_bytes())
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
        "pad_token": "<pad>", "add_bos_token": True, "add_eos_token": False, "legacy": True,
        "add_prefix_space": False}), encoding="utf-8")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = chat_template(template)
    tokenizer.save_pretrained(folder)
    spec.write_json("metrics.json", {"vocab_size": len(tokenizer), "lines": len(lines)})
    sample = lines[0][:40]
    print(f"vocabulary {len(tokenizer)} from {len(lines)} lines; {sample!r} → {tokenizer.tokenize(sample)[:12]}",
          file=sys.stdout)


if __name__ == "__main__":
    main(run)
