"""The report as one document: report.json -> an ordered list of typed blocks.

Both renderings (`markdown.py`, `html.py`) walk the same blocks and know nothing of the
report's sections, so a section added here appears in report.md and report.html alike.
Figures are drawn only in HTML; Markdown has no inline images.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from smolora_recipes.core.text_format import human_bytes, shown
from smolora_recipes.report.charts import Series, histogram, line_chart
from smolora_recipes.report.rows import (
    accuracy_line,
    data_rows,
    merge_line,
    metric_rows,
    skipped_lines,
)

# marks every text font has (U+2713, U+2717, U+2016): no emoji font needed
STATUS_MARK = {"ok": "✓ ok", "failed": "✗ failed", "interrupted": "‖ interrupted"}


@dataclass
class Text:
    """A run of inline text: plain, `code`, or **strong**."""

    text: str
    style: Literal["plain", "code", "strong"] = "plain"


@dataclass
class Title:
    """The report's first line: the recipe's name and the run's status."""

    name: str
    status: str


@dataclass
class Heading:
    """A section heading (level 2) or a sub-heading (level 3)."""

    text: str
    level: int = 2


@dataclass
class Paragraph:
    """A line of inline text."""

    parts: list[Text]


@dataclass
class Caution:
    """Something the reader must not miss, set apart from the text."""

    text: str


@dataclass
class Failure:
    """Where and how the run failed, with the message verbatim and the log to read."""

    step: str
    kind: str
    message: str
    log: str


@dataclass
class Cell:
    """One table cell: a value shown as text or as code, optionally marked right or wrong."""

    value: Any
    code: bool = False
    mark: bool | None = None


@dataclass
class Table:
    """A table; `row_classes` names a class per row ("good", "bad", or "") where rows differ."""

    header: list[str]
    rows: list[list[Cell]]
    row_classes: list[str] = field(default_factory=list)


@dataclass
class Pairs:
    """Short name/value pairs: one line in Markdown, a table in HTML."""

    items: list[tuple[str, Any]]


@dataclass
class CodeList:
    """An introduced list of verbatim lines."""

    intro: str
    lines: list[str]


@dataclass
class Examples:
    """Training examples as the model sees them, with the tokens that carry the loss marked."""

    examples: list[dict[str, Any]]


@dataclass
class Figure:
    """An inline SVG figure with its caption (HTML only)."""

    svg: str
    caption: str


Block = (
    Title | Heading | Paragraph | Caution | Failure | Table | Pairs | CodeList | Examples | Figure
)


def code(text: Any) -> Text:
    """Inline code."""
    return Text(str(text), "code")


def document(report: dict[str, Any]) -> list[Block]:
    """The blocks of a report, in reading order; missing sections are left out."""
    recipe = report.get("recipe") or {}
    blocks: list[Block] = [Title(str(recipe.get("name", "run")), report.get("status", "unknown"))]
    if recipe.get("description"):
        blocks.append(Paragraph([Text(recipe["description"])]))
    blocks += [Caution(str(warning)) for warning in report.get("warnings") or []]
    error = report.get("error")
    if error:
        blocks.append(
            Failure(
                str(error.get("step")),
                str(error.get("type")),
                str(error.get("message", "")),
                str(error.get("log")),
            )
        )
    # what a user came for first (answers, accuracy, loss), then how it was made
    blocks += _samples_blocks(report.get("samples"))
    blocks += _eval_blocks(report.get("eval"))
    blocks += _export_blocks(report.get("export"))
    blocks += _training_blocks(report)
    blocks += _tracking_blocks(report.get("tracking") or [])
    blocks += _data_blocks(report.get("data") or {})
    blocks += _run_blocks(report)
    blocks += _steps_blocks(report.get("steps") or [])
    blocks.append(Paragraph([Text(merge_line(report.get("merge")))]))
    blocks += _environment_blocks(report.get("environment") or {})
    blocks += _artifact_blocks(report.get("artifacts") or [])
    return blocks


