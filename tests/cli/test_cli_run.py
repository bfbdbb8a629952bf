"""`smolora run`, `report` and `generate` through click's CliRunner on the tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from smolora_recipes.cli.main import main
from smolora_recipes.run.state import RunState
from tests.tiny_runs import chat_jsonl, tiny_recipe


def test_run_prints_a_summary_and_exits_0(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data/train.jsonl").write_text(chat_jsonl())
    (tmp_path / "r.yaml").write_text(tiny_recipe(tiny_model_dir))
    result = CliRunner().invoke(main, ["run", "r.yaml", "--set", "sft.max_steps=2"])
    assert result.exit_code == 0, result.stderr
    assert "status: ok" in result.stdout and "accuracy: base" in result.stdout
    assert "train: step 2/2 loss" in result.stderr  # timestamped progress on stderr
    assert "{'loss'" not in result.stdout  # no raw trainer dicts on stdout
    report = (tmp_path / "runs/tiny/latest/report.json").read_text()
    assert '"command": "smolora run r.yaml --set sft.max_steps=2"' in report


def test_run_with_bad_data_exits_2_with_a_located_message(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data/train.jsonl").write_text('{"messages": []}\nnot json\n')
    (tmp_path / "r.yaml").write_text(tiny_recipe(tiny_model_dir))
    result = CliRunner().invoke(main, ["run", "r.yaml"])
    assert result.exit_code == 2
    assert "status: failed" in result.stdout and "failed step: dataset" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_run_with_an_invalid_recipe_exits_2_before_loading_anything(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("data: {sources: []}\n")
    result = CliRunner().invoke(main, ["run", str(tmp_path / "r.yaml")])
    assert result.exit_code == 2 and "data.sources" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_report_re_renders_markdown_and_html(tiny_run: RunState) -> None:
    (tiny_run.run_dir / "report.md").unlink()
    result = CliRunner().invoke(main, ["report", str(tiny_run.run_dir)])
    assert result.exit_code == 0
    assert (tiny_run.run_dir / "report.md").read_text().startswith("# tiny: ✓ ok")


def test_generate_with_prompt_options(tiny_run: RunState) -> None:
    result = CliRunner().invoke(
        main,
        ["generate", str(tiny_run.run_dir), "-p", "hello", "-p", "fox", "--max-new-tokens", "4"],
    )
    assert result.exit_code == 0, result.stderr
    assert ">>> hello" in result.stdout and ">>> fox" in result.stdout


def test_generate_on_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["generate", str(tmp_path), "-p", "hi"])
    assert result.exit_code == 2 and "not a finished run folder" in result.stderr
