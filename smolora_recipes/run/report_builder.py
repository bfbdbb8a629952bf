"""Assemble report.json (version 1) from what a run accumulated."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smolora_recipes import __version__
from smolora_recipes.core.allocator import allocator_in_use
from smolora_recipes.core.errors import display_path
from smolora_recipes.models.memory import process_peak_mb
from smolora_recipes.plan.code_digest import library_versions
from smolora_recipes.recipe.canonical import canonical_data, flatten
from smolora_recipes.recipe.yaml_source import path_text
from smolora_recipes.report.files import REPORT_VERSION
from smolora_recipes.run.state import RunState
from smolora_recipes.store.hashing import file_sha256

SUMMARY_FIELDS = (
    "model.base",
    "model.dtype",
    "data.format",
    "data.sources",
    "data.eval_split",
    "lora.r",
    "lora.alpha",
    "lora.dropout",
    "lora.target_modules",
    "sft.max_steps",
    "sft.epochs",
    "sft.learning_rate",
    "sft.lr_scheduler",
    "sft.batch_size",
    "sft.grad_accum",
    "sft.max_length",
    "sft.packing",
    "samples.max_new_tokens",
    "samples.temperature",
)
REPORT_FILES = {"report.json", "report.md", "report.html"}
LIBRARIES = ("torch", "transformers", "peft", "trl", "datasets", "accelerate")


def build_report(state: RunState) -> dict[str, Any]:
    """The report.json content for a finished, failed or interrupted run."""
    finished = datetime.now(UTC)
    results, recipe = state.results, state.loaded.recipe
    train, load = results.train, results.load
    return {
        "report_version": REPORT_VERSION,
        "status": state.status,
        "recipe": _recipe_section(state),
        "run": {
            "id": state.run_dir.name,
            "dir": display_path(state.run_dir),
            "started": state.started.isoformat(timespec="seconds"),
            "finished": finished.isoformat(timespec="seconds"),
            "duration_s": round((finished - state.started).total_seconds(), 3),
            "peak_rss_mb": round(process_peak_mb(), 1),
            "command": state.command,
        },
        "error": state.error,
        "warnings": state.warnings,
        "steps": [vars(record) for record in state.records],
        "environment": _environment(state),
        "model": {
            "base": recipe.model.base,
            "kind": load.kind if load else None,
            "path": load.folder if load else None,
            "parameters": train.parameters if train else None,
            "trainable_parameters": train.trainable_parameters if train else None,
        },
        "data": results.dataset.to_json() if results.dataset else None,
        "train": train.report_section() if train else None,
        "merge": results.merge.to_json() if results.merge else {"enabled": recipe.merge.enabled},
        "samples": results.sample.to_json() if results.sample else None,
        "eval": results.eval.to_json() if results.eval else None,
        "export": results.export.to_json() if results.export else None,
        "tracking": state.tracking.locations() if state.tracking else None,
        "artifacts": _artifacts(state),
    }


def _recipe_section(state: RunState) -> dict[str, Any]:
    data = canonical_data(state.loaded)
    flat = {path_text(path): value for path, value in flatten(data).items()}
    summary: dict[str, Any] = {}
    for name in SUMMARY_FIELDS:
        if name in flat:
            summary[name] = flat[name]
        else:  # a list or mapping: keep it whole
            value: Any = data
            for part in name.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            summary[name] = value
    recipe = state.loaded.recipe
    summary["data.sources"] = "; ".join(
        _source_summary(source, state.loaded.base_dir) for source in recipe.data.sources
    )
    return {
        "name": recipe.name,
        "description": recipe.description,
        "file": state.loaded.label,
        "references": [
            {"reference": ref.text, "commit": ref.commit} for ref in state.loaded.references
        ],
        "summary": summary,
    }


def _source_summary(source: Any, base_dir: Path) -> str:
    """`jsonl data/a.jsonl (weight: 2, on_error: skip)`: type, where, and what is not default."""
    from smolora_recipes.data.readers import source_label

    changed = source.model_dump(mode="json", exclude_defaults=True)
    extras = [
        f"{key}: {value}" for key, value in changed.items() if key not in ("type", "path", "name")
    ]
    label = f"{source.type} {source_label(source, base_dir)}"
    return f"{label} ({', '.join(extras)})" if extras else label


def _environment(state: RunState) -> dict[str, Any]:
    load = state.results.load
    threads = os.cpu_count()
    if "torch" in sys.modules:
        threads = sys.modules["torch"].get_num_threads()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        **library_versions(LIBRARIES),
        "smolora_recipes": __version__,
        "device": load.runtime.device if load else None,
        "dtype": load.runtime.dtype if load else None,
        "autocast": load.runtime.autocast if load else None,
        "seed": state.loaded.recipe.sft.seed,
        "trust_remote_code": state.loaded.recipe.model.trust_remote_code,
        "threads": threads,
        "allocator": allocator_in_use(),
    }


def _artifacts(state: RunState) -> list[dict[str, Any]]:
    """Every file of the run folder, following links into cached step outputs."""
    files: list[Path] = []
    for folder, dirs, names in os.walk(state.run_dir, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        files.extend(Path(folder) / name for name in names if not name.startswith("."))
    return [
        {
            "path": path.relative_to(state.run_dir).as_posix(),
            "bytes": path.stat().st_size,
            "sha256": file_sha256(path),
        }
        for path in sorted(files)
        if path.parent != state.run_dir or path.name not in REPORT_FILES
    ]