def _run_blocks(report: dict[str, Any]) -> list[Block]:
    """Which run this is, the references its recipe was read through, and its summary."""
    blocks: list[Block] = []
    run = report.get("run") or {}
    if run:
        where = [Text("Run "), code(run.get("id")), Text(" in "), code(run.get("dir"))]
        took = Text(f", {shown(run.get('duration_s'))} s: ")
        blocks.append(Paragraph([*where, took, code(run.get("command"))]))
    recipe = report.get("recipe") or {}
    for ref in recipe.get("references") or []:
        pinned = [Text(" at commit "), code(ref["commit"])] if ref.get("commit") else []
        blocks.append(Paragraph([Text("Recipe reference "), code(ref["reference"]), *pinned]))
    summary = recipe.get("summary") or {}
    if summary:
        rows = [[Cell(key, code=True), Cell(value)] for key, value in summary.items()]
        blocks += [Heading("Recipe"), Table(["field", "value"], rows)]
    return blocks


def _steps_blocks(steps: list[dict[str, Any]]) -> list[Block]:
    rows = [
        [
            Cell(step.get("name", "")),
            Cell(step.get("status", "")),
            Cell(step.get("outcome")),
            Cell(step.get("duration_s")),
            Cell(_peak_memory(step)),
            Cell(str(step.get("fingerprint", ""))[:12], code=True),
        ]
        for step in steps
    ]
    header = ["step", "status", "outcome", "seconds", "peak memory (MiB)", "fingerprint"]
    return [Heading("Steps"), Table(header, rows)]


def _peak_memory(step: dict[str, Any]) -> str | None:
    """Peak resident memory of a step, and its peak CUDA memory where it used a GPU."""
    rss, gpu = step.get("peak_rss_mb"), step.get("peak_gpu_mb")
    if rss is None:
        return None
    return f"{rss:,.0f}" + (f" (GPU {gpu:,.0f})" if gpu is not None else "")


def _labelled_section(
    title: str, header: list[str], rows: list[tuple[str, Any]], figure: str | None, caption: str
) -> list[Block]:
    """A heading and a two-column table (when there are rows), then the figure (when drawn)."""
    blocks: list[Block] = []
    if rows:
        table = [[Cell(label), Cell(value)] for label, value in rows]
        blocks += [Heading(title), Table(header, table)]
    if figure:
        blocks.append(Figure(figure, caption))
    return blocks


def _training_blocks(report: dict[str, Any]) -> list[Block]:
    figure = loss_figure(report.get("train") or {})
    return _labelled_section(
        "Training", ["metric", "value"], metric_rows(report), figure, "Loss by optimizer step"
    )


def _data_blocks(data: dict[str, Any]) -> list[Block]:
    blocks = _labelled_section(
        "Data", ["", "count"], data_rows(data), length_figure(data), "Example lengths"
    )
    skipped = skipped_lines(data)
    if skipped:
        blocks.append(CodeList("Skipped as malformed (first ones):", skipped))
    examples = data.get("examples_preview") or []
    if examples:
        blocks += [Heading("Training examples as the model sees them", 3), Examples(examples)]
    return blocks


def _samples_blocks(samples: dict[str, Any] | None) -> list[Block]:
    if not samples or not samples.get("items"):
        return []
    blocks: list[Block] = [Heading("Samples")]
    accuracy = accuracy_line(samples)
    if accuracy:
        match = Text(f" (match: {samples.get('match')})")
        blocks.append(Paragraph([Text(accuracy, "strong"), match]))
    rows, classes = [], []
    for item in samples["items"]:
        rows.append(
            [
                Cell(item.get("prompt")),
                Cell(item.get("expect")),
                Cell(item.get("base"), mark=item.get("base_ok")),
                Cell(item.get("tuned"), mark=item.get("tuned_ok")),
            ]
        )
        ok = item.get("tuned_ok")
        classes.append("" if ok is None else ("good" if ok else "bad"))
    blocks.append(Table(["prompt", "expected", "base", "tuned"], rows, classes))
    return blocks


