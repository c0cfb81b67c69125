"""Language-model data: read rows in the recipe's format, convert them to TRL's plain, conversational,
preference or unpaired form, clean them (strip, normalise, drop, deduplicate, near-deduplicate) and hold
them to a token limit. `steps/lm_data.py` runs it on a step's files."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from pathlib import Path
from typing import Any, Iterator

from modelops import jsonlines
from modelops.lm.rows import answer_fields, conversations
from modelops.recipe.data import Cleaning
from modelops.utf8 import first_undecodable

ROLES = {"system", "user", "assistant"}
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


class BadRow(ValueError):
    pass


def _records(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, raw record) for every row of a file or folder."""
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.suffix in (".txt", ".md")):
            yield str(file), {"text": _text(file)}
        return
    if path.suffix in (".txt", ".md"):
        lines = [line.rstrip("\r") for line in _text(path).removesuffix("\n").split("\n")]
        if any(not line.strip() for line in lines):
            blocks = "\n".join(lines).split("\n\n")
            yield from ((f"{path}:block {i + 1}", {"text": b}) for i, b in enumerate(blocks))
        else:
            yield from ((f"{path}:{i + 1}", {"text": line}) for i, line in enumerate(lines))
        return
    for number, record in jsonlines.records(path):
        yield f"{path}:{number}", BadRow(str(record)) if isinstance(record, jsonlines.BadLine) else record


def _text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        line, byte = first_undecodable(path) or (0, 0)
        raise SystemExit(f"{path}:{line}: not UTF-8 (byte 0x{byte:02x}); save the file as UTF-8") from None


