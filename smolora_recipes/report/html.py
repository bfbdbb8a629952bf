"""report.html: the report's document as one self-contained page (inline CSS and SVG)."""

from __future__ import annotations

from html import escape
from typing import Any

from smolora_recipes.core.text_format import shown
from smolora_recipes.data.preview import heading, highlighted_html
from smolora_recipes.report import document as doc

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1 .ok{color:#17803d}h1 .failed{color:#b42318}h1 .interrupted{color:#b54708}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.92em}
td,th{border:1px solid #ddd;padding:.3em .6em;vertical-align:top;text-align:left}
th{background:#f5f5f5}pre{background:#fff4f4;padding:1em;white-space:pre-wrap}
pre.example{background:#f7f7f7}mark{background:#fde68a}
.good{background:#ecfdf3}.bad{background:#fef3f2}figure{margin:1em 0}code{font-size:.95em}
"""


def render_html(report: dict[str, Any]) -> str:
    """The whole report as one HTML page with inline CSS and SVG figures (no external assets)."""
    blocks = doc.document(report)
    title = blocks[0]
    assert isinstance(title, doc.Title)
    head = escape(f"{title.name}: {title.status}")
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{head}</title>'
        f"<style>{STYLE}</style></head><body>{''.join(map(block_html, blocks))}</body></html>\n"
    )


def block_html(block: doc.Block) -> str:
    """One block as HTML."""
    match block:
        case doc.Title(name, status):
            mark = escape(doc.STATUS_MARK.get(status, status))
            return f'<h1>{escape(name)}: <span class="{escape(status)}">{mark}</span></h1>'
        case doc.Heading(text, level):
            return f"<h{level}>{escape(text)}</h{level}>"
        case doc.Paragraph(parts):
            return f"<p>{''.join(map(_inline, parts))}</p>"
        case doc.Caution(text):
            return f"<p><strong>Warning:</strong> {_text(text)}</p>"
        case doc.Failure(step, kind, message, log):
            return (
                f"<h2>Failed at step {_text(step)}: {_text(kind)}</h2>"
                f"<pre>{escape(message)}</pre><p>Log: <code>{_text(log)}</code></p>"
            )
        case doc.Table(header, rows, classes):
            return _table(header, [[_cell(value) for value in row] for row in rows], classes)
        case doc.Pairs(items):
            return _table(["", "value"], [[_text(name), _text(value)] for name, value in items])
        case doc.CodeList(intro, lines):
            items = "".join(f"<li><code>{escape(line)}</code></li>" for line in lines)
            return f"<p>{_text(intro)}</p><ul>{items}</ul>"
        case doc.Examples(examples):
            legend = "<p><mark>marked</mark>: tokens that carry the loss</p>"
            return legend + "".join(
                f"<p><code>{escape(heading(example))}</code></p>"
                f'<pre class="example">{highlighted_html(example)}</pre>'
                for example in examples
            )
        case doc.Figure(svg, caption):
            return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"
    raise TypeError(f"no HTML for {type(block).__name__}")


def _table(header: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{escape(name)}</th>" for name in header)
    body = []
    for index, row in enumerate(rows):
        css = f' class="{classes[index]}"' if classes and classes[index] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{value}</td>" for value in row) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _text(value: Any) -> str:
    return escape(shown(value)).replace("\n", "<br>")


def _inline(part: doc.Text) -> str:
    tag = {"plain": "", "code": "code", "strong": "strong"}[part.style]
    return f"<{tag}>{escape(part.text)}</{tag}>" if tag else _text(part.text)


def _cell(value: doc.Cell) -> str:
    return f"<code>{escape(shown(value.value))}</code>" if value.code else _text(value.value)
