"""Recipe references (`builtin:NAME`, `git+URL@REV#path`, `FILE@REV`) resolved to files."""

from __future__ import annotations

from pathlib import Path

import pytest

from smolora_recipes.core.errors import Location, Problem, RecipeError
from smolora_recipes.core.shared_paths import BUILTIN_RECIPES_DIR
from smolora_recipes.recipe.git_refs import Checkout
from smolora_recipes.recipe.references import (
    ResolvedReference,
    builtin_names,
    builtin_recipe,
    is_reference,
    recipe_files,
    resolve_argument,
    resolve_reference,
)
from tests.git_repos import GitRepo

WHERE = Location("mine.yaml", 1, 10)
FIELD = "extends"
MANY = [f"many/r{n:02}.yaml" for n in range(1, 12)]


@pytest.fixture(scope="module")
def shelf(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    """A repository of 13 recipe files (one hidden file more), committed once."""
    repo = GitRepo(tmp_path_factory.mktemp("shelf") / "recipes")
    files = {"base.yaml": "name: base\n", "team/child.yml": "name: child\n", ".ci/x.yaml": ""}
    repo.commit(files | {name: "name: many\n" for name in MANY})
    return repo


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("builtin:quickstart", True),
        ("git+https://host/r@v1#a.yaml", True),
        ("recipe.yaml", False),
        ("recipe.yaml@HEAD", False),
        ("my-builtin:x", False),
        ("https://host/r@v1#a.yaml", False),
    ],
)
def test_is_reference(text: str, expected: bool) -> None:
    assert is_reference(text) is expected


def test_a_builtin_reference_names_a_packaged_file() -> None:
    resolved = resolve_reference("builtin:quickstart", WHERE, FIELD)
    assert resolved == ResolvedReference(
        "builtin:quickstart", BUILTIN_RECIPES_DIR / "quickstart.yaml"
    )
    assert resolved.commit is None and resolved.checkout is None
    assert resolved.sibling(BUILTIN_RECIPES_DIR / "quickstart-r8.yaml") == "builtin:quickstart-r8"
    data = BUILTIN_RECIPES_DIR / "data" / "zembria.jsonl"
    assert resolved.sibling(data) == "builtin:data/zembria.jsonl"
    assert builtin_recipe("quickstart.yaml", WHERE) == BUILTIN_RECIPES_DIR / "quickstart.yaml"
    assert resolve_argument("builtin:mixture") == ResolvedReference(
        "builtin:mixture", BUILTIN_RECIPES_DIR / "mixture.yaml"
    )


def test_builtin_names_are_the_sorted_stems() -> None:
    names = builtin_names()
    assert names == sorted(names)
    assert {"quickstart", "quickstart-r8", "mixture"} <= set(names)
    assert all(not name.endswith(".yaml") for name in names)


@pytest.mark.parametrize("name", ["nope", "", "../builtin_recipes/quickstart", "quickstart.yml"])
def test_an_unknown_builtin_lists_the_known_ones(name: str) -> None:
    with pytest.raises(RecipeError) as caught:
        resolve_reference(f"builtin:{name}", WHERE, FIELD)
    assert caught.value.problems == [
        Problem(
            f"no built-in recipe {name!r}",
            WHERE,
            FIELD,
            hint=f"built-in recipes: {', '.join(builtin_names())} "
            "(`smolora recipes ls` describes them)",
        )
    ]


def test_an_unknown_builtin_argument_is_located_at_the_argument() -> None:
    with pytest.raises(RecipeError) as caught:
        resolve_argument("builtin:nope")
    [problem] = caught.value.problems
    assert (problem.message, problem.location, problem.field) == (
        "no built-in recipe 'nope'",
        Location("builtin:nope", literal=True),
        "",
    )
    with pytest.raises(RecipeError) as caught:
        builtin_recipe("nope", WHERE)
    assert caught.value.problems[0].field == ""


def test_a_git_reference_resolves_to_its_file_and_commit(
    shelf: GitRepo, isolated_home: Path
) -> None:
    commit = shelf.git("rev-parse", "HEAD")
    text = f"git+{shelf.url}@main#team/child.yml"
    resolved = resolve_reference(text, WHERE, FIELD)
    root = isolated_home / "recipes" / commit
    assert resolved == ResolvedReference(
        text, root / "team" / "child.yml", Checkout(shelf.url, commit, root)
    )
    assert resolved.commit == commit
    assert resolved.sibling(root / "many" / "r01.yaml") == f"git+{shelf.url}@{commit}#many/r01.yaml"
    assert resolve_argument(text) == resolved


@pytest.mark.parametrize(
    ("path", "shown"), [("", "no path"), ("team", "team"), ("x.yaml", "x.yaml")]
)
def test_a_git_reference_to_no_file_lists_the_recipes_there(
    shelf: GitRepo, path: str, shown: str
) -> None:
    commit = shelf.git("rev-parse", "HEAD")
    with pytest.raises(RecipeError) as caught:
        resolve_reference(f"git+{shelf.url}@main#{path}", WHERE, FIELD)
    assert caught.value.problems == [
        Problem(
            f"{shown} is not a file of {shelf.url} at commit {commit[:12]}",
            WHERE,
            FIELD,
            hint=f"recipe files there: {', '.join(['base.yaml', *MANY])}",
        )
    ]


def test_a_plain_file_argument_is_not_a_reference(tmp_path: Path) -> None:
    assert resolve_argument(str(tmp_path / "recipe.yaml")) is None


def test_file_at_revision_arguments_resolve_in_their_repository(
    tmp_path: Path, isolated_home: Path
) -> None:
    repo = GitRepo(tmp_path / "mine")
    empty = repo.commit({"notes.txt": "no recipes yet\n"})
    first = repo.commit({"r.yaml": "name: old\n"})
    repo.commit({"r.yaml": "name: new\n", "sub/s.yaml": "name: s\n"})
    text = f"{repo.path}/r.yaml@HEAD~1"
    root = isolated_home / "recipes" / first
    assert resolve_argument(text) == ResolvedReference(
        text, root / "r.yaml", Checkout(repo.url, first, root)
    )
    missing = f"{repo.path}/sub/s.yaml@HEAD~1"
    with pytest.raises(RecipeError) as caught:
        resolve_argument(missing)
    assert caught.value.problems == [
        Problem(
            f"sub/s.yaml is not a file of {repo.url} at commit {first[:12]}",
            Location(missing, literal=True),
            "",
            hint="recipe files there: r.yaml",
        )
    ]
    with pytest.raises(RecipeError) as caught:
        resolve_argument(f"{repo.path}/r.yaml@HEAD~2")
    [problem] = caught.value.problems
    assert problem.message == f"r.yaml is not a file of {repo.url} at commit {empty[:12]}"
    assert problem.hint == "recipe files there: none"


def test_recipe_files_are_sorted_yaml_files_outside_hidden_places(tmp_path: Path) -> None:
    folder = tmp_path / ".shelf" / "recipes"  # a hidden folder above does not count
    for name in ["sub/c.yaml", "b.yml", "a.yaml", ".hidden/d.yaml", "sub/.e.yaml", "notes.txt"]:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("")
    assert recipe_files(folder) == [folder / "a.yaml", folder / "b.yml", folder / "sub" / "c.yaml"]
    assert recipe_files(tmp_path / "absent") == []
