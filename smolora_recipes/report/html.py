"""report.html: the report as one self-contained page, with a loss curve and a length histogram."""

from __future__ import annotations

from html import escape
from typing import Any

from smolora_recipes.core.text_format import cell, human_bytes
from smolora_recipes.data.preview import heading, highlighted_html
from smolora_recipes.report.charts import Series, histogram, line_chart
from smolora_recipes.report.rows import (
    STATUS_MARK,
    accuracy_line,
    data_rows,
    merge_line,
    metric_rows,
    skipped_lines,
)

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1 .ok{color:#17803d}h1 .failed{color:#b42318}h1 .interrupted{color:#b54708}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.92em}
td,th{border:1px solid #ddd;padding:.3em .6em;vertical-align:top;text-align:left}
th{background:#f5f5f5}pre{background:#fff4f4;padding:1em;white-space:pre-wrap}
pre.example{background:#f7f7f7}mark{background:#fde68a}
.good{background:#ecfdf3}.bad{background:#fef3f2}figure{margin:1em 0}code{font-size:.95em}
"""


def _rows_html(header: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        css = f' class="{classes[index]}"' if classes and classes[index] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{value}</td>" for value in row) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _text(value: Any) -> str:
    return "-" if value is None else escape(str(value)).replace("\n", "<br>")


def loss_figure(train: dict[str, Any]) -> str | None:
    """Train loss by step and eval loss points (log scale), as inline SVG; None without any."""
    history = train.get("loss_history") or []
    evals = train.get("eval_history") or []
    series = []
    if history:
        points = [(h["step"], h["loss"]) for h in history]
        series.append(Series("train loss", points, "#1f77b4"))
    if evals:
        points = [(e["step"], e["eval_loss"]) for e in evals]
        series.append(Series("eval loss", points, "#d62728", dashed=True))
    if not series:
        return None
    return line_chart(series, "optimizer step", "loss", log_y=True)


def length_figure(data: dict[str, Any]) -> str | None:
    """Histogram of example lengths in tokens, as inline SVG."""
    counts = (data.get("token_lengths_histogram") or {}).get("counts")
    if not counts:
        return None
    edges = data["token_lengths_histogram"]["edges"]
    return histogram(edges, counts, "tokens per example", "examples")


def render_html(report: dict[str, Any]) -> str:
    """The whole report as one HTML page with inline CSS and SVG figures (no external assets)."""
    recipe = report.get("recipe") or {}
    status = report.get("status", "unknown")
    parts = [
        f"<h1>{escape(str(recipe.get('name', 'run')))}: "
        f'<span class="{escape(status)}">{escape(STATUS_MARK.get(status, status))}</span></h1>'
    ]
    if recipe.get("description"):
        parts.append(f"<p>{_text(recipe['description'])}</p>")
    parts += [f"<p><strong>Warning:</strong> {_text(w)}</p>" for w in report.get("warnings") or []]
    error = report.get("error")
    if error:
        parts.append(
            f"<h2>Failed at step {_text(error.get('step'))}: {_text(error.get('type'))}</h2>"
            f"<pre>{escape(str(error.get('message', '')))}</pre><p>Log: <code>"
            f"{_text(error.get('log'))}</code></p>"
        )
    summary = recipe.get("summary") or {}
    if summary:
        rows = [[f"<code>{escape(k)}</code>", _text(cell(v))] for k, v in summary.items()]
        parts.append("<h2>Recipe</h2>" + _rows_html(["field", "value"], rows))
    steps = [
        [
            _text(s.get("name")),
            _text(s.get("status")),
            _text(s.get("outcome")),
            _text(s.get("duration_s")),
            f"<code>{escape(str(s.get('fingerprint', ''))[:12])}</code>",
        ]
        for s in report.get("steps") or []
    ]
    parts.append(
        "<h2>Steps</h2>"
        + _rows_html(["step", "status", "outcome", "seconds", "fingerprint"], steps)
    )
    train = report.get("train") or {}
    metrics = metric_rows(report)
    if metrics:
        parts.append(
            "<h2>Training</h2>"
            + _rows_html(["metric", "value"], [[_text(a), _text(b)] for a, b in metrics])
        )
    figure = loss_figure(train)
    if figure:
        parts.append(f"<figure>{figure}<figcaption>Loss by optimizer step</figcaption></figure>")
    data = report.get("data") or {}
    rows = data_rows(data)
    if rows:
        parts.append(
            "<h2>Data</h2>" + _rows_html(["", "count"], [[_text(a), _text(b)] for a, b in rows])
        )
    histogram = length_figure(data)
    if histogram:
        parts.append(f"<figure>{histogram}<figcaption>Example lengths</figcaption></figure>")
    skipped = skipped_lines(data)
    if skipped:
        items = "".join(f"<li><code>{escape(line)}</code></li>" for line in skipped)
        parts.append(f"<p>Skipped as malformed (first ones):</p><ul>{items}</ul>")
    examples = data.get("examples_preview") or []
    if examples:
        parts.append(
            "<h3>Training examples as the model sees them</h3><p><mark>marked</mark>: "
            "tokens that carry the loss</p>"
        )
        parts.extend(
            f"<p><code>{escape(heading(example))}</code></p>"
            f'<pre class="example">{highlighted_html(example)}</pre>'
            for example in examples
        )
    parts.append(_samples_html(report.get("samples")))
    parts.append(f"<p>{_text(merge_line(report.get('merge')))}</p>")
    environment = report.get("environment") or {}
    if environment:
        parts.append(
            "<h2>Environment</h2>"
            + _rows_html(["", "value"], [[_text(k), _text(v)] for k, v in environment.items()])
        )
    artifacts = report.get("artifacts") or []
    if artifacts:
        parts.append(
            "<h2>Artifacts</h2>"
            + _rows_html(
                ["path", "size", "sha256"],
                [
                    [
                        f"<code>{_text(a.get('path'))}</code>",
                        _text(human_bytes(a.get("bytes"))),
                        f"<code>{_text(str(a.get('sha256'))[:12])}</code>",
                    ]
                    for a in artifacts
                ],
            )
        )
    title = escape(f"{recipe.get('name', 'run')}: {status}")
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n"
    )


def _samples_html(samples: dict[str, Any] | None) -> str:
    if not samples or not samples.get("items"):
        return ""
    accuracy = accuracy_line(samples)
    head = f"<p><strong>{escape(accuracy)}</strong></p>" if accuracy else ""
    rows, classes = [], []
    for item in samples["items"]:
        rows.append(
            [
                _text(item.get("prompt")),
                _text(item.get("expect")),
                _text(item.get("base")),
                _text(item.get("tuned")),
            ]
        )
        ok = item.get("tuned_ok")
        classes.append("" if ok is None else ("good" if ok else "bad"))
    return (
        "<h2>Samples</h2>"
        + head
        + _rows_html(["prompt", "expected", "base", "tuned"], rows, classes)
    )
