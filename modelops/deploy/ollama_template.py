"""Translate a Hugging Face (Jinja) chat template into an Ollama (Go `text/template`) TEMPLATE.

Rather than matching template source text, the model's own template is rendered through transformers
on probe conversations with marker contents; the text between the markers is what the template puts
around each turn. Most templates are a sequence of turns, some fold the system prompt into the first or
last user turn (Llama 2, Gemma, Mistral), some always write a system block with a default text (Qwen,
Llama 3.1). The layout found is checked on a longer conversation before it is trusted: a template it
cannot reproduce is refused, and the recipe can then give `deploy.ollama.template` itself.

Ollama executes a TEMPLATE that uses `.Messages` with every message (system ones included) and
`.System` holding the system text; it adds the BOS token itself, so a leading BOS is left out. A template
that writes today's date (`strftime_now`, as Llama 3.2 and Granite do) gets Ollama's `{{ currentDate }}`,
the date on the day of each request (as YYYY-MM-DD, whatever format the template asked for), never the
date of the build. A template that fails on a plain conversation is refused, saying why."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Callable

S, U1, A1, U2, A2, U3 = (f"{name}-7f3a9c" for name in ("SYSTEM", "USER1", "ASSISTANT1", "USER2", "ASSISTANT2", "USER3"))
DATE = "DATE-7f3a9c"        # what `strftime_now(...)` writes while the template is measured
CURRENT_DATE = "{{ currentDate }}"   # Ollama's template function: today, as YYYY-MM-DD
FAMILIES = {  # a token of the rendered prompt → the family it names (for messages; the layout is measured)
    "<|im_start|>": "ChatML/Qwen", "<|start_header_id|>": "Llama 3", "<<SYS>>": "Llama 2", "[INST]": "Mistral",
    "<start_of_turn>": "Gemma", "<|end|>": "Phi-3", "<｜User｜>": "DeepSeek", "<|user|>": "Zephyr",
    "### Instruction": "Alpaca", "USER:": "Vicuna", "User:": "DeepSeek LLM",
}

Render = Callable[[list[dict], bool], str]


class TranslationError(ValueError):
    pass


@dataclass
class Layout:
    """What a chat template writes around each turn, as transitions between roles ('' = the start)."""

    transitions: dict[tuple[str, str], str]
    generation: str                      # after the last user turn: the assistant's header
    system: str                          # turn | first_user | last_user | slot | none
    system_prefix: str = ""              # around the system text when folded or in the slot
    system_suffix: str = ""
    default_system: str = ""             # the slot's text when no system message is given
    stops: list[str] = field(default_factory=list)
    family: str = "custom"

    @property
    def dated(self) -> bool:
        """Whether the template writes today's date (translated to Ollama's `currentDate`)."""
        texts = [*self.transitions.values(), self.generation, self.system_prefix, self.system_suffix,
                 self.default_system]
        return any(DATE in text for text in texts)


def _conversation(*contents: str, system: bool) -> list[dict]:
    roles = ["user", "assistant"] * 3
    messages = [{"role": "system", "content": S}] if system else []
    turns = zip(roles, contents, strict=False)          # roles: enough for any conversation used here
    return messages + [{"role": role, "content": text} for role, text in turns]


def _between(text: str, *markers: str) -> list[str]:
    """The pieces of `text` before, between and after the markers (which must appear in order)."""
    pieces, rest = [], text
    for marker in markers:
        if rest.count(marker) != 1:
            raise TranslationError(f"the chat template does not write each message once (looking for {marker})")
        before, rest = rest.split(marker)
        pieces.append(before)
    return pieces + [rest]


def measure(render: Render, bos: str | None, special_tokens: list[str], eos: str | None) -> Layout:
    """The layout of the chat template behind `render(messages, add_generation_prompt)`."""
    def probe(messages: list[dict]) -> str:
        try:
            text = render(messages, True)
        except Exception as exc:                    # an undefined variable, raise_exception on role order, ...
            roles = "/".join(m["role"] for m in messages)
            reason = str(exc).splitlines()[0][:200] if str(exc) else ""
            raise TranslationError(f"the chat template fails on a {roles} conversation "
                                   f"({type(exc).__name__}: {reason})") from None
        return text[len(bos):] if bos and text.startswith(bos) else text

    plain = probe(_conversation(U1, A1, U2, system=False))
    start, user_assistant, assistant_user, generation = _between(plain, U1, A1, U2)
    transitions = {("", "user"): start, ("user", "assistant"): user_assistant, ("assistant", "user"): assistant_user}
    try:
        with_system = probe(_conversation(U1, A1, U2, system=True))
    except TranslationError:                         # templates that refuse a system message (Gemma 1)
        layout = Layout(transitions, generation, "none")
    else:
        layout = _system_layout(plain, with_system, transitions, generation)
    layout.stops = _stops(assistant_user, special_tokens, eos)
    layout.family = next((name for token, name in FAMILIES.items() if token in plain), "custom")
    longer = _conversation(U1, A1, U2, A2, U3, system=layout.system != "none")
    if simulate(layout, longer) != probe(longer):
        raise TranslationError("the chat template is not a sequence of turns: a Go template cannot reproduce it")
    return layout


def _system_layout(plain: str, with_system: str, transitions: dict, generation: str) -> Layout:
    if with_system.endswith(plain) and S in with_system[: len(with_system) - len(plain)]:
        return _turn_layout(with_system, plain, transitions, generation)
    for marker, mode in ((U1, "first_user"), (U2, "last_user")):
        at = plain.index(marker)
        head, tail = plain[:at], plain[at:]
        if with_system.startswith(head) and with_system.endswith(tail) and len(with_system) > len(plain):
            inserted = with_system[len(head): len(with_system) - len(tail)]
            if inserted.count(S) == 1:
                prefix, suffix = inserted.split(S)
                return Layout(transitions, generation, mode, prefix, suffix)
    at = with_system.find(S)
    head, tail = with_system[:at], with_system[at + len(S):]
    if at >= 0 and plain.startswith(head) and plain.endswith(tail) and len(plain) >= len(head) + len(tail):
        default = plain[len(head): len(plain) - len(tail)]
        start = tail[: tail.index(U1)]
        return Layout(transitions | {("", "user"): start}, generation, "slot", head, default_system=default)
    raise TranslationError("the chat template places the system message in a way that cannot be translated")


def _turn_layout(with_system: str, plain: str, transitions: dict, generation: str) -> Layout:
    system_part = with_system[: len(with_system) - len(plain)]
    before, after = system_part.split(S)
    return Layout(transitions | {("", "system"): before, ("system", "user"): after + transitions[("", "user")]},
                  generation, "turn")


def _stops(assistant_user: str, special_tokens: list[str], eos: str | None) -> list[str]:
    """Tokens that end an assistant turn: the special tokens after it, the EOS, and a plain-text role marker."""
    found = sorted((t for t in special_tokens if t and t in assistant_user), key=assistant_user.index)
    if eos and eos not in found:
        found.append(eos)
    plain_text = assistant_user
    for token in found:
        plain_text = plain_text.split(token)[-1]
    lines = plain_text.strip().splitlines()
    if lines and lines[-1].strip().endswith(":"):             # "### Instruction:", "USER:", "User:"
        found.append(lines[-1].strip())
    return found


def simulate(layout: Layout, messages: list[dict]) -> str:
    """What the Go template of `layout` yields for `messages` (as Ollama runs it), computed in Python."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    out = []
    if layout.system == "slot":
        out.append(layout.system_prefix + (system or layout.default_system))
    previous = ""
    turns = [m for m in messages if layout.system == "turn" or m["role"] != "system"]
    for i, message in enumerate(turns):
        out.append(layout.transitions.get((previous, message["role"]), ""))
        last = i == len(turns) - 1
        folded = (layout.system == "first_user" and previous == "") or (layout.system == "last_user" and last)
        if system and folded and message["role"] == "user":
            out.append(layout.system_prefix + system + layout.system_suffix)
        out.append(message["content"])
        previous = message["role"]
    if previous == "user":
        out.append(layout.generation)
    return "".join(out)