def _messages(value: Any, what: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise BadRow(f"`{what}` must be a non-empty list of messages")
    out = []
    for message in value:
        if (
            not isinstance(message, dict)
            or message.get("role") not in ROLES
            or not isinstance(message.get("content"), str)
        ):
            raise BadRow(f"`{what}` has a message without a valid role (system/user/assistant) and text content")
        out.append({"role": message["role"], "content": message["content"]})
    return out


def convert(record: Any, fmt: str, text_field: str) -> dict[str, Any]:
    """One raw record in TRL's form: {"text"}, {"messages"}, {"prompt", "chosen", "rejected"},
    {"prompt", "completion", "label"} or {"prompt", …columns}."""
    if isinstance(record, BadRow):
        raise record
    if not isinstance(record, dict):
        raise BadRow("a row must be a JSON object")
    if fmt == "text":
        if not isinstance(record.get(text_field), str):
            raise BadRow(f"missing text field `{text_field}`")
        return {"text": record[text_field]}
    if fmt == "messages":
        messages = _messages(record.get("messages"), "messages")
    elif fmt == "alpaca":
        if not isinstance(record.get("instruction"), str) or not isinstance(record.get("output"), str):
            raise BadRow("alpaca rows need `instruction` and `output`")
        prompt = record["instruction"] + (f"\n\n{record['input']}" if record.get("input") else "")
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": record["output"]}]
    elif fmt == "sharegpt":
        turns = record.get("conversations")
        if not isinstance(turns, list) or not all(
            isinstance(t, dict) and t.get("from") in SHAREGPT_ROLES for t in turns
        ):
            raise BadRow("sharegpt rows need `conversations` with `from` in human/gpt/system")
        messages = [{"role": SHAREGPT_ROLES[t["from"]], "content": str(t.get("value", ""))} for t in turns]
    elif fmt == "unpaired":
        return _unpaired(record)
    elif fmt == "prompts":
        return _prompt_only(record)
    else:
        return _preference(record)
    if messages[-1]["role"] != "assistant" or not messages[-1]["content"].strip():
        raise BadRow("the conversation must end with a non-empty assistant turn")
    return {"messages": messages}


def _as_messages(value: Any, what: str, role: str) -> list[dict[str, str]]:
    """A string as one message of `role`, or a list of messages as they are."""
    return [{"role": role, "content": value}] if isinstance(value, str) else _messages(value, what)


def _unpaired(record: dict) -> dict[str, Any]:
    if not all(k in record for k in ("prompt", "completion", "label")):
        raise BadRow("unpaired rows need `prompt`, `completion` and `label` (true for a desirable answer)")
    if not isinstance(record["label"], bool):
        raise BadRow("`label` must be true (a desirable answer) or false")
    return {"prompt": _as_messages(record["prompt"], "prompt", "user"),
            "completion": _as_messages(record["completion"], "completion", "assistant"), "label": record["label"]}


def _prompt_only(record: dict) -> dict[str, Any]:
    """A prompt, with the row's other scalar columns kept for the rewards that read them (a reference answer)."""
    if "prompt" not in record:
        raise BadRow("prompt rows need `prompt` (text or a list of messages)")
    extra = {k: v for k, v in record.items() if k != "prompt" and isinstance(v, (str, int, float, bool))}
    return {"prompt": _as_messages(record["prompt"], "prompt", "user")} | extra


def _preference(record: dict) -> dict[str, Any]:
    if not all(k in record for k in ("prompt", "chosen", "rejected")):
        raise BadRow("preference rows need `prompt`, `chosen` and `rejected`")
    row = {
        "prompt": _as_messages(record["prompt"], "prompt", "user"),
        "chosen": _as_messages(record["chosen"], "chosen", "assistant"),
        "rejected": _as_messages(record["rejected"], "rejected", "assistant"),
    }
    if row["chosen"] == row["rejected"]:
        raise BadRow("`chosen` and `rejected` are the same")
    return row


def _map_text(row: dict[str, Any], fn) -> dict[str, Any]:
    if "text" in row:
        return {"text": fn(row["text"])}
    return {k: [{"role": m["role"], "content": fn(m["content"])} for m in v] if isinstance(v, list) else v
            for k, v in row.items()}


def _all_text(row: dict[str, Any]) -> str:
    return row["text"] if "text" in row else \
        "\n".join(m["content"] for v in row.values() if isinstance(v, list) for m in v)


def clean(rows: list[dict], rules: Cleaning, counts: dict[str, int]) -> list[dict]:
    if rules.strip or rules.normalize == "nfkc":

        def tidy(text: str) -> str:
            text = unicodedata.normalize("NFKC", text) if rules.normalize == "nfkc" else text
            return text.strip() if rules.strip else text

        rows = [_map_text(r, tidy) for r in rows]
    kept, seen = [], set()
    for row in rows:
        text = _all_text(row)
        if rules.drop_empty and not text.strip():
            counts["dropped_empty"] += 1
        elif len(text) < rules.min_chars:
            counts["dropped_short"] += 1
        elif rules.max_chars and len(text) > rules.max_chars:
            counts["dropped_long"] += 1
        elif (
            rules.dedupe != "none"
            and (key := hashlib.sha256(json.dumps(row, sort_keys=True).encode()).digest()) in seen
        ):
            counts["dropped_duplicates"] += 1
        else:
            if rules.dedupe != "none":
                seen.add(key)
            kept.append(row)
    if rules.dedupe == "near":
        kept = _near_dedupe(kept, rules.near_threshold, counts)
    return kept


class TokenLimit:
    """`data.clean.max_tokens` once the tokenizer is known: rows over the limit are dropped, or truncated —
    plain text at the limit, conversations by shortening their last message (dropped when that is not enough)."""

    def __init__(self, tokenizer_folder: Path, limit: int, mode: str):
        from transformers import AutoTokenizer

        self.tokenizer, self.limit, self.mode = AutoTokenizer.from_pretrained(tokenizer_folder), limit, mode

    def _length(self, row: dict[str, Any]) -> int:
        if "text" in row:
            return len(self.tokenizer(row["text"])["input_ids"])
        return max(len(self._ids(self._render(c))) for c in conversations(row))

    def _render(self, conversation: list[dict]) -> str:
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(conversation, tokenize=False)
        return "\n".join(m["content"] for m in conversation)

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _shorten(self, messages: list[dict], overflow: int) -> list[dict] | None:
        ids = self._ids(messages[-1]["content"])
        if len(ids) <= overflow:
            return None
        return messages[:-1] + [
            {"role": messages[-1]["role"], "content": self.tokenizer.decode(ids[: len(ids) - overflow])}
        ]

    def _truncate(self, row: dict[str, Any], overflow: int) -> dict[str, Any] | None:
        if "text" in row:
            return {
                "text": self.tokenizer.decode(
                    self.tokenizer(row["text"])["input_ids"][: self.limit], skip_special_tokens=True
                )
            }
        shortened = {f: self._shorten(row[f], overflow) for f in answer_fields(row)}
        return None if not shortened or None in shortened.values() else row | shortened  # a prompt alone: dropped

    def apply(self, rows: list[dict], counts: dict[str, int]) -> list[dict]:
        kept = []
        for row in rows:
            overflow = self._length(row) - self.limit
            if overflow > 0 and self.mode == "truncate":
                row = self._truncate(row, overflow + 2)  # a little slack: re-tokenising a cut text may merge
                counts["truncated_over_max_tokens" if row else "dropped_over_max_tokens"] += 1
            elif overflow > 0:
                row = None
                counts["dropped_over_max_tokens"] += 1
            if row is not None:
                kept.append(row)
        return kept


def _near_dedupe(rows: list[dict], threshold: float, counts: dict[str, int]) -> list[dict]:
    """MinHash/LSH over character 5-grams; keeps the first row of each near-duplicate group."""
    try:
        from datasketch import MinHash, MinHashLSH
    except ImportError:
        raise SystemExit("near-duplicate removal needs datasketch: pip install datasketch") from None
    lsh, kept = MinHashLSH(threshold=threshold, num_perm=128), []
    for i, row in enumerate(rows):
        text = _all_text(row)
        signature = MinHash(num_perm=128)
        for j in range(max(1, len(text) - 4)):
            signature.update(text[j : j + 5].encode("utf-8"))
        if lsh.query(signature):
            counts["dropped_near_duplicates"] += 1
            continue
        lsh.insert(str(i), signature)
        kept.append(row)
    return kept


def load(path: Path, fmt: str, text_field: str, on_bad: str, counts: dict, samples: list) -> list[dict]:
    rows = []
    for where, record in _records(path):
        try:
            rows.append(convert(record, fmt, text_field))
        except BadRow as exc:
            if on_bad == "error":
                raise SystemExit(f"{where}: {exc} (set `data.on_bad_rows: skip` to skip such rows)") from None
            counts["bad_rows"] += 1
            if len(samples) < 5:
                samples.append(f"{where}: {exc}")
    return rows
