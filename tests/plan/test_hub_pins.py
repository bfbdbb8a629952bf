"""Hub inputs pinned to commits: a hub model id (or `hf` dataset) resolves, through a local
Hugging Face cache built here by hand (refs + snapshots), to the commit its revision names;
that commit is what the fingerprints and the lock file hold, and what the load step loads."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from smolora_recipes.recipe import hub_refs
from smolora_recipes.run.executor import execute
from smolora_recipes.run.state import RunOptions
from smolora_recipes.store.cache import StepCache
from tests.conftest import invoke
from tests.tiny_runs import write_tiny_recipe

FIRST, SECOND = "a" * 40, "b" * 40


@pytest.fixture
def hub_cache(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`acme/tiny` in a local hub cache: two snapshots, `main` at the first."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    repo = cache / "models--acme--tiny"
    for commit in (FIRST, SECOND):
        shutil.copytree(tiny_model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs/main").write_text(FIRST)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.chdir(tmp_path)
    return repo


def move_main(repo: Path, commit: str) -> None:
    (repo / "refs/main").write_text(commit)


def plan_of(recipe: Path) -> dict:
    from smolora_recipes.plan.build import build_plan
    from smolora_recipes.recipe.loader import load_recipe

    return {step.name: step for step in build_plan(load_recipe(recipe)).steps}


@pytest.fixture
def recipe(tmp_path: Path, tiny_model_dir: Path, hub_cache: Path) -> Path:
    return write_tiny_recipe(tmp_path, tiny_model_dir, model="model: {base: acme/tiny}\n")


def test_moving_main_changes_the_commit_and_the_fingerprints(recipe: Path, hub_cache: Path) -> None:
    code, out, err = invoke("plan", "recipe.yaml")
    assert code == 0, err
    assert f"input   model.base = hf:acme/tiny@main (commit {FIRST[:12]})" in out
    before = plan_of(recipe)
    move_main(hub_cache, SECOND)
    after = plan_of(recipe)
    assert after["load"].inputs["model.base"]["commit"] == SECOND
    for step in ("load", "dataset", "train"):
        assert before[step].fingerprint != after[step].fingerprint, step


def test_the_load_step_loads_the_pinned_commit(recipe: Path, hub_cache: Path) -> None:
    from smolora_recipes.plan.build import build_plan
    from smolora_recipes.recipe.loader import load_recipe

    def loaded_folder() -> Path:
        loaded = load_recipe(recipe)
        options = RunOptions(cache=StepCache(recipe.parent / "cache"), until="load")
        state = execute(loaded, build_plan(loaded), "test", lambda line: None, options)
        assert state.status == "ok", state.error
        resolved = (state.run_dir / "recipe.resolved.yaml").read_text()
        assert f"revision: {state.results.load.folder[-40:]}" in resolved  # steps got the commit
        return Path(state.results.load.folder)

    assert loaded_folder() == hub_cache / "snapshots" / FIRST
    move_main(hub_cache, SECOND)
    assert loaded_folder() == hub_cache / "snapshots" / SECOND


def test_a_locked_recipe_refuses_a_moved_ref_until_the_lock_is_updated(
    recipe: Path, hub_cache: Path
) -> None:
    assert invoke("lock", "recipe.yaml")[0] == 0
    assert f"commit: {FIRST}" in (recipe.parent / "recipe.yaml.lock").read_text()
    move_main(hub_cache, SECOND)
    code, _, err = invoke("plan", "recipe.yaml")
    assert code == 2 and "Traceback" not in err
    assert f"model.base (hf:acme/tiny@main): locked at commit {FIRST[:12]}, now commit" in err
    assert invoke("plan", "recipe.yaml", "--update-lock")[0] == 0
    assert f"commit: {SECOND}" in (recipe.parent / "recipe.yaml.lock").read_text()


def test_offline_a_repository_the_cache_lacks_fails_at_plan_with_a_hint(recipe: Path) -> None:
    code, _, err = invoke("plan", "recipe.yaml", "--set", "model.base=acme/missing")
    assert code == 2 and "Traceback" not in err
    assert "model 'acme/missing' (main) is not in the local Hugging Face cache" in err
    assert "huggingface-cli download" in err


def test_a_hub_dataset_is_pinned_too(recipe: Path, hub_cache: Path) -> None:
    datasets = hub_cache.parent / "datasets--acme--facts"
    (datasets / "refs").mkdir(parents=True)
    (datasets / "refs/v1").write_text(FIRST)
    source = "data.sources=[{type: hf, name: acme/facts, revision: v1, split: train}]"
    code, out, err = invoke("plan", "recipe.yaml", "--set", source)
    assert code == 0, err
    assert f"input   data.sources.0.name = hf-dataset:acme/facts@v1 (commit {FIRST[:12]})" in out
    code, _, err = invoke("plan", "recipe.yaml", "--set", source.replace("v1", "v2"))
    assert code == 2 and "dataset 'acme/facts' (v2) is not in the local Hugging Face cache" in err


def test_online_the_hub_is_asked_and_the_cache_answers_when_it_cannot(
    hub_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "is_offline_mode", lambda: False)
    monkeypatch.setattr(
        huggingface_hub.HfApi,
        "model_info",
        lambda self, repo, revision, timeout: SimpleNamespace(sha=SECOND),
    )
    assert hub_refs.hub_commit("acme/tiny", None, "model") == SECOND

    def unreachable(self: object, repo: str, revision: str, timeout: float) -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", unreachable)
    assert hub_refs.hub_commit("acme/tiny", None, "model") == FIRST  # the cache's ref
    with pytest.raises(hub_refs.HubUnresolved, match="network is unreachable"):
        hub_refs.hub_commit("acme/other", "main", "model")
    assert hub_refs.hub_commit("acme/other", SECOND, "model") == SECOND  # a commit is itself
