"""Translate a Hugging Face (Jinja) chat template into an Ollama (Go `text/template`) TEMPLATE.

Rather than matching template source text, the model's own template is rendered through transformers
on probe conversations with marker contents; the text between the markers is what the template puts
around each turn. The system message is found where the probes with and without one differ: a turn of
its own, or a block (perhaps standing in for a default text, as Qwen's and Kimi's do) inside the opening
of the first user turn (Gemma, Llama 3.1's header, gpt-oss's developer message) or of the last (Mistral).
The layout found is checked on longer conversations before it is trusted: a template it cannot reproduce
is refused, and the recipe can then give `deploy.ollama.template` itself.

Templates that need more than messages are probed as they accept: contents as lists of parts, an empty
tool list, a `functions` text. Ollama executes a TEMPLATE that uses `.Messages` with every message (system
ones included) and `.System` holding the system text; it adds the BOS token itself, so a leading BOS is
left out. A template that writes today's date (`strftime_now`, as Llama 3.2 and Granite do) gets Ollama's
`{{ currentDate }}`, the date on the day of each request (as YYYY-MM-DD, whatever format the template
asked for), never the date of the build. A template that fails on a plain conversation is refused, saying
why."""

from __future__ import annotations

import contextlib
import functools
import json
import os
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

Render = Callable[..., str]          # (messages, add_generation_prompt, **variables) -> the prompt, no BOS
NEEDED = {  # variables some templates read without a default, as Ollama's prompt has them without tools
    "tools": [], "documents": [], "functions": "[]", "datetime": DATE,
}


class TranslationError(ValueError):
    pass


@dataclass
class Layout:
    """What a chat template writes around each turn, as transitions between roles ('' = the start).

    The system text goes in a block (`system_prefix` + text + `system_suffix`, or `default_system` when
    there is none) placed `system_at` characters before the end of the opening text of the first user turn
    (`first`) or of the last (`last`); a `turn` template writes system messages as turns of their own;
    `none` means the template refuses them, `ignored` that it leaves them out."""

    transitions: dict[tuple[str, str], str]
    generation: str                      # after the last user turn: the assistant's header
    system: str                          # turn | first | last | none (refused) | ignored
    system_at: int = 0
    system_prefix: str = ""
    system_suffix: str = ""
    default_system: str = ""
    stops: list[str] = field(default_factory=list)
    family: str = "custom"
    variables: dict = field(default_factory=dict)    # what the template needed besides the messages
    parts: bool = False                  # whether it read contents as lists of parts
    thinking: tuple[Layout, Layout] | None = None    # with `enable_thinking` true and false, where it differs

    @property
    def takes_system(self) -> bool:
        return self.system not in ("none", "ignored")

    @property
    def dated(self) -> bool:
        """Whether the template writes today's date (translated to Ollama's `currentDate`)."""
        return any(DATE in text for text in _texts(self))


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


def as_parts(messages: list[dict]) -> list[dict]:
    """The messages with each content as a list of one text part (as multimodal templates read them)."""
    return [m | {"content": [{"type": "text", "text": m["content"]}]} for m in messages]


class _Probe:
    """Renders probe conversations the way the template accepts them: plainly, else with contents as lists
    of parts, else with the variables it needs and Ollama cannot pass (an empty tool list, today's date).
    The first way that renders is kept for the later probes, and reported in the layout."""

    def __init__(self, render: Render, needs: set[str]):
        self.render = render
        required = {name: value for name, value in NEEDED.items() if name in needs}
        self.ways = [({}, False), ({}, True)] + ([(required, False), (required, True)] if required else [])

    def __call__(self, messages: list[dict]) -> str:
        first_error = None
        for variables, parts in self.ways:
            try:
                text = self.render(as_parts(messages) if parts else messages, True, **variables)
            except Exception as exc:                # an undefined variable, raise_exception on role order, ...
                first_error = first_error or exc
                continue
            self.ways.remove((variables, parts))
            self.ways.insert(0, (variables, parts))
            return text
        roles = "/".join(m["role"] for m in messages)
        reason = str(first_error).splitlines()[0][:200] if str(first_error) else ""
        raise TranslationError(f"the chat template fails on a {roles} conversation "
                               f"({type(first_error).__name__}: {reason})")

    @property
    def used(self) -> tuple[dict, bool]:
        return self.ways[0]


