"""The rows the data step writes, in TRL's forms, read in one place by everything downstream (training
data limits, evaluation, GGUF parity, the served smoke test):
plain text `{"text"}`; a conversation `{"messages"}`; a preference pair `{"prompt", "chosen", "rejected"}`
(each a list of messages)."""

from __future__ import annotations

from typing import Any

Message = dict[str, str]

ANSWER_FIELDS = {"messages": ("messages",), "chosen": ("chosen", "rejected")}   # fields ending in an answer


def kind(row: dict[str, Any]) -> str:
    """`text`, `messages` or `chosen` (a preference pair); anything else is not a row the data step wrote."""
    for key in ("text", "messages", "chosen"):
        if key in row:
            return key
    raise ValueError(f"not a training row (keys {sorted(row)})")


def taught(row: dict[str, Any]) -> list[Message] | None:
    """The conversation a row teaches — the conversation, or the prompt with the preferred answer; None for
    plain text."""
    shape = kind(row)
    return None if shape == "text" else row["messages"] if shape == "messages" else row["prompt"] + row["chosen"]


def conversations(row: dict[str, Any]) -> list[list[Message]]:
    """Every full conversation in a row (both answers of a pair), for length limits."""
    shape = kind(row)
    return [] if shape == "text" else [row["messages"]] if shape == "messages" else \
        [row["prompt"] + row[field] for field in ANSWER_FIELDS["chosen"]]


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
