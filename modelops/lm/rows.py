"""The rows the data step writes, in TRL's forms, read in one place by everything downstream (training
data limits, evaluation, GGUF parity, the served smoke test): plain text `{"text"}`; a conversation
`{"messages"}`; a preference pair `{"prompt", "chosen", "rejected"}`; an unpaired example
`{"prompt", "completion", "label"}` (label true: a desirable answer); a prompt alone `{"prompt", …}` with the
columns rewards read. Prompts and answers are lists of messages."""

from __future__ import annotations

import json
from typing import Any

Message = dict[str, str]

ANSWER_FIELDS = {"messages": ("messages",), "chosen": ("chosen", "rejected"), "completion": ("completion",)}


def kind(row: dict[str, Any]) -> str:
    """`text`, `messages`, `chosen` (a pair), `completion` (unpaired) or `prompt` (a prompt alone); anything
    else is not a data-step row."""
    for key in ("text", "messages", "chosen", "completion", "prompt"):
        if key in row:
            return key
    raise ValueError(f"not a training row (keys {sorted(row)})")


def taught(row: dict[str, Any]) -> list[Message] | None:
    """The conversation a row teaches — the conversation, or the prompt with the preferred or desirable
    answer; None for plain text and for an undesirable answer."""
    shape = kind(row)
    if shape == "messages":
        return row["messages"]
    if shape == "chosen":
        return row["prompt"] + row["chosen"]
    if shape == "completion" and row["label"]:
        return row["prompt"] + row["completion"]
    return None


def conversations(row: dict[str, Any]) -> list[list[Message]]:
    """Every full conversation in a row (both answers of a pair), for length limits."""
    shape = kind(row)
    if shape == "text":
        return []
    if shape == "messages":
        return [row["messages"]]
    if shape == "prompt":
        return [row["prompt"]]
    return [row["prompt"] + row[field] for field in ANSWER_FIELDS[shape]]


def answer_fields(row: dict[str, Any]) -> tuple[str, ...]:
    """The row's fields whose last message is an answer (what truncation may shorten)."""
    return ANSWER_FIELDS.get(kind(row), ())


def prompt(row: dict[str, Any], text_chars: int = 200) -> list[Message]:
    """What a model is asked with this row: the conversation up to its answer, or the start of a text."""
    shape = kind(row)
    if shape == "text":
        return [{"role": "user", "content": row["text"][:text_chars]}]
    conversation = row["messages"] if shape == "messages" else row["prompt"]
    return conversation[:-1] if conversation[-1]["role"] == "assistant" else conversation


def answer_pairs(rows: list[dict[str, Any]]) -> list[tuple[list[Message], list[Message], list[Message]]]:
    """(prompt, better answer, worse answer) from preference pairs, and from unpaired examples that answer the
    same prompt both ways (each desirable answer against the first undesirable one)."""
    pairs, unpaired = [], {}
    for row in rows:
        shape = kind(row)
        if shape == "chosen":
            pairs.append((row["prompt"], row["chosen"], row["rejected"]))
        elif shape == "completion":
            unpaired.setdefault(json.dumps(row["prompt"], sort_keys=True), []).append(row)
    for group in unpaired.values():
        worse = next((r["completion"] for r in group if not r["label"]), None)
        if worse is not None:
            pairs += [(r["prompt"], r["completion"], worse) for r in group if r["label"]]
    return pairs