def measure(render: Render, special_tokens: list[str], eos: str | None, needs: frozenset[str] = frozenset()) -> Layout:
    """The layout of the chat template behind `render(messages, add_generation_prompt, **variables)`;
    `needs` names the variables the template reads."""
    probe = _Probe(render, set(needs))
    plain = probe(_conversation(U1, A1, U2, system=False))
    start, user_assistant, assistant_user, generation = _between(plain, U1, A1, U2)
    transitions = {("", "user"): start, ("user", "assistant"): user_assistant, ("assistant", "user"): assistant_user}
    try:
        with_system = probe(_conversation(U1, A1, U2, system=True))
    except TranslationError:                         # templates that refuse a system message (Gemma 1 and 2)
        layout = Layout(transitions, generation, "none")
    else:
        layout = _system_layout(plain, with_system, transitions, generation)
    layout.stops = _stops(layout, special_tokens, eos)
    layout.family = next((name for token, name in FAMILIES.items() if token in plain), "custom")
    system = layout.takes_system
    for check in (_conversation(U1, A1, U2, A2, U3, system=system), _conversation(U1, system=system)):
        if simulate(layout, check) != probe(check):
            raise TranslationError("the chat template is not a sequence of turns: a Go template cannot reproduce it")
    layout.variables, layout.parts = probe.used
    return layout


def _system_layout(plain: str, with_system: str, transitions: dict, generation: str) -> Layout:
    """Where the system text goes: the probe with a system message against the one without differ in one
    place, a block holding the text (which may stand in for a default text)."""
    if with_system.endswith(plain) and S in with_system[: len(with_system) - len(plain)]:
        return _turn_layout(with_system, plain, transitions, generation)
    if with_system == plain:                # Phi-3 medium, NuExtract, Llama Pro: it leaves system messages out
        return Layout(transitions, generation, "ignored")
    if with_system.count(S) != 1:
        raise TranslationError("the chat template does not write the system message once")
    system_at = with_system.index(S)        # the common ends stop short of it (a default text may end alike)
    at = min(len(os.path.commonprefix([plain, with_system])), system_at)
    room = min(len(plain) - at, len(with_system) - system_at - len(S))
    tail = min(len(os.path.commonprefix([plain[::-1], with_system[::-1]])), room)
    default, block = plain[at: len(plain) - tail], with_system[at: len(with_system) - tail]
    if not any(marker in default for marker in (U1, A1, U2)):
        for mode, key, marker in (("first", ("", "user"), U1), ("last", ("assistant", "user"), U2)):
            end = plain.index(marker)
            opening = transitions[key]
            begin = end - len(opening)
            if begin <= at and at + len(default) <= end:
                cut = at - begin
                after = opening[cut + len(default):]
                prefix, suffix = block.split(S)
                return Layout(transitions | {key: opening[:cut] + after}, generation, mode, len(after),
                              prefix, suffix, default)
    raise TranslationError("the chat template places the system message in a way that cannot be translated")


def _turn_layout(with_system: str, plain: str, transitions: dict, generation: str) -> Layout:
    system_part = with_system[: len(with_system) - len(plain)]
    before, after = system_part.split(S)
    return Layout(transitions | {("", "system"): before, ("system", "user"): after + transitions[("", "user")]},
                  generation, "turn")


