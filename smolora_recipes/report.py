"""Run reports: report.json (the record) rendered to report.md (for a pull request) and
report.html (self-contained, with figures). Markdown lives here; HTML in report_html.py."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from smolora_recipes.data.preview import LEGEND, bracketed, heading
from smolora_recipes.errors import Location, Problem, UserInputError
from smolora_recipes.permissions import current_umask

REPORT_VERSION = 1
CELL_LIMIT = 300
STATUS_MARK = {"ok": "✅ ok", "failed": "❌ failed", "interrupted": "⏸ interrupted"}


def write_report_files(run_dir: Path, report: dict[str, Any]) -> list[Path]:
    """Write report.json, report.md and report.html atomically; return their paths."""
    from smolora_recipes.report_html import render_html

    contents = {
        "report.json": json.dumps(report, indent=2, ensure_ascii=False) + "\n",
        "report.md": render_markdown(report),
        "report.html": render_html(report),
    }
    paths = []
    for name, text in contents.items():
        paths.append(write_atomic(run_dir / name, text))
    return paths


def write_atomic(path: Path, text: str) -> Path:
    """Write text to a temporary file next to `path`, then rename it into place; the file gets
    the permissions of any other new file (mkstemp alone would make it private, 0600)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o666 & ~current_umask())
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def load_report(run_dir: Path) -> dict[str, Any]:
    """Read a run's report.json, refusing a missing, corrupt or unknown-version file."""
    path = run_dir / "report.json"
    if not path.is_file():
        raise UserInputError(
            Problem("no report.json here", Location(str(run_dir)), hint="pass a run folder")
        )
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserInputError(
            Problem(f"report.json is not valid JSON: {error}", Location(str(path)))
        ) from None
    version = report.get("report_version") if isinstance(report, dict) else None
    if version != REPORT_VERSION:
        raise UserInputError(
            Problem(
                f"report_version {version!r} is not supported (this smolora reads "
                f"{REPORT_VERSION})",
                Location(str(path)),
                hint="re-render with the smolora version that wrote the run",
            )
        )
    return report


# --------------------------------------------------------------------------- formatting helpers


def cell(value: Any, limit: int = CELL_LIMIT) -> str:
    """A value as one Markdown table cell: pipes escaped, newlines as <br>, long text cut."""
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, list | dict):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
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


def accuracy_line(samples: dict[str, Any] | None) -> str | None:
    """'accuracy: base 0/24 (0%) -> tuned 24/24 (100%)', or None when nothing is scored."""
    if not samples or not samples.get("scored"):
        return None
    items = [i for i in samples.get("items", []) if i.get("expect") is not None]

    def part(key: str) -> str:
        values = [i.get(key) for i in items if i.get(key) is not None]
        if not values:
            return "n/a"
        return f"{sum(values)}/{len(values)} ({sum(values) / len(values):.0%})"

    return f"accuracy: base {part('base_ok')} -> tuned {part('tuned_ok')}"


def metric_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs of the headline training metrics."""
    train = report.get("train") or {}
    rows = []
    before, after = train.get("eval_loss_before"), train.get("eval_loss_after")
    if before is not None or after is not None:
        rows.append(("eval loss", f"{cell(before)} → {cell(after)}"))
    pairs = [
        ("final train loss", train.get("final_train_loss")),
        ("optimizer steps", _steps_text(train)),
        ("epochs", train.get("epochs")),
        ("trained tokens", train.get("trained_tokens")),
        ("tokens/s", train.get("tokens_per_second")),
        ("processes", train.get("world_size")),
        ("sequences per update", train.get("sequences_per_update")),
        ("rows per process", _listed(train.get("rows_per_process"))),
        ("adapted modules", ", ".join(train.get("target_modules") or []) or None),
        ("train wall time (s)", train.get("wall_time_s")),
        ("peak RSS (MiB)", train.get("peak_rss_mb")),
        ("peak GPU memory (MiB)", train.get("peak_gpu_mb")),
    ]
    rows.extend((label, cell(value)) for label, value in pairs if value is not None)
    return rows


def _steps_text(train: dict[str, Any]) -> str | None:
    steps, resumed = train.get("steps"), train.get("resumed_from_step")
    if steps is None or resumed is None:
        return steps
    return f"{steps} (resumed from step {resumed})"


def data_rows(data: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(label, value) pairs of the data statistics: per source, then the whole path."""
    if not data:
        return []
    rows: list[tuple[str, str]] = []
    for source in data.get("sources", []):
        name = f"{source.get('name')} ({source.get('type')})"
        rows.append((f"{name}: rows read", cell(source.get("rows"))))
        for label, key in (
            ("skipped as malformed", "skipped_errors"),
            ("removed by filter", "filtered_out"),
            ("beyond limit", "beyond_limit"),
        ):
            if source.get(key):
                rows.append((f"{name}: {label}", cell(source[key])))
        rows.append((f"{name}: examples", cell(source.get("examples"))))
    streaming = data.get("streaming") or {}
    if streaming:
        rows.append(("streaming: examples read ahead for eval", cell(streaming["examples_read"])))
        rows.append(
            (
                "streaming: training rows sampled for these statistics",
                cell(streaming["train_sample_rows"]),
            )
        )
    chunking = data.get("chunking") or {}
    if chunking:
        rows.append(("texts chunked (of texts)", f"{chunking['chunked']} of {chunking['texts']}"))
        rows.append(("chunks", cell(chunking["chunks"])))
        rows.append(("leftovers merged / dropped", _pair(chunking, "leftovers")))
    keys = [
        ("examples", "examples"),
        ("duplicates removed", "duplicates_removed"),
        ("train rows", "train_rows"),
        ("eval rows", "eval_rows"),
        ("train tokens", "train_tokens"),
        ("eval tokens", "eval_tokens"),
        ("split (longer than max_length)", "split"),
        ("truncated (longer than max_length)", "truncated"),
        ("dropped (longer than max_length)", "dropped"),
        ("share of tokens carrying loss", "loss_token_share"),
    ]
    rows.extend((label, cell(data.get(key))) for label, key in keys if key in data)
    return rows


