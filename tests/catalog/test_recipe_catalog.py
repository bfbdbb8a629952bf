"""`smolora recipes ls` and `smolora recipes cp`: discovering shared recipes and copying one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import MINIMAL_RECIPE, TRAIN_JSONL, WriteFiles, invoke
from tests.git_repos import GitRepo

pytestmark = pytest.mark.usefixtures("in_tmp_dir")


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """A recipe repository: two recipes, a CI file and a hidden folder."""
    repo = GitRepo(tmp_path / "team")
    repo.commit(
        {
            "base.yaml": "description: The team's base.\n" + MINIMAL_RECIPE,
            "data/train.jsonl": TRAIN_JSONL,
            "team/small.yaml": "# Run: smolora run ...\n# A smaller adapter.\n"
            "extends: ../base.yaml\nlora: {r: 4}\n",
            "ci.yaml": "jobs: {validate: {}}\n",
            ".github/workflows/check.yaml": "extends: nothing\n",
        }
    )
    return repo


def test_ls_lists_the_builtin_recipes_with_their_commands() -> None:
    code, out, _ = invoke("recipes", "ls")
    assert code == 0
    assert out.startswith("built-in recipes (smolora-recipes ")
    assert "  builtin:quickstart  Learn 8 facts about the invented island of Zembria" in out
    assert "\n      smolora run builtin:quickstart\n" in out


def test_ls_lists_a_git_revision_and_a_folder(repo: GitRepo) -> None:
    commit = repo.git("rev-parse", "HEAD")
    code, out, _ = invoke("recipes", "ls", f"git+{repo.url}@main")
    assert code == 0
    assert out == (
        f"git+{repo.url}@main (commit {commit[:12]}): 2 recipes\n"
        f"  git+{repo.url}@main#base.yaml  The team's base.\n"
        f"      smolora run 'git+{repo.url}@main#base.yaml'\n"
        f"  git+{repo.url}@main#team/small.yaml  A smaller adapter.\n"
        f"      smolora run 'git+{repo.url}@main#team/small.yaml'\n"
    )
    code, out, _ = invoke("recipes", "ls", f"git+{repo.url}@main#team")
    assert code == 0 and f"1 recipe\n  git+{repo.url}@main#team/small.yaml  A smaller" in out
    code, out, _ = invoke("recipes", "ls", "team")
    assert code == 0
    assert "  team/base.yaml  The team's base.\n      smolora run team/base.yaml\n" in out
    code, _, err = invoke("recipes", "ls", "nowhere")
    assert code == 2 and "nowhere: not a folder: nowhere" in err


def test_cp_of_a_local_recipe_rewrites_its_paths(write: WriteFiles, tmp_path: Path) -> None:
    write(
        "a/base.yaml",
        "lora: {r: 4}\n",
        "a/recipe.yaml",
        "# My recipe.\nextends: base.yaml\n" + MINIMAL_RECIPE,
        "a/data/train.jsonl",
        TRAIN_JSONL,
    )
    code, out, _ = invoke("recipes", "cp", "a/recipe.yaml", "b/copy.yaml")
    assert code == 0 and "wrote " in out and "next: smolora validate" in out
    copied = (tmp_path / "b/copy.yaml").read_text()
    assert "# My recipe.\nextends: ../a/base.yaml\n" in copied
    assert "      path: ../a/data/train.jsonl\n" in copied
    assert invoke("validate", "b/copy.yaml")[0] == 0
    code, _, err = invoke("recipes", "cp", "a/recipe.yaml", "b/copy.yaml")
    assert code == 2 and "b/copy.yaml already exists" in err


def test_cp_of_a_builtin_recipe_with_its_data(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    code, out, _ = invoke("recipes", "cp", "builtin:mixture", "mine", "--with-data")
    assert code == 0 and out.count("wrote ") == 3  # the recipe and its two data files
    assert (tmp_path / "mine/data/small-talk.jsonl").is_file()
    copied = (tmp_path / "mine/mixture.yaml").read_text()
    assert copied.startswith("# Copied from builtin:mixture by `smolora recipes cp`.\n")
    assert "extends: builtin:quickstart\n" in copied and "path: data/small-talk.jsonl" in copied
    assert invoke("validate", "mine/mixture.yaml")[0] == 0
    invoke("recipes", "cp", "builtin:quickstart", "mine")
    assert "  dir: runs " in (tmp_path / "mine/quickstart.yaml").read_text()  # not ../runs


def test_cp_with_data_copies_eval_task_files_and_their_data(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    code, out, _ = invoke("recipes", "cp", "builtin:quickstart", "mine", "--with-data")
    assert code == 0, out
    for name in ("zembria_mc.yaml", "zembria_mc.jsonl", "general_mc.yaml", "general_mc.jsonl"):
        assert (tmp_path / "mine/eval" / name).is_file(), name
    copied = (tmp_path / "mine/quickstart.yaml").read_text()
    assert "    - eval/zembria_mc.yaml" in copied  # beside the copy, not in the installed package
    code, out, _ = invoke("plan", "mine/quickstart.yaml", "--json")
    assert code == 0, out
    inputs = json.loads(out)["steps"][5]["inputs"]  # the eval step reads the copies
    assert inputs["eval.tasks.0"]["path"] == "eval/zembria_mc.yaml"


def test_cp_into_a_new_folder_named_with_a_slash(tmp_path: Path) -> None:
    code, out, _ = invoke("recipes", "cp", "builtin:faq-csv", "new/folder/")
    assert code == 0, out
    assert (tmp_path / "new/folder/faq-csv.yaml").is_file()


def test_cp_of_a_git_recipe_pins_its_base(repo: GitRepo, tmp_path: Path) -> None:
    commit = repo.git("rev-parse", "HEAD")
    code, _, err = invoke("recipes", "cp", f"git+{repo.url}@main#team/small.yaml", "small.yaml")
    assert code == 0, err
    copied = (tmp_path / "small.yaml").read_text()
    assert f"extends: git+{repo.url}@{commit}#base.yaml\n" in copied
    code, out, _ = invoke("show", "small.yaml", "--origin")
    assert code == 0 and "  r: 4  # small.yaml:5:8" in out
