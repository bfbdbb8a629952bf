"""Which files a plan identifies by content: models, data sources, save_to_disk folders."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
from pathlib import Path

import pytest

from smolora_recipes.plan.build import build_plan
from smolora_recipes.recipe.builtin_models import BUILTIN_MODELS
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.store.hashing import path_sha256
from tests.conftest import MINIMAL_RECIPE, WriteFiles

BUILTIN = "smollm2-135m-instruct"


def load_inputs(recipe: Path, *overrides: str) -> dict[str, dict[str, str]]:
    """The inputs of the plan's `load` step."""
    return build_plan(load_recipe(recipe, overrides, env={})).step("load").inputs


def test_a_hub_model_pinned_to_a_commit_is_identified_by_it(minimal: Path) -> None:
    commit = "c" * 40  # no cache or hub needed: a commit names itself
    overrides = ("model.base=org/some-model", f"model.revision={commit}")
    plan = build_plan(load_recipe(minimal, overrides, env={}))
    identity = {"path": f"hf:org/some-model@{commit}", "commit": commit}
    assert plan.step("load").inputs["model.base"] == identity
    assert plan.step("load").material["recipe"]["model"]["base"] == {"commit": commit}


def test_a_local_model_folder_is_identified_by_content(write: WriteFiles, tmp_path: Path) -> None:
    recipe = write(
        "recipe.yaml",
        MINIMAL_RECIPE + "model: {base: ./my-model}\n",
        "data/train.jsonl",
        '{"text": "one"}\n',
        "my-model/config.json",
        "{}",
    )
    identity = {"path": "my-model", "sha256": path_sha256(tmp_path / "my-model")}
    assert load_inputs(recipe) == {"model.base": identity}
    plan = build_plan(load_recipe(recipe, env={}))
    assert plan.step("load").material["recipe"]["model"]["base"] == {"sha256": identity["sha256"]}


HUB = "d" * 40


def test_a_save_to_disk_folder_is_identified_by_content(write: WriteFiles, tmp_path: Path) -> None:
    recipe = write(
        "recipe.yaml",
        f"name: saved\ndata:\n  sources:\n    - {{type: hf, name: org/hub-only, revision: {HUB}}}\n"
        "    - {type: hf, name: saved-set}\n",
        "saved-set/data.arrow",
        "rows",
    )
    dataset = build_plan(load_recipe(recipe, env={})).step("dataset")
    sha = path_sha256(tmp_path / "saved-set")
    assert dataset.inputs["data.sources.1.name"] == {"path": "saved-set", "sha256": sha}
    hub = {"path": f"hf-dataset:org/hub-only@{HUB}", "commit": HUB}
    assert dataset.inputs["data.sources.0.name"] == hub
    sources = dataset.material["recipe"]["data"]["sources"]
    assert sources[0]["name"] == {"commit": HUB} and sources[1]["name"] == {"sha256": sha}


def wheel_file_sha256(name: str) -> str:
    """sha256 of the bytes of the first file called `name` in pytest's wheel."""
    files = importlib.metadata.distribution("pytest").files or []
    return hashlib.sha256(next(f for f in files if f.name == name).read_binary()).hexdigest()


@pytest.mark.parametrize(
    ("distribution", "filename", "expected"),
    [
        ("no-such-wheel", "model.gguf", lambda: "not-installed:no-such-wheel"),
        ("pytest", "no-such-file.bin", lambda: "missing:pytest/no-such-file.bin"),
        ("pytest", "py.typed", lambda: wheel_file_sha256("py.typed")),  # from RECORD
        ("pytest", "RECORD", lambda: wheel_file_sha256("RECORD")),  # no hash listed: read
    ],
)
def test_a_builtin_model_is_identified_by_its_wheel(
    minimal: Path, monkeypatch: pytest.MonkeyPatch, distribution: str, filename: str, expected
) -> None:
    model = dataclasses.replace(
        BUILTIN_MODELS[BUILTIN], distribution=distribution, filename=filename
    )
    monkeypatch.setitem(BUILTIN_MODELS, BUILTIN, model)
    assert load_inputs(minimal) == {
        "model.base": {"path": f"builtin:{BUILTIN}", "sha256": expected()}
    }


def test_checkpoint_and_output_settings_change_no_fingerprint(minimal: Path) -> None:
    def fingerprints(*overrides: str) -> list[str]:
        return [s.fingerprint for s in build_plan(load_recipe(minimal, overrides, env={})).steps]

    before = fingerprints()
    assert fingerprints("sft.save_steps=7", "sft.save_total_limit=5") == before
    assert fingerprints("output.dir=elsewhere", "sft.save_steps=7") == before


def test_a_folder_without_a_model_is_refused_before_it_is_hashed(write: WriteFiles) -> None:
    from smolora_recipes.core.errors import UserInputError

    recipe = write(
        "recipe.yaml",
        "model:\n  base: ./notes\n" + MINIMAL_RECIPE,
        "data/train.jsonl",
        "{}\n",
        "notes/readme.txt",
        "not a model",
    )
    with pytest.raises(UserInputError) as raised:
        build_plan(load_recipe(recipe))
    assert raised.value.render() == (
        f"{recipe}:2:3: model.base: {recipe.parent / 'notes'} is not a model folder (no "
        "config.json), so it is not read\n"
        "    hint: point at a folder written by save_pretrained, or at a .gguf file"
    )
