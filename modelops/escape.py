"""Text from recipes and data, made inert for where it is shown: a terminal (no escape sequences), Markdown
for pull-request comments (no headings, fences, HTML, links or @mentions breaking out), GitHub annotations."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_MD_PUNCTUATION = re.compile(r"([\\`*_\[\]|~])")     # what starts emphasis, code, links or cells mid-line


def _visible(char: str) -> str:
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def terminal(text: str) -> str:
    """Control characters (ESC, CR, BEL …) and bidirectional overrides shown as `\\x1b`, never acted on;
    newlines and tabs kept."""
    return _CONTROL.sub(lambda m: _visible(m.group(0)), text)


def one_line(text: str) -> str:
    """`terminal`, with newlines and tabs shown as `\\n` and `\\t` too."""
    return terminal(text).replace("\n", "\\n").replace("\t", "\\t")


def md_text(text: str) -> str:
    """Markdown-inert running text on one line (so nothing can start a heading, list or fence): emphasis,
    code, link and cell punctuation escaped, HTML tags as entities, @mentions broken by a zero-width space."""
    text = _MD_PUNCTUATION.sub(r"\\\1", one_line(text))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("@", "@\u200b")


def md_code(text: str, in_table: bool = False) -> str:
    """An inline code span that holds any text: a backtick run longer than any inside it, one line, and
    in a table cell `|` escaped (GitHub splits cells before it reads code spans)."""
    text = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") or not text.strip() else text
    return f"{ticks}{padded}{ticks}".replace("|", "\\|") if in_table else f"{ticks}{padded}{ticks}"


_CODE_SPAN = re.compile(r"`([^`\n]+)`")           # a code span of our own texts (verdicts, reasons, gates)


def md_spans(text: str, in_table: bool = False) -> str:
    """`md_text`, keeping the text's own `code` spans as code spans."""
    parts = _CODE_SPAN.split(text)
    return "".join(md_code(part, in_table) if i % 2 else md_text(part) for i, part in enumerate(parts))


def html_spans(text: object):
    """Escaped HTML of a text, its own `code` spans as <code> elements (a Markup, safe in any template)."""
    import markupsafe

    escaped = str(markupsafe.escape(str(text)))
    return markupsafe.Markup(_CODE_SPAN.sub(r"<code>\1</code>", escaped))


def md_fence(text: str, lang: str = "") -> list[str]:
    """A fenced block that no line inside can close: a fence longer than any backtick run in the text."""
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + lang, terminal(text).rstrip(), fence]


def github_property(text: str) -> str:
    """A value in a workflow command's properties (`file=…`)."""
    return github_message(text).replace(":", "%3A").replace(",", "%2C")


def github_message(text: str) -> str:
    """A workflow command's message: `%`, CR and LF escaped so that no second command can start."""
    return terminal(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))
