"""Step `llama_server_smoke`: serve the GGUF with llama_cpp.server, send chat requests made from held-out
validation prompts, and check the answers are well-formed OpenAI responses with no chat-template control
tokens leaking into the text; records latency and tokens per second."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from modelops import jsonlines
from modelops.deploy.llama_server import BackgroundLlamaServer
from modelops.lm.rows import prompt as asked
from modelops.steps.runtime import Spec, main

MAX_TOKENS = 32


def _prompts(validation: Path, count: int) -> list[list[dict[str, str]]]:
    prompts = [asked(row) for row in jsonlines.load(validation)[:count]]
    return prompts or [[{"role": "user", "content": "你好"}]]


def _control_tokens(gguf: Path) -> list[str]:
    """The GGUF's control and user-defined tokens (token types 3 and 4), which must never reach a reply."""
    from gguf import GGUFReader

    reader = GGUFReader(gguf)
    tokens, types = reader.fields["tokenizer.ggml.tokens"], reader.fields["tokenizer.ggml.token_type"]
    return [bytes(tokens.parts[tokens.data[i]]).decode("utf-8", "replace") for i in range(len(tokens.data))
            if int(types.parts[types.data[i]][0]) in (3, 4)]


def _check(reply: dict[str, Any], control: list[str]) -> str | None:
    try:
        choice = reply["choices"][0]
        text = choice["message"]["content"]
        assert isinstance(text, str) and choice["finish_reason"] in ("stop", "length")
        assert isinstance(reply["usage"]["completion_tokens"], int)
    except (KeyError, IndexError, TypeError, AssertionError):
        return f"malformed response: {json.dumps(reply)[:300]}"
    leaked = [t for t in control if t and t in text]
    return f"control tokens leaked into the reply: {leaked} in {text!r}" if leaked else None


def run(spec: Spec) -> None:
    import httpx

    gguf = spec.inputs["gguf"]
    control = _control_tokens(gguf)
    results, problems = [], []
    server = BackgroundLlamaServer(gguf, spec.params.n_ctx, spec.inputs.get("adapter.gguf"), spec.out / "server.log")
    with server as url:
        for messages in _prompts(spec.inputs["validation.jsonl"], spec.params.requests):
            started = time.perf_counter()
            try:
                response = httpx.post(f"{url}/v1/chat/completions", timeout=120, json={
                    "messages": messages, "max_tokens": MAX_TOKENS, "temperature": 0})
            except httpx.HTTPError as exc:
                time.sleep(0.5)
                raise SystemExit(f"the llama.cpp server {server.ended() or f'did not answer: {exc!r}'}") from None
            seconds = time.perf_counter() - started
            reply = response.json()
            problem = (
                _check(reply, control)
                if response.status_code == 200
                else f"HTTP {response.status_code}: {response.text[:300]}"
            )
            tokens = reply.get("usage", {}).get("completion_tokens", 0) if not problem else 0
            results.append(
                {
                    "prompt": messages[-1]["content"][:80],
                    "reply": None if problem else reply["choices"][0]["message"]["content"],
                    "seconds": round(seconds, 3),
                    "tokens": tokens,
                    "tokens_per_second": round(tokens / seconds, 1),
                }
            )
            if problem:
                problems.append(problem)
            print(f"{seconds:.2f}s {tokens} tokens: {messages[-1]['content'][:30]!r} → {results[-1]['reply']!r}")
    latency = sorted(r["seconds"] for r in results)
    metrics = {
        "requests": len(results),
        "failed": len(problems),
        "median_latency_s": latency[len(latency) // 2],
        "tokens_per_second": round(sum(r["tokens"] for r in results) / max(sum(latency), 1e-9), 1),
    }
    adapter = spec.inputs.get("adapter.gguf")
    spec.write_json(
        "smoke.json",
        {
            "gguf": str(gguf),
            "adapter": str(adapter) if adapter else None,
            "metrics": metrics,
            "requests": results,
            "problems": problems,
        },
    )
    spec.write_json("metrics.json", metrics)
    if problems:
        raise SystemExit("the served model failed the smoke test: " + "; ".join(problems))


if __name__ == "__main__":
    main(run)
