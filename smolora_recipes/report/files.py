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


REPORT_FILES = ("report.json", "report.md", "report.html")


def write_report_files(
    run_dir: Path, report: dict[str, Any], names: tuple[str, ...] = REPORT_FILES
) -> list[Path]:
    """Render, then write, the report files `names` (all three by default) atomically; return
    their paths. When rendering or a write fails, none of them is left behind."""
    renderers = {
        "report.json": lambda: json.dumps(report, indent=2, ensure_ascii=False) + "\n",
        "report.md": lambda: render_markdown(report),
        "report.html": lambda: render_html(report),
    }
    contents = {name: renderers[name]() for name in names}
    paths: list[Path] = []
    try:
        for name, text in contents.items():
            paths.append(write_atomic(run_dir / name, text))
    except BaseException:
        for path in paths:
            path.unlink(missing_ok=True)
        raise
    return paths


def written_report(run_dir: Path) -> Path | None:
    """The run's report to point a reader at: report.md, else report.json (written alone when
    rendering failed), else None."""
    for name in ("report.md", "report.json"):
        if (run_dir / name).is_file():
            return run_dir / name
    return None


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
