"""Report rendering: Markdown for pull requests, self-contained HTML, atomic files."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from smolora_recipes.core.errors import UserInputError
from smolora_recipes.report.files import REPORT_VERSION, load_report, write_report_files
from smolora_recipes.report.html import render_html
from smolora_recipes.report.markdown import render_markdown

FULL: dict[str, Any] = {
    "report_version": REPORT_VERSION,
    "status": "ok",
    "recipe": {
        "name": "quick",
        "description": "teach facts",
        "file": "r.yaml",
        "summary": {"lora.r": 16, "data.sources": [{"type": "jsonl", "path": "a.jsonl"}]},
    },
    "run": {
        "id": "20261125-1",
        "dir": "runs/quick/20261125-1",
        "duration_s": 12.5,
        "command": "smolora run r.yaml",
    },
    "error": None,
    "steps": [
        {
            "name": "load",
            "fingerprint": "ab" * 32,
            "status": "ok",
            "outcome": "ran",
            "duration_s": 1.0,
        },
        {
            "name": "merge",
            "fingerprint": "cd" * 32,
            "status": "skipped",
            "outcome": "skipped: merge.enabled is false",
            "duration_s": None,
        },
    ],
    "environment": {"python": "3.11", "torch": "2.13.0", "device": "cpu"},
    "model": {"base": "smollm2-135m-instruct", "kind": "builtin"},
    "data": {
        "sources": [{"name": "a.jsonl", "type": "jsonl", "rows": 10}],
        "train_rows": 9,
        "eval_rows": 1,
        "loss_token_share": 0.25,
        "token_lengths_histogram": {"edges": [10, 20, 30], "counts": [4, 6]},
    },
    "train": {
        "steps": 8,
        "loss_history": [{"step": 5, "loss": 2.0}, {"step": 8, "loss": 0.5}],
        "eval_history": [{"step": 0, "eval_loss": 3.0}, {"step": 8, "eval_loss": 0.7}],
        "eval_loss_before": 3.0,
        "eval_loss_after": 0.7,
        "trained_tokens": 900,
        "tokens_per_second": 150.0,
    },
    "merge": {
        "enabled": True,
        "verified": True,
        "max_abs_diff_vs_adapter": 1e-5,
        "max_abs_diff_vs_base": 2.0,
        "tolerance": 1e-3,
    },
    "samples": {
        "match": "contains",
        "scored": 2,
        "items": [
            {
                "prompt": "a | b\nc?",
                "expect": "x",
                "base": "no",
                "tuned": "x!",
                "base_ok": False,
                "tuned_ok": True,
            },
            {
                "prompt": "<script>alert(1)</script>",
                "expect": "y",
                "base": "no",
                "tuned": "y",
                "base_ok": False,
                "tuned_ok": True,
            },
            {
                "prompt": "free",
                "expect": None,
                "base": "b",
                "tuned": "t",
                "base_ok": None,
                "tuned_ok": None,
            },
        ],
    },
    "artifacts": [{"path": "merged/model.safetensors", "bytes": 3 * 2**20, "sha256": "ef" * 32}],
}

FAILED: dict[str, Any] = {
    "report_version": REPORT_VERSION,
    "status": "failed",
    "recipe": {"name": "broken"},
    "error": {
        "step": "dataset",
        "type": "DataError",
        "message": "a.jsonl:3: bad",
        "log": "run.log",
    },
    "steps": [
        {
            "name": "dataset",
            "fingerprint": "00" * 32,
            "status": "failed",
            "outcome": "DataError",
            "duration_s": 0.1,
        }
    ],
}


def test_markdown_has_status_steps_metrics_and_accuracy() -> None:
    text = render_markdown(FULL)
    assert text.startswith("# quick: ✓ ok")
    assert "| load | ok | ran |" in text and "skipped: merge.enabled is false" in text
    assert "**accuracy: base 0/2 (0%) -> tuned 2/2 (100%)**" in text
    assert "| eval loss | 3 → 0.7 |" in text
    assert "merge: verified" in text and "3.0 MiB" in text and "`efefefefefef`" in text


def test_markdown_escapes_table_cells() -> None:
    text = render_markdown(FULL)
    assert "a \\| b<br>c?" in text


def test_failed_report_leads_with_the_error_and_tolerates_missing_sections() -> None:
    text = render_markdown(FAILED)
    assert text.startswith("# broken: ✗ failed")
    assert text.index("Failed at step `dataset`") < text.index("## Steps")
    assert "a.jsonl:3: bad" in text
    html = render_html(FAILED)
    assert "Failed at step dataset" in html and "<svg" not in html


def test_html_is_self_contained_escaped_and_has_figures() -> None:
    html = render_html(FULL)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count("<svg") == 2  # loss curve and length histogram
    assert 'src="http' not in html and 'href="http' not in html
    assert "accuracy: base 0/2 (0%) -&gt; tuned 2/2 (100%)" in html


def test_write_report_files_writes_exactly_three_files(tmp_path: Path) -> None:
    paths = write_report_files(tmp_path, FULL)
    assert sorted(p.name for p in paths) == ["report.html", "report.json", "report.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.json", "report.md"]
    assert load_report(tmp_path) == json.loads(json.dumps(FULL))


def test_load_report_refuses_bad_input(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"no report\.json"):
        load_report(tmp_path)
    (tmp_path / "report.json").write_text("{not json")
    with pytest.raises(UserInputError, match="not valid JSON"):
        load_report(tmp_path)
    newer = copy.deepcopy(FAILED)
    newer["report_version"] = 99
    (tmp_path / "report.json").write_text(json.dumps(newer))
    with pytest.raises(UserInputError, match="report_version 99 is not supported"):
        load_report(tmp_path)


def test_importing_report_modules_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, smolora_recipes.report.files\n"
        "print('transformers' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