def _stops(layout: Layout, special_tokens: list[str], eos: str | None) -> list[str]:
    """What ends an assistant turn, then what an answer never contains: the special tokens after an answer,
    the EOS, the special tokens of the role headers (the system's too), and the plain-text role markers
    ("USER:")."""
    answer_end, answer_start = layout.transitions[("assistant", "user")], layout.transitions[("user", "assistant")]
    headers = [answer_start, layout.transitions.get(("", "system"), ""), layout.transitions.get(("system", "user"), ""),
               layout.system_prefix, layout.system_suffix]
    found = []
    for text in (answer_end, None, *headers):
        if text is None:
            found += [eos] if eos and eos not in found else []
            continue
        found += sorted((t for t in special_tokens if t and t in text and t not in found), key=text.index)
    for text in (answer_end, answer_start):
        plain_text = text
        for token in found:
            plain_text = plain_text.split(token)[-1]
        lines = plain_text.strip().splitlines()
        if lines and lines[-1].strip().endswith(":") and lines[-1].strip() not in found:
            found.append(lines[-1].strip())          # "### Instruction:", "USER:", "Assistant:"
    return found


def _system_here(layout: Layout, previous: str, last: bool) -> bool:
    """Whether the system block goes into the opening of this user turn."""
    return (layout.system == "first" and previous == "") or (layout.system == "last" and last)


def simulate(layout: Layout, messages: list[dict]) -> str:
    """What the Go template of `layout` yields for `messages` (as Ollama runs it), computed in Python."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    out = []
    previous = ""
    turns = [m for m in messages if layout.system == "turn" or m["role"] != "system"]
    for i, message in enumerate(turns):
        opening = layout.transitions.get((previous, message["role"]), "")
        if message["role"] == "user" and _system_here(layout, previous, i == len(turns) - 1):
            cut = len(opening) - layout.system_at
            block = layout.system_prefix + system + layout.system_suffix if system else layout.default_system
            opening = opening[:cut] + block + opening[cut:]
        out.append(opening + message["content"])
        previous = message["role"]
    if previous == "user":
        out.append(layout.generation)
    return "".join(out)


def go_template(layout: Layout) -> str:
    """The layout as an Ollama TEMPLATE (Go text/template over `.Messages`)."""
    out = ['{{ $prev := "" }}{{ range $i, $m := .Messages }}']
    if layout.system != "turn":
        out.append('{{ if ne .Role "system" }}')
    branches = [
        f'{"if" if not i else "else if"} and (eq $prev "{a}") (eq .Role "{b}") }}}}{_opening(layout, a, b)}'
        for i, (a, b) in enumerate(layout.transitions)
    ]
    out.append("".join("{{ " + branch for branch in branches) + "{{ end }}")
    out.append("{{ .Content }}{{ $prev = .Role }}")
    if layout.system != "turn":
        out.append("{{ end }}")
    out.append(f'{{{{ end }}}}{{{{ if eq $prev "user" }}}}{_literal(layout, lambda v: v.generation)}{{{{ end }}}}')
    return "".join(out)


def _literal(layout: Layout, text_of: Callable[[Layout], str]) -> str:
    """A text of the layout; where thinking on and off write it differently, Ollama's choice between them
    (`think` unset: the template's default)."""
    text = text_of(layout)
    if not layout.thinking or all(text_of(variant) == text for variant in layout.thinking):
        return _text(text)
    on, off = (_text(text_of(variant)) for variant in layout.thinking)
    chosen = f"{{{{ if $.Think }}}}{on}{{{{ else }}}}{off}{{{{ end }}}}"
    return f"{{{{ if $.IsThinkSet }}}}{chosen}{{{{ else }}}}{_text(text)}{{{{ end }}}}"


def _opening(layout: Layout, previous: str, role: str) -> str:
    """A turn's opening text, with the system block where the layout puts it (as `simulate` does)."""
    key = (previous, role)
    if role != "user" or not (_system_here(layout, previous, True) or layout.system == "last"):
        return _literal(layout, lambda v: v.transitions[key])
    system = (f"{{{{ if $.System }}}}{_literal(layout, lambda v: v.system_prefix)}{{{{ $.System }}}}"
              f"{_literal(layout, lambda v: v.system_suffix)}")
    default = _literal(layout, lambda v: v.default_system)
    system += f"{{{{ else }}}}{default}{{{{ end }}}}" if default else "{{ end }}"
    if layout.system == "last":
        system = f"{{{{ if eq (len (slice $.Messages $i)) 1 }}}}{system}{{{{ end }}}}"
    before = _literal(layout, lambda v: v.transitions[key][: len(v.transitions[key]) - v.system_at])
    after = _literal(layout, lambda v: v.transitions[key][len(v.transitions[key]) - v.system_at:])
    return before + system + after


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


def _renderer(tokenizer) -> Render:
    """transformers' rendering of the tokenizer's chat template, with today's date as DATE and the leading
    BOS left out (Ollama adds it)."""
    bos = tokenizer.bos_token

    def render(messages: list[dict], add_generation_prompt: bool, **variables) -> str:
        with _dated():
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt,
                                                 **variables)
        return text[len(bos):] if bos and text.startswith(bos) else text

    return render


