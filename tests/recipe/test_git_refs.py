"""`git+URL@REV#path`: recipes fetched from git at a commit, tag or branch, and their limits."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from smolora_recipes.core.errors import RecipeError
from smolora_recipes.core.paths import fetched_recipes_dir
from smolora_recipes.plan.build import build_plan
from smolora_recipes.recipe.loader import load_recipe
from tests.conftest import MINIMAL_RECIPE, TRAIN_JSONL, WriteFiles, invoke
from tests.git_repos import GitRepo

BASE = {"base.yaml": MINIMAL_RECIPE + "lora: {r: 8}\n", "data/train.jsonl": TRAIN_JSONL}


def errors_of(reference: str, **options: bool) -> str:
    with pytest.raises(RecipeError) as caught:
        load_recipe(reference, **options)
    return caught.value.render()


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """A team recipe repository with one commit on `main`."""
    repo = GitRepo(tmp_path / "team-recipes")
    repo.commit(BASE, "base recipe")
    return repo


def test_a_recipe_is_read_from_its_commit(repo: GitRepo) -> None:
    commit = repo.git("rev-parse", "HEAD")
    loaded = load_recipe(f"git+{repo.url}@main#base.yaml")
    checkout = fetched_recipes_dir() / commit
    assert loaded.file == checkout / "base.yaml"
    assert loaded.recipe.data.sources[0].path == checkout / "data" / "train.jsonl"
    assert [(r.text, r.commit) for r in loaded.references] == [
        (f"git+{repo.url}@main#base.yaml", commit)
    ]
    assert loaded.origin_of(("lora", "r")).describe() == f"{commit[:12]}:base.yaml:8:8"
    code, out, _ = invoke("show", f"git+{repo.url}@main#base.yaml")
    assert code == 0 and out.startswith(f"# git+{repo.url}@main#base.yaml is commit {commit}\n")


def test_tags_and_commits_pin_and_a_fetched_commit_or_tag_works_offline(repo: GitRepo) -> None:
    first = repo.git("rev-parse", "HEAD")
    repo.git("tag", "v1")
    repo.commit({"base.yaml": BASE["base.yaml"].replace("r: 8", "r: 4")})
    assert load_recipe(f"git+{repo.url}@v1#base.yaml").recipe.lora.r == 8
    assert load_recipe(f"git+{repo.url}@{first[:9]}#base.yaml").recipe.lora.r == 8
    assert load_recipe(f"git+{repo.url}@main#base.yaml").recipe.lora.r == 4
    shutil.rmtree(repo.path)  # the server is gone: a pinned commit or a fetched tag still loads
    assert load_recipe(f"git+{repo.url}@{first}#base.yaml").references[0].commit == first
    assert load_recipe(f"git+{repo.url}@v1#base.yaml").references[0].commit == first
    text = errors_of(f"git+{repo.url}@main#base.yaml")  # a branch must be asked for again
    assert f"cannot fetch {repo.url}" in text
    assert "when last fetched, main was commit" in text and "to work offline" in text


def test_a_branch_resolves_to_its_current_commit(repo: GitRepo) -> None:
    reference = f"git+{repo.url}@main#base.yaml"
    before = load_recipe(reference).references[0].commit
    after_commit = repo.commit({"data/train.jsonl": '{"text": "three"}\n'})
    after = load_recipe(reference)
    assert before != after_commit == after.references[0].commit
    assert after.recipe.data.sources[0].path.read_text() == '{"text": "three"}\n'


def test_relative_extends_and_data_resolve_inside_the_checkout(
    repo: GitRepo, write: WriteFiles
) -> None:
    repo.commit({"team/child.yaml": "extends: ../base.yaml\nname: child\nsft: {epochs: 2}\n"})
    loaded = load_recipe(f"git+{repo.url}@main#team/child.yaml")
    assert loaded.recipe.lora.r == 8 and loaded.recipe.sft.epochs == 2
    mine = write("mine.yaml", f"extends: git+{repo.url}@main#team/child.yaml\nname: mine\n")
    inputs = build_plan(load_recipe(mine)).step("dataset").inputs
    commit = repo.git("rev-parse", "HEAD")
    assert inputs["data.sources.0.path"]["path"] == f"{commit[:12]}:data/train.jsonl"


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("git+{url}@nope#base.yaml", "no branch, tag or commit 'nope' in {url}"),
        ("git+{url}-missing@main#base.yaml", "cannot fetch {url}-missing: "),
        ("git+{url}@main#missing.yaml", "missing.yaml is not a file of {url} at commit"),
        ("git+{url}#base.yaml", "not a git reference: git+{url}#base.yaml"),
        ("git+{url}@main#../base.yaml", "the path '../base.yaml' leaves the repository"),
    ],
)
def test_bad_references_are_located_one_paragraph_errors(
    repo: GitRepo, reference: str, expected: str
) -> None:
    reference = reference.format(url=repo.url)
    started = time.monotonic()
    code, _, err = invoke("validate", reference)
    assert time.monotonic() - started < 30  # far below the 120 s a hanging git would take
    assert code == 2 and "Traceback" not in err
    assert f"FAIL {reference}\n{reference}: {expected.format(url=repo.url)}" in err
    assert "\n    hint: " in err


def test_without_git_the_error_says_so(
    repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    text = errors_of(f"git+{repo.url}@main#base.yaml")
    assert "the `git` command is not installed" in text and "hint: install git" in text


def test_paths_cannot_leave_the_checkout(repo: GitRepo) -> None:
    repo.commit(
        {
            "escape-data.yaml": MINIMAL_RECIPE.replace("data/train.jsonl", "../outside.jsonl"),
            "escape-absolute.yaml": MINIMAL_RECIPE.replace("data/train.jsonl", "/etc/hostname"),
            "escape-extends.yaml": "extends: ../../elsewhere.yaml\n",
        }
    )
    text = errors_of(f"git+{repo.url}@main#escape-data.yaml")
    assert "escape-data.yaml:5:7: data.sources.0.path:" in text
    assert "'../outside.jsonl' leads out of the repository this recipe was fetched from" in text
    assert "leads out of the repository" in errors_of(f"git+{repo.url}@main#escape-absolute.yaml")
    text = errors_of(f"git+{repo.url}@main#escape-extends.yaml")
    assert "escape-extends.yaml:1:1: extends:" in text and "leads out of the repository" in text


def test_a_link_out_of_the_repository_is_refused(repo: GitRepo) -> None:
    os.symlink("/etc/hostname", repo.path / "data" / "link.jsonl")
    repo.commit({})
    text = errors_of(f"git+{repo.url}@main#base.yaml")
    assert "holds 'data/link.jsonl', a link or path that leaves the repository" in text


def test_a_fetched_recipe_cannot_enable_remote_code(repo: GitRepo, write: WriteFiles) -> None:
    repo.commit({"remote.yaml": "extends: base.yaml\nmodel: {trust_remote_code: true}\n"})
    reference = f"git+{repo.url}@main#remote.yaml"
    code, _, err = invoke("validate", reference)
    assert code == 2
    assert "remote.yaml:2:9: model.trust_remote_code: a recipe fetched from git cannot" in err
    assert "--trust-remote-code" in err
    assert invoke("validate", reference, "--trust-remote-code")[0] == 0
    mine = write("mine.yaml", f"extends: {reference}\nmodel: {{trust_remote_code: true}}\n")
    assert load_recipe(mine).recipe.model.trust_remote_code  # the user's own file may
