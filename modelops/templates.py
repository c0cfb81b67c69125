"""Jinja templates: the project's `templates/` folder, which an installed wheel carries as
`modelops/template_files/`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

_INSTALLED = Path(__file__).resolve().parent / "template_files"
TEMPLATE_DIR = _INSTALLED if _INSTALLED.is_dir() else Path(__file__).resolve().parent.parent / "templates"


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    from modelops.escape import html_spans, md_spans, md_text

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=lambda name: bool(name) and ".html" in name,   # HTML escaped; configs and Modelfiles verbatim
        keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    )
    environment.filters["md"] = md_text     # Markdown-inert text (reports)
    environment.filters["md_spans"] = md_spans
    environment.filters["code_spans"] = html_spans
    return environment


def render(template_name: str, **context: Any) -> str:
    return _environment().get_template(template_name).render(**context)
