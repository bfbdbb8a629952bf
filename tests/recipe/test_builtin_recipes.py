"""`builtin:NAME`: the example recipes shipped in the package, usable from any folder."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from smolora_recipes.core.shared_paths import BUILTIN_RECIPES_DIR
from smolora_recipes.plan.build import build_plan
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.recipe.references import builtin_names
from tests.conftest import REPO_ROOT, WriteFiles, invoke


def test_the_repository_recipes_are_the_packaged_ones() -> None:
    """One copy of truth: `recipes/` is a link to the package folder the wheel ships."""
    assert (REPO_ROOT / "recipes").resolve() == BUILTIN_RECIPES_DIR.resolve()
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert (
        "builtin_recipes/**/*" in pyproject["tool"]["setuptools"]["package-data"]["smolora_recipes"]
    )
    assert {"quickstart", "quickstart-r8", "mixture"} <= set(builtin_names())


def test_builtin_quickstart_validates_and_plans_from_an_empty_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke("validate", "builtin:quickstart")
    assert code == 0, err
    assert "ok   builtin:quickstart (recipe 'quickstart')" in out
    code, out, err = invoke("plan", "builtin:quickstart", "--json")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["file"] == "builtin:quickstart"
    dataset = plan["steps"][1]["inputs"]["data.sources.0.path"]
    assert dataset["path"] == "data/zembria.jsonl" and len(dataset["sha256"]) == 64
    assert list(tmp_path.iterdir()) == []  # validate and plan write nothing here


def test_a_builtin_recipe_runs_into_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """quickstart says `output.dir: runs`; that is not inside site-packages but ./runs."""
    monkeypatch.chdir(tmp_path)
    loaded = load_recipe("builtin:quickstart")
    assert loaded.paths.runs_dir == tmp_path / "runs"
    assert loaded.origin_of(("output", "dir")).describe().startswith("default (a shared recipe")
    code, out, _ = invoke("show", "builtin:quickstart", "--origin")
    assert code == 0
    assert f"  dir: {tmp_path / 'runs'}  # default" in out
    assert "path: data/zembria.jsonl  # builtin:quickstart.yaml:15:7" in out


def test_builtin_and_repository_copies_plan_the_same_fingerprints() -> None:
    builtin = build_plan(load_recipe("builtin:quickstart"))
    local = build_plan(load_recipe(REPO_ROOT / "recipes" / "quickstart.yaml"))
    assert [s.fingerprint for s in builtin.steps] == [s.fingerprint for s in local.steps]


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_recipe_loads_by_name(name: str) -> None:
    assert load_recipe(f"builtin:{name}").recipe.name == name


def test_unknown_builtin_names_the_available_ones() -> None:
    code, _, err = invoke("validate", "builtin:quikstart")
    assert code == 2
    assert "builtin:quikstart: no built-in recipe 'quikstart'" in err
    assert "hint: built-in recipes: faq-csv, mixture," in err and "quickstart" in err


def test_a_local_recipe_extends_a_builtin_one(write: WriteFiles, tmp_path: Path) -> None:
    child = write("mine.yaml", "extends: builtin:quickstart\nname: mine\nlora: {r: 4}\n")
    loaded = load_recipe(child)
    assert loaded.recipe.lora.r == 4 and loaded.recipe.sft.epochs == 8
    assert loaded.recipe.data.sources[0].path == BUILTIN_RECIPES_DIR / "data/zembria.jsonl"
    assert loaded.paths.runs_dir == tmp_path / "runs"  # the base's own output.dir is not used
    assert [ref.text for ref in loaded.references] == ["builtin:quickstart"]
    inputs = build_plan(loaded).step("dataset").inputs
    assert inputs["data.sources.0.path"]["path"] == "builtin:data/zembria.jsonl"
