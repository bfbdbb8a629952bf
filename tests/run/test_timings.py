"""The report times a step's own work apart from importing the libraries it needs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from smolora_recipes.plan.build import build_plan
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.run import executor
from smolora_recipes.run.executor import execute
from smolora_recipes.run.state import RunOptions
from tests.tiny_runs import write_tiny_recipe

IMPORT_SECONDS = 1.0


def test_library_imports_are_counted_apart_from_step_work(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow_import(names: tuple[str, ...]) -> float:
        time.sleep(IMPORT_SECONDS)  # as if importing torch took a second
        return IMPORT_SECONDS

    monkeypatch.setattr(executor, "import_libraries", slow_import)
    loaded = load_recipe(write_tiny_recipe(tmp_path, tiny_model_dir))
    state = execute(loaded, build_plan(loaded), "t", lambda line: None, RunOptions(until="dataset"))
    assert state.status == "ok", state.error
    ran = {record.name: record for record in state.records if record.status == "ok"}
    assert {"load", "dataset"} <= ran.keys()
    for name in ("load", "dataset"):
        assert ran[name].import_s == IMPORT_SECONDS
        assert 0 <= ran[name].duration_s < IMPORT_SECONDS  # the tiny steps take milliseconds
