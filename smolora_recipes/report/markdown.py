"""report.md: the report's document rendered as Markdown, for a pull request."""

from __future__ import annotations

from typing import Any

from smolora_recipes.core.text_format import cell, markdown_table, shown
from smolora_recipes.data.preview import LEGEND, bracketed, heading
from smolora_recipes.report import document as doc


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown for a pull request."""
    lines: list[str] = []
    for block in doc.document(report):
        rendered = block_lines(block)
        if rendered:
            lines += [*rendered, ""]
    return "\n".join(lines).rstrip() + "\n"


def block_lines(block: doc.Block) -> list[str]:
    """One block as Markdown lines (a figure has none: Markdown shows no inline images)."""
    match block:
        case doc.Title(name, status):
            return [f"# {name}: {doc.STATUS_MARK.get(status, status)}"]
        case doc.Heading(text, level):
            return [f"{'#' * level} {text}"]
        case doc.Paragraph(parts):
            return [_inline(parts)]
        case doc.Caution(text):
            return [f"> **Warning:** {text}"]
        case doc.Failure(step, kind, message, log):
            return [
                f"**Failed at step `{step}`**: `{kind}`",
                "",
                "```",
                message,
                "```",
                f"Log: `{log}`",
            ]
        case doc.Table(header, rows, _):
            return markdown_table(header, ([_cell(value) for value in row] for row in rows))
        case doc.Pairs(items):
            return [", ".join(f"{name} {cell(value)}" for name, value in items)]
        case doc.CodeList(intro, items):
            return [intro, "", *(f"- `{line}`" for line in items)]
        case doc.Examples(examples):
            lines = [f"_{LEGEND}_"]
            for example in examples:
                lines += ["", f"`{heading(example)}`", "", "```", bracketed(example), "```"]
            return lines
        case doc.Figure():
            return []
    raise TypeError(f"no Markdown for {type(block).__name__}")


def _inline(parts: list[doc.Text]) -> str:
    marks = {"plain": "", "code": "`", "strong": "**"}
    return "".join(f"{marks[part.style]}{part.text}{marks[part.style]}" for part in parts)


def _cell(value: doc.Cell) -> str:
    if value.code:
        return f"`{shown(value.value)}`"
    mark = "" if value.mark is None else (" ✓" if value.mark else " ✗")
    return cell(value.value) + mark
