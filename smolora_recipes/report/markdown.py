"""report.md: the run report as Markdown, for a pull request."""

from __future__ import annotations

from typing import Any

from smolora_recipes.core.text_format import cell, human_bytes, markdown_table
from smolora_recipes.data.preview import LEGEND, bracketed, heading
from smolora_recipes.report.rows import (
    STATUS_MARK,
    accuracy_line,
    data_rows,
    merge_line,
    metric_rows,
    skipped_lines,
)


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