def layout_of(tokenizer) -> Layout:
    """The layout of a transformers tokenizer's chat template."""
    if not tokenizer.chat_template:
        raise TranslationError("the model has no chat template")
    from transformers.utils.chat_template_utils import _get_template_variables

    special = list(
        dict.fromkeys([*tokenizer.all_special_tokens, *(t.content for t in tokenizer.added_tokens_decoder.values())])
    )
    needs = _get_template_variables(tokenizer.chat_template)
    render = _renderer(tokenizer)
    layout = measure(render, special, tokenizer.eos_token, needs)
    if "enable_thinking" in needs:
        layout.thinking = _thinking(layout, render, special, tokenizer.eos_token, needs)
    return layout


def _thinking(layout: Layout, render: Render, special: list[str], eos: str | None,
              needs: frozenset[str]) -> tuple[Layout, Layout] | None:
    """The layouts with thinking switched on and off (Ollama's `think`), when they differ from the default
    only in their texts; None when the switch cannot be followed (then `think` changes nothing)."""
    variants = []
    for on in (True, False):
        try:
            variant = measure(functools.partial(render, enable_thinking=on), special, eos, needs)
        except TranslationError:
            return None
        if (variant.system, variant.system_at, list(variant.transitions)) != (
                layout.system, layout.system_at, list(layout.transitions)):
            return None
        variants.append(variant)
    return (variants[0], variants[1]) if any(_texts(v) != _texts(layout) for v in variants) else None


def _texts(layout: Layout) -> list[str]:
    return [*layout.transitions.values(), layout.generation, layout.system_prefix, layout.system_suffix,
            layout.default_system]


def first_difference(tokenizer, layout: Layout, conversations: list[list[dict]]) -> str | None:
    """Where Ollama's prompt from the TEMPLATE (as `simulate` computes it) differs from the model's own
    chat template on conversations users will send, or None. The layout was measured on marker contents;
    real contents can meet what markers do not (a `trim`, a check of the content)."""
    render = _renderer(tokenizer)
    for number, messages in enumerate(conversations, 1):
        kept = [m for m in messages if layout.takes_system or m["role"] != "system"]
        try:
            expected = render(as_parts(kept) if layout.parts else kept, True, **layout.variables)
        except Exception as exc:
            return f"conversation {number}: the chat template fails on it ({type(exc).__name__}: {str(exc)[:200]})"
        got = simulate(layout, messages)
        if got != expected:
            at = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
                      min(len(got), len(expected)))
            return (f"conversation {number}, character {at}: the TEMPLATE writes {got[max(at - 30, 0): at + 30]!r}, "
                    f"the model's chat template {expected[max(at - 30, 0): at + 30]!r}")
    return None
