"""A recipe fetched from git reads only its own checkout, through every kind of path a data
source can name: a `text_files` glob cannot climb out with `..`, an `hf` source cannot name a
local folder outside; and no recipe gives an absolute glob (it is matched inside `path`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smolora_recipes.core.errors import RecipeError
from smolora_recipes.recipe.loader import load_recipe
from tests.conftest import WriteFiles, invoke
from tests.git_repos import GitRepo

TEXTS = """
name: texts
data:
  sources:
    - type: text_files
      path: docs
      glob: {glob}
samples:
  prompts: [hi]
"""
HUB = """
name: hub
data:
  sources:
    - type: hf
      name: {name}
samples:
  prompts: [hi]
"""
ESCAPES = {
    "glob-up.yaml": TEXTS.format(glob="'../../../../etc/pass*'"),
    "glob-deep.yaml": TEXTS.format(glob="'**/../../x/*.txt'"),
    "hub-up.yaml": HUB.format(name="../../../../tmp/x"),
    "hub-absolute.yaml": HUB.format(name="/tmp"),
    "hub-home.yaml": HUB.format(name="'~/datasets/x'"),
}
ALLOWED = {
    "glob-inside.yaml": TEXTS.format(glob="'**/*.md'"),
    "hub-inside.yaml": HUB.format(name="./saved"),
    "hub-id.yaml": HUB.format(name="someone/dataset"),
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    """A recipe repository holding every escape attempt and their allowed neighbours."""
    repo = GitRepo(tmp_path_factory.mktemp("repo") / "team")
    repo.commit({**ESCAPES, **ALLOWED, "docs/a.md": "# a\n", "saved/README": "here\n"})
    return repo


@pytest.mark.parametrize(
    ("name", "field", "message"),
    [
        ("glob-up.yaml", "glob", "'../../../../etc/pass*' climbs out of `path` with '..'"),
        ("glob-deep.yaml", "glob", "'**/../../x/*.txt' climbs out of `path` with '..'"),
        ("hub-up.yaml", "name", "'../../../../tmp/x' leads out of the repository"),
        ("hub-absolute.yaml", "name", "'/tmp' leads out of the repository"),
        ("hub-home.yaml", "name", "'~/datasets/x' leads out of the repository"),
    ],
)
def test_a_fetched_recipe_cannot_read_outside_its_checkout(
    repo: GitRepo, name: str, field: str, message: str
) -> None:
    with pytest.raises(RecipeError) as caught:
        load_recipe(f"git+{repo.url}@main#{name}")
    text = caught.value.render()
    line = 6 if field == "glob" else 5
    assert f"{name}:{line}:" in text and f": data.sources.0.{field}: {message}" in text
    code, _, err = invoke("preview", f"git+{repo.url}@main#{name}")
    assert code == 2 and message in err and "root:" not in err


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_paths_inside_the_checkout_are_fine(repo: GitRepo, name: str) -> None:
    assert load_recipe(f"git+{repo.url}@main#{name}").recipe.name in {"texts", "hub"}


def test_no_recipe_gives_an_absolute_glob(write: WriteFiles, in_tmp_dir: Path) -> None:
    recipe = write("r.yaml", TEXTS.format(glob="'/etc/*'"), "docs/a.txt", "a\n")
    code, _, err = invoke("plan", str(recipe))
    assert code == 2
    assert "r.yaml:6:7: data.sources.0.glob: '/etc/*' is an absolute pattern" in err
