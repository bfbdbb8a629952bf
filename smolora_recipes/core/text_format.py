"""Plain-text formatting shared by reports and commands: table cells, sizes, Markdown tables."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

CELL_LIMIT = 300


def shown(value: Any, limit: int | None = None) -> str:
    """A value as a person reads it: `-` for none, floats to 4 digits, lists and mappings as
    JSON; cut to `limit` characters when given."""
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, list | dict):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def cell(value: Any, limit: int = CELL_LIMIT) -> str:
    """A value as one Markdown table cell: pipes escaped, newlines as <br>, long text cut."""
    text = shown(value, limit)
    return text.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def human_bytes(count: int | None) -> str:
    """1536 -> '1.5 KiB'."""
    if count is None:
        return "-"
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def markdown_table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    """Lines of a Markdown table (cells already escaped, e.g. with `cell`)."""
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def last_lines(text: str, count: int, empty: str = "no message") -> str:
    """The last `count` non-blank lines of a tool's output, joined with ` / ` for a one-line
    error; `empty` when it printed nothing."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines[-count:]) or empty
