"""HTML tables for notebook reprs: one home, so every ``_repr_html_`` escapes the same way.

Everything shown may come from an ontology or a server (titles, labels, error messages), which
is untrusted input: every cell and caption is escaped here, and the markup carries no scripts,
no external resources and only inline style.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["cell", "facts", "grid"]

_TH = "<th style='text-align:left'>"


def cell(value: Any) -> str:
    """One value as escaped text: None is empty, lists are comma separated.

    Examples
    --------
    >>> cell("<b>")
    '&lt;b&gt;'
    >>> cell(None)
    ''
    """
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return html.escape(", ".join(str(v) for v in value))
    return html.escape(str(value))


def facts(caption: str, pairs: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of ``(name, value)``; empty values are left out.

    Examples
    --------
    >>> facts("x", [("a", 1), ("b", None)])
    "<table><caption>x</caption><tr><th style='text-align:left'>a</th><td>1</td></tr></table>"
    """
    rows = "".join(
        f"<tr>{_TH}{cell(name)}</th><td>{cell(value)}</td></tr>"
        for name, value in pairs
        if value not in (None, "", [], (), {})
    )
    return f"<table><caption>{cell(caption)}</caption>{rows}</table>"


def grid(caption: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A table with a header row; ``rows`` hold one value per column.

    Examples
    --------
    >>> "<td>&lt;x&gt;</td>" in grid("t", ["a"], [["<x>"]])
    True
    """
    head = "".join(f"{_TH}{cell(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    title = f"<caption>{cell(caption)}</caption>" if caption else ""
    return f"<table>{title}<tr>{head}</tr>{body}</table>"
