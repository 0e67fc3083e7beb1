"""Report formats. Each is a function ``render(report, **options) -> str``; none judges
anything. Options a format does not use are ignored (``color``/``width`` for the table,
``history`` for html)."""

from __future__ import annotations

from collections.abc import Callable

from ...model import Report
from . import csv_format, html, json_format, markdown, table

FORMATS: dict[str, Callable[..., str]] = {
    "table": table.render,
    "json": json_format.render,
    "csv": csv_format.render,
    "markdown": markdown.render,
    "html": html.render,
}


def render(report: Report, fmt: str, **options) -> str:
    try:
        fn = FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}") from None
    return fn(report, **options)
