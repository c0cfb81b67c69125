'''What a Modelfile value may hold, decided once for the plan's check of the recipe and the runner's check
of what it translated: a `"""…"""` block (SYSTEM, TEMPLATE, LICENSE, MESSAGE) cannot escape `"""`, nor a
`"` at either end; a PARAMETER value sits on one line between quotes.'''

from __future__ import annotations


def ends_block_early(text: str) -> bool:
    return '"""' in text or text.startswith('"') or text.endswith('"')


def ends_parameter_line(text: str) -> bool:
    return '"' in text or not text.isprintable()