def go_template(layout: Layout) -> str:
    """The layout as an Ollama TEMPLATE (Go text/template over `.Messages`)."""
    out = []
    if layout.system == "slot":
        out.append(
            f"{_text(layout.system_prefix)}{{{{ if .System }}}}{{{{ .System }}}}{{{{ else }}}}"
            f"{_text(layout.default_system)}{{{{ end }}}}"
        )
    out.append('{{ $prev := "" }}{{ range $i, $m := .Messages }}')
    if layout.system != "turn":
        out.append('{{ if ne .Role "system" }}')
    branches = [
        f'{"if" if not i else "else if"} and (eq $prev "{a}") (eq .Role "{b}") }}}}{_text(text)}'
        for i, ((a, b), text) in enumerate(layout.transitions.items())
    ]
    out.append("".join("{{ " + branch for branch in branches) + "{{ end }}")
    if layout.system in ("first_user", "last_user"):
        where = '(eq $prev "")' if layout.system == "first_user" else "(eq (len (slice $.Messages $i)) 1)"
        out.append(
            f'{{{{ if and $.System (eq .Role "user") {where} }}}}{_text(layout.system_prefix)}{{{{ $.System }}}}'
            f"{_text(layout.system_suffix)}{{{{ end }}}}"
        )
    out.append("{{ .Content }}{{ $prev = .Role }}")
    if layout.system != "turn":
        out.append("{{ end }}")
    out.append(f'{{{{ end }}}}{{{{ if eq $prev "user" }}}}{_text(layout.generation)}{{{{ end }}}}')
    return "".join(out)


def _text(literal: str) -> str:
    """Literal template text (a quoted Go string where it would be read as an action), with today's date as
    Ollama's `currentDate`."""
    return CURRENT_DATE.join(_quoted(piece) for piece in literal.split(DATE))


def _quoted(literal: str) -> str:
    if "{{" in literal or "}}" in literal:
        return "{{ " + json.dumps(literal, ensure_ascii=False) + " }}"
    return literal


@contextlib.contextmanager
def _dated():
    """transformers' `strftime_now` writes DATE while the template is measured (it reads the module's
    `datetime.now()` when called; template variables cannot carry a function in)."""
    from unittest import mock

    from transformers.utils import chat_template_utils

    class Today:
        @staticmethod
        def now():
            return Today()

        def strftime(self, format: str) -> str:
            return DATE

    with mock.patch.object(chat_template_utils, "datetime", Today):
        yield


def layout_of(tokenizer) -> Layout:
    """The layout of a transformers tokenizer's chat template."""
    if not tokenizer.chat_template:
        raise TranslationError("the model has no chat template")

    def render(messages: list[dict], add_generation_prompt: bool) -> str:
        with _dated():
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)

    special = list(
        dict.fromkeys([*tokenizer.all_special_tokens, *(t.content for t in tokenizer.added_tokens_decoder.values())])
    )
    return measure(render, tokenizer.bos_token, special, tokenizer.eos_token)