def _pair(values: dict[str, Any], prefix: str) -> str:
    return f"{values[prefix + '_merged']} / {values[prefix + '_dropped']}"


def skipped_lines(data: dict[str, Any] | None) -> list[str]:
    """The first malformed lines each source skipped, quoted."""
    return [
        line
        for source in (data or {}).get("sources", [])
        for line in source.get("skipped_examples", [])
    ]


def merge_line(merge: dict[str, Any] | None) -> str:
    """One sentence on the merge and its verification."""
    if not merge or not merge.get("enabled"):
        return "merge: disabled"
    if merge.get("verified"):
        return (
            f"merge: verified (max |merged - adapter| {cell(merge.get('max_abs_diff_vs_adapter'))}"
            f" ≤ {cell(merge.get('tolerance'))}; max |merged - base| "
            f"{cell(merge.get('max_abs_diff_vs_base'))})"
        )
    return "merge: not verified"


def markdown_table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    """Lines of a Markdown table (cells already escaped, e.g. with `cell`)."""
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


# --------------------------------------------------------------------------- markdown


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown for a pull request."""
    recipe = report.get("recipe") or {}
    status = report.get("status", "unknown")
    lines = [f"# {recipe.get('name', 'run')}: {STATUS_MARK.get(status, status)}", ""]
    if recipe.get("description"):
        lines += [recipe["description"], ""]
    lines += [f"> **Warning:** {warning}\n" for warning in report.get("warnings") or []]
    error = report.get("error")
    if error:
        lines += [
            f"**Failed at step `{error.get('step')}`**: `{error.get('type')}`",
            "",
            "```",
            str(error.get("message", "")),
            "```",
            f"Log: `{error.get('log')}`",
            "",
        ]
    run = report.get("run") or {}
    if run:
        lines += [
            f"Run `{run.get('id')}` in `{run.get('dir')}`, {cell(run.get('duration_s'))} s: "
            f"`{run.get('command')}`",
            "",
        ]
    summary = recipe.get("summary") or {}
    for ref in recipe.get("references") or []:
        pinned = f" at commit `{ref['commit']}`" if ref.get("commit") else ""
        lines += [f"Recipe reference `{ref['reference']}`{pinned}", ""]
    if summary:
        lines += [
            "## Recipe",
            "",
            *markdown_table(["field", "value"], ([f"`{k}`", cell(v)] for k, v in summary.items())),
            "",
        ]
    steps = report.get("steps") or []
    lines += [
        "## Steps",
        "",
        *markdown_table(
            ["step", "status", "outcome", "seconds", "fingerprint"],
            (
                [
                    s.get("name", ""),
                    s.get("status", ""),
                    cell(s.get("outcome")),
                    cell(s.get("duration_s")),
                    f"`{str(s.get('fingerprint', ''))[:12]}`",
                ]
                for s in steps
            ),
        ),
        "",
    ]
    metrics = metric_rows(report)
    if metrics:
        lines += ["## Training", "", *markdown_table(["metric", "value"], metrics), ""]
    data = data_rows(report.get("data"))
    if data:
        lines += ["## Data", "", *markdown_table(["", "count"], data), ""]
    skipped = skipped_lines(report.get("data"))
    if skipped:
        lines += [
            "Skipped as malformed (first ones):",
            "",
            *[f"- `{line}`" for line in skipped],
            "",
        ]
    examples = (report.get("data") or {}).get("examples_preview") or []
    if examples:
        lines += ["### Training examples as the model sees them", "", f"_{LEGEND}_", ""]
        for example in examples:
            lines += [f"`{heading(example)}`", "", "```", bracketed(example), "```", ""]
    lines += _samples_markdown(report.get("samples"))
    lines += [merge_line(report.get("merge")), ""]
    environment = report.get("environment") or {}
    if environment:
        lines += [
            "## Environment",
            "",
            ", ".join(f"{k} {cell(v)}" for k, v in environment.items()),
            "",
        ]
    artifacts = report.get("artifacts") or []
    if artifacts:
        lines += [
            "## Artifacts",
            "",
            *markdown_table(
                ["path", "size", "sha256"],
                (
                    [
                        f"`{a.get('path')}`",
                        human_bytes(a.get("bytes")),
                        f"`{str(a.get('sha256'))[:12]}`",
                    ]
                    for a in artifacts
                ),
            ),
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def _mark(ok: bool | None) -> str:
    return "" if ok is None else (" ✅" if ok else " ❌")


def _samples_markdown(samples: dict[str, Any] | None) -> list[str]:
    if not samples or not samples.get("items"):
        return []
    lines = ["## Samples", ""]
    accuracy = accuracy_line(samples)
    if accuracy:
        lines += [f"**{accuracy}** (match: {samples.get('match')})", ""]
    rows = (
        [
            cell(i.get("prompt")),
            cell(i.get("expect")),
            cell(i.get("base")) + _mark(i.get("base_ok")),
            cell(i.get("tuned")) + _mark(i.get("tuned_ok")),
        ]
        for i in samples["items"]
    )
    return [*lines, *markdown_table(["prompt", "expected", "base", "tuned"], rows), ""]


def _listed(values: list[Any] | None) -> str | None:
    """`12, 12` for a list of numbers; None for none."""
    return ", ".join(str(value) for value in values) if values else None
