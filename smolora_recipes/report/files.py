"""report.json, the record of a run, and the report files rendered from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from smolora_recipes.core.atomic_write import write_atomic
from smolora_recipes.core.errors import Location, Problem, UserInputError
from smolora_recipes.report.html import render_html
from smolora_recipes.report.markdown import render_markdown

REPORT_VERSION = 1


def write_report_files(run_dir: Path, report: dict[str, Any]) -> list[Path]:
    """Write report.json, report.md and report.html atomically; return their paths."""
    contents = {
        "report.json": json.dumps(report, indent=2, ensure_ascii=False) + "\n",
        "report.md": render_markdown(report),
        "report.html": render_html(report),
    }
    paths = []
    for name, text in contents.items():
        paths.append(write_atomic(run_dir / name, text))
    return paths


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