def _eval_blocks(evaluation: dict[str, Any] | None) -> list[Block]:
    """Each task's metrics, base and tuned side by side, with their standard errors."""
    if not evaluation or not evaluation.get("scores"):
        return []
    rows = []
    for score in evaluation["scores"]:
        base, tuned = score.get("base"), score.get("tuned")
        change = None if base is None or tuned is None else f"{tuned - base:+.3f}"
        rows.append(
            [
                Cell(score.get("task"), code=True),
                Cell(score.get("metric")),
                Cell(_with_stderr(base, score.get("base_stderr"))),
                Cell(_with_stderr(tuned, score.get("tuned_stderr"))),
                Cell(change),
            ]
        )
    took = Paragraph([Text(f"lm-evaluation-harness, {shown(evaluation.get('seconds'))} s")])
    header = ["task", "metric", "base", "tuned", "change"]
    return [Heading("Evaluation"), Table(header, rows), took]


def _with_stderr(value: float | None, stderr: float | None) -> str | None:
    if value is None:
        return None
    return f"{value:.3f}" + ("" if stderr is None else f" ± {stderr:.3f}")


def _export_blocks(export: dict[str, Any] | None) -> list[Block]:
    """Each GGUF with its size and how its llama.cpp answers compare, then the Modelfile."""
    if not export or not export.get("ggufs"):
        return []
    rows = []
    for gguf in export["ggufs"]:
        answered = gguf.get("answered")
        base = gguf.get("base_identical")
        expected = gguf.get("expected")
        rows.append(
            [
                Cell(gguf.get("file"), code=True),
                Cell(human_bytes(gguf.get("bytes"))),
                Cell(None if expected is None else f"{expected}/{gguf.get('scored')}"),
                Cell(f"{gguf.get('identical')}/{answered}"),
                Cell(None if base is None else f"{base}/{answered}"),
                Cell(gguf.get("seconds")),
            ]
        )
    header = ["file", "size", "expected", "identical to merged", "base identical", "seconds"]
    blocks: list[Block] = [Heading("Export (answers in llama.cpp)"), Table(header, rows)]
    if export.get("modelfile"):
        checked = export.get("modelfile_prompts")
        blocks.append(
            Paragraph(
                [
                    code("export/" + str(export["modelfile"])),
                    Text(
                        f": its TEMPLATE renders {checked}/{checked} sample prompts as the run's "
                        "chat template does; "
                    ),
                    code("ollama create NAME -f export/Modelfile"),
                ]
            )
        )
    return blocks


def _tracking_blocks(tracking: list[dict[str, str]]) -> list[Block]:
    """Where each tracker logged the run: its folder, store and run id, or page."""
    rows = []
    for where in tracking:
        shown = [where.get("folder") or where.get("uri") or where.get("url")]
        shown += [where.get("run_id"), where.get("open")]
        rows.append([Cell(where["tracker"])] + [Cell(value, code=bool(value)) for value in shown])
    header = ["tracker", "where", "run id", "look at it"]
    return [Heading("Tracking"), Table(header, rows)] if rows else []


def _environment_blocks(environment: dict[str, Any]) -> list[Block]:
    return [Heading("Environment"), Pairs(list(environment.items()))] if environment else []


def _artifact_blocks(artifacts: list[dict[str, Any]]) -> list[Block]:
    if not artifacts:
        return []
    rows = [
        [
            Cell(artifact.get("path"), code=True),
            Cell(human_bytes(artifact.get("bytes"))),
            Cell(str(artifact.get("sha256"))[:12], code=True),
        ]
        for artifact in artifacts
    ]
    return [Heading("Artifacts"), Table(["path", "size", "sha256"], rows)]


def loss_figure(train: dict[str, Any]) -> str | None:
    """Train loss by step and eval loss points (log scale), as inline SVG; None without any."""
    history = train.get("loss_history") or []
    evals = train.get("eval_history") or []
    series = []
    if history:
        series.append(Series("train loss", [(h["step"], h["loss"]) for h in history], "#1f77b4"))
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
