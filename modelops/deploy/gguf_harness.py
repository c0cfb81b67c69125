"""A GGUF as an lm-evaluation-harness model, run by llama.cpp (llama-cpp-python, the library behind `modelops
serve`, `chat` and the smoke test) with the GGUF's own tokenizer: what quantisation costs on a benchmark is
measured on the file users serve.

It runs llama.cpp in-process rather than through the server's `/v1/completions` because scoring needs the
log-probability of every continuation token, and the server's echoed log-probabilities cannot be trusted for
that: llama-cpp-python pairs each prompt token with the distribution at its own position when the model has
no BOS token (llama_cpp/llama.py `_create_completion`: `all_tokens` against `all_logprobs`), and its
`text_offset`s count characters of partial UTF-8 pieces, so the harness's own `gguf` model cannot find a
Chinese continuation. Here each continuation token is scored against the distribution after the tokens
before it, as the harness scores Hugging Face models (`HFLM`): the same tokenisation conventions (BOS as the
GGUF says, special tokens parsed), the same chat template (the GGUF's own)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from lm_eval.api.model import TemplateLM
from lm_eval.models.utils import handle_stop_sequences
from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

from modelops.deploy.gguf_facts import gguf_chat_template


def _log_softmax(rows: np.ndarray) -> np.ndarray:
    rows = rows.astype(np.float64)
    rows -= rows.max(axis=-1, keepdims=True)
    return rows - np.log(np.exp(rows).sum(axis=-1, keepdims=True))


class GgufLM(TemplateLM):
    """`GgufLM(gguf, tokenizer_folder, n_ctx)`: the tokenizer folder (the Hugging Face model the GGUF was
    converted from) only supplies the chat template's special-token strings; the template is the GGUF's."""

    def __init__(self, gguf: Path, tokenizer_folder: Path, n_ctx: int, lora: Path | None = None,
                 max_gen_toks: int = 256):
        super().__init__()
        from llama_cpp import Llama
        from transformers import AutoTokenizer

        self.llm = Llama(str(gguf), n_ctx=n_ctx, logits_all=True, verbose=False, seed=0,
                         lora_path=str(lora) if lora else None)
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder)
        self.tokenizer.chat_template = gguf_chat_template(gguf) or self.tokenizer.chat_template
        self.name = gguf.name
        self.max_length, self.max_gen_toks = n_ctx, max_gen_toks

    @property
    def eot_token_id(self) -> int:
        return self.llm.token_eos()

    @property
    def prefix_token_id(self) -> int:
        bos = self.llm.token_bos()
        return bos if bos >= 0 else self.eot_token_id

    @property
    def tokenizer_name(self) -> str:
        return self.name

    def tok_encode(self, string: str, add_special_tokens: bool | None = None, **kwargs) -> list[int]:
        """The GGUF's tokenisation; BOS added where its metadata says so, unless the text already starts with
        it (as the harness does for Hugging Face tokenizers)."""
        bos = self.llm.detokenize([self.prefix_token_id], special=True).decode("utf-8", "replace")
        add = add_special_tokens if add_special_tokens is not None else not (bos and string.startswith(bos))
        return self.llm.tokenize(string.encode("utf-8"), add_bos=add, special=True)

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.tokenizer.apply_chat_template(chat_history, tokenize=False,
                                                  add_generation_prompt=add_generation_prompt,
                                                  continue_final_message=not add_generation_prompt)

    def _evaluate(self, tokens: list[int]) -> np.ndarray:
        """The logits after each of `tokens`, keeping what llama.cpp already holds of a shared prefix (the
        choices of a multiple-choice question share their context)."""
        held = self.llm.input_ids[: self.llm.n_tokens].tolist()
        shared = 0
        while shared < min(len(held), len(tokens) - 1) and held[shared] == tokens[shared]:
            shared += 1
        self.llm.n_tokens = shared
        self.llm.eval(tokens[shared:])
        return self.llm.scores[: len(tokens)]

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, **kwargs) -> list[tuple[float, bool]]:
        results: list[tuple[float, bool] | None] = [None] * len(requests)
        order = sorted(range(len(requests)), key=lambda i: requests[i][1] + requests[i][2])
        for i in order:
            _, context, continuation = requests[i]
            tokens = (context + continuation)[-self.max_length:]
            start = len(tokens) - len(continuation)
            logprobs = _log_softmax(self._evaluate(tokens)[start - 1: len(tokens) - 1])
            picked = logprobs[np.arange(len(continuation)), continuation]
            results[i] = (float(picked.sum()), bool((logprobs.argmax(-1) == continuation).all()))
            self.cache_hook.add_partial("loglikelihood", requests[i][0], results[i])
        return results

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False) -> list[float]:
        scores = []
        for (text,) in [request.args for request in requests]:
            windows = [make_disjoint_window(w) for w in get_rolling_token_windows(
                token_list=self.tok_encode(text), prefix_token=self.prefix_token_id,
                max_seq_len=self.max_length, context_len=1)]
            scores.append(sum(s for s, _ in self._loglikelihood_tokens([(None, a, b) for a, b in windows])))
        return scores

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        """Greedy continuations, cut at the task's stop strings (and at the GGUF's end-of-sequence token)."""
        answers = []
        for context, options in [request.args for request in requests]:
            options = dict(options)
            stop = handle_stop_sequences(options.pop("until", None), eos=None)
            budget = options.pop("max_gen_toks", self.max_gen_toks)
            prompt = self.tok_encode(context)[-(self.max_length - budget):]
            self.llm.reset()
            text = self.llm.create_completion(prompt, max_tokens=budget, temperature=0.0, stop=stop or None,
                                              seed=0)["choices"][0]["text"]
            for marker in stop:
                text = text.split(marker)[0]
            answers.append(text)
        return answers
