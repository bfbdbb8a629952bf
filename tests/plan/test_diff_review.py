"""`smolora diff` for review: git revisions of a file, and Markdown for a pull request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smolora_recipes.core.paths import step_cache_dir
from smolora_recipes.plan.build import build_plan
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.store.cache import StepCache
from tests.conftest import MINIMAL_RECIPE, TRAIN_JSONL, WriteFiles, invoke
from tests.git_repos import GitRepo

pytestmark = pytest.mark.usefixtures("in_tmp_dir")


def test_markdown_for_a_change_of_lora_r(minimal: Path, write: WriteFiles) -> None:
    write("other.yaml", MINIMAL_RECIPE.replace("name: mini", "name: mini\nlora: {r: 32}"))
    code, out, _ = invoke("diff", "recipe.yaml", "other.yaml", "--format", "markdown")
    assert code == 0
    assert out == (
        "#### Recipe change: `recipe.yaml` → `other.yaml`\n"
        "\n"
        "| field | old | new | old value from | new value from |\n"
        "|---|---|---|---|---|\n"
        "| `lora.r` | `16` | `32` | default | other.yaml:2:8 |\n"
        "\n"
        "**Steps invalidated:**\n"
        "- `train`: lora.r changed 16 -> 32\n"
        "- `merge`: upstream train changed\n"
        "- `sample`: upstream merge changed; upstream train changed\n"
        "- `report`: upstream merge changed; upstream sample changed; upstream train changed\n"
        "\n"
        "Unchanged steps: `load`, `dataset`\n"
        "\n"
        "**Re-running costs:** 4 of 6 steps (train, merge, sample, report); train: optimizer "
        "steps known once the dataset is built (`smolora preview` builds it)\n"
    )


def test_markdown_for_a_changed_data_file(minimal: Path, write: WriteFiles) -> None:
    write("v2/recipe.yaml", MINIMAL_RECIPE, "v2/data/train.jsonl", '{"text": "new"}\n')
    code, out, _ = invoke("diff", "recipe.yaml", "v2/recipe.yaml", "--format", "markdown")
    assert code == 0
    assert "No field differs.\n" in out
    old_sha = build_plan(load_recipe(minimal)).step("dataset").inputs["data.sources.0.path"]
    assert (
        "| input | old | new | sha256 |\n|---|---|---|---|\n"
        f"| `data.sources.0.path` | `data/train.jsonl` | `data/train.jsonl` | sha256 "
        f"{old_sha['sha256'][:12]} -> "
    ) in out
    assert "- `dataset`: data/train.jsonl content changed\n" in out
    assert "**Re-running costs:** 5 of 6 steps (dataset, train, merge, sample, report)" in out


def test_the_cost_counts_optimizer_steps_from_the_cached_dataset(
    minimal: Path, write: WriteFiles
) -> None:
    other = write("other.yaml", MINIMAL_RECIPE + "sft: {epochs: 3, batch_size: 4, grad_accum: 2}\n")
    dataset = build_plan(load_recipe(other)).step("dataset").fingerprint
    cache = StepCache(step_cache_dir())
    staging = cache.staging_dir("dataset", dataset)
    (staging / "dataset").mkdir()
    cache.commit("dataset", dataset, staging, {"train_rows": 50}, "other/1")
    code, out, _ = invoke("diff", "recipe.yaml", "other.yaml")
    assert code == 0
    assert out.endswith(
        "re-running: 4 of 6 steps (train, merge, sample, report); train: 21 optimizer steps "
        "(3 epochs x 7; 50 training examples in the cached dataset)\n"
    )


def test_git_revisions_of_a_file(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "recipes")
    repo.commit({"recipe.yaml": MINIMAL_RECIPE, "data/train.jsonl": TRAIN_JSONL})
    repo.commit({"data/train.jsonl": TRAIN_JSONL + '{"text": "three"}\n'}, "more data")
    repo.write({"recipe.yaml": MINIMAL_RECIPE + "lora: {r: 8}\n"})  # not committed
    recipe = "recipes/recipe.yaml"
    code, out, err = invoke("diff", f"{recipe}@HEAD~1", recipe, "--format", "markdown")
    assert code == 0, err
    assert f"#### Recipe change: `{recipe}@HEAD~1` → `{recipe}`" in out
    assert f"| `lora.r` | `16` | `8` | default | {recipe}:8:8 |" in out
    assert "- `dataset`: data/train.jsonl content changed\n" in out
    code, out, _ = invoke("diff", "--rev", "HEAD", recipe)
    assert code == 0
    assert out.startswith(f"--- {recipe}@HEAD\n+++ {recipe}\n  lora.r: 16 -> 8")
    assert "unchanged steps: load, dataset\n" in out  # the data is committed at HEAD
    code, _, err = invoke("diff", "--rev", "nope", recipe)
    assert code == 2 and f"{recipe}@nope: no branch, tag or commit 'nope'" in err


def test_diff_json_has_inputs_and_cost(minimal: Path, write: WriteFiles) -> None:
    write("v2/recipe.yaml", MINIMAL_RECIPE, "v2/data/train.jsonl", '{"text": "new"}\n')
    code, out, _ = invoke("diff", "recipe.yaml", "v2/recipe.yaml", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["inputs"][0]["field"] == "data.sources.0.path"
    assert data["cost"].startswith("5 of 6 steps")


@pytest.mark.parametrize("args", [["recipe.yaml"], ["--rev", "HEAD", "a.yaml", "b.yaml"]])
def test_diff_needs_two_recipes_or_a_revision(minimal: Path, args: list[str]) -> None:
    code, _, err = invoke("diff", *args)
    assert code == 2 and "give OLD and NEW, or --rev REV and one recipe" in err


@pytest.mark.parametrize("output", ["", "output: {dir: out/runs}\n"])
def test_a_revision_equal_to_the_file_differs_in_nothing(tmp_path: Path, output: str) -> None:
    """A committed revision does not choose where runs go (they go to the working folder), so
    its output folders are not compared: no false `output.dir` row (issue 22, item 4)."""
    repo = GitRepo(tmp_path / "recipes")
    repo.commit({"sub/recipe.yaml": MINIMAL_RECIPE + output, "sub/data/train.jsonl": TRAIN_JSONL})
    recipe = "recipes/sub/recipe.yaml"
    for args in (["--rev", "HEAD", recipe], [f"{recipe}@HEAD", recipe, "--format", "markdown"]):
        code, out, err = invoke("diff", *args)
        assert code == 0, err
        assert "output" not in out and "no field differs" in out.lower()
