"""The corpus of known-bad recipes and data files in `cases/`: each folder holds `recipe.yaml`
(with its data) and `expected.yaml` naming the stage that must refuse it (`validate`, or
`dataset` for what only reading the data reveals) and fragments of the error it must give."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from smolora_recipes.plan.build import build_plan
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.run.executor import execute
from smolora_recipes.run.state import RunOptions
from smolora_recipes.store.cache import StepCache
from tests.conftest import invoke

CASES = Path(__file__).parent / "cases"


def expectation(case: str) -> dict:
    """The case's `expected.yaml`: stage and error fragments."""
    return yaml.safe_load((CASES / case / "expected.yaml").read_text(encoding="utf-8"))


def case_names(stage: str) -> list[str]:
    """The cases refused at `stage`."""
    names = sorted(path.name for path in CASES.iterdir() if path.is_dir())
    return [name for name in names if expectation(name)["stage"] == stage]


@pytest.fixture
def case_dir(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A copy of the case, worked on from its own folder (runs never land in the repository)."""
    target = tmp_path / request.param
    shutil.copytree(CASES / request.param, target)
    monkeypatch.chdir(target)
    return target


def test_the_corpus_covers_both_stages() -> None:
    assert len(case_names("validate")) >= 15 and len(case_names("dataset")) >= 5


@pytest.mark.parametrize("case_dir", case_names("validate"), indirect=True)
def test_validate_refuses_the_case(case_dir: Path) -> None:
    code, out, err = invoke("validate", "recipe.yaml")
    assert code == 2, out + err
    assert "Traceback" not in err and err.startswith("FAIL recipe.yaml\n")
    for fragment in expectation(case_dir.name)["fragments"]:
        assert fragment in err
    assert sorted(path.name for path in case_dir.iterdir()) == sorted(
        path.name for path in (CASES / case_dir.name).iterdir()
    )  # nothing ran: no `pwned`, no runs folder


@pytest.mark.parametrize("case_dir", case_names("dataset"), indirect=True)
def test_the_dataset_step_refuses_the_case(case_dir: Path, tiny_model_dir: Path) -> None:
    loaded = load_recipe(case_dir / "recipe.yaml", env={"TINY_MODEL": str(tiny_model_dir)})
    options = RunOptions(cache=StepCache(case_dir / "cache"), until="dataset")
    state = execute(loaded, build_plan(loaded), "test", lambda line: None, options)
    assert state.status == "failed" and state.exit_code == 2
    assert state.error is not None and state.error["step"] == "dataset"
    for fragment in expectation(case_dir.name)["fragments"]:
        assert fragment in state.error["message"]
    report = json.loads((state.run_dir / "report.json").read_text())
    assert report["status"] == "failed"
    assert not (case_dir / "pwned").exists()
