"""`shared_rules.source_escape_problems`, without git: what a data source may name when its
recipe was fetched into `$SMOLORA_HOME/recipes/<commit>/`, and the absolute glob no recipe may
give (the git-backed end-to-end cases are in tests/hostile/test_fetched_confinement.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smolora_recipes.core.errors import Location, Problem
from smolora_recipes.core.paths import fetched_recipes_dir
from smolora_recipes.recipe.origin import Origin
from smolora_recipes.recipe.shared_rules import source_escape_problems
from smolora_recipes.recipe.yaml_source import FieldPath, path_text

COMMIT = "3f2a9c1b7d0e" + "0" * 28
GLOB_HINT = (
    "a recipe fetched from git reads only files of its own commit (3f2a9c1b7d0e); match files "
    "below `path`"
)
HUB_HINT = (
    "a recipe fetched from git reads only files of its own commit (3f2a9c1b7d0e); name a path "
    "inside the repository"
)


def located(path: FieldPath) -> Location:
    return Location(f"at {path_text(path)}", literal=True)


def problems(source: dict[str, Any], fetched: bool, written: tuple[str, ...]) -> list[Problem]:
    """The problems of one source whose `written` fields come from a recipe file that is in a
    fetched checkout (or in the working folder)."""
    checkout = fetched_recipes_dir() / COMMIT
    top = checkout if fetched else Path.cwd()
    where = Location(str(top / "recipe.yaml"), 3)
    origins = {("data", "sources", 0, name): Origin("file", where) for name in written}
    data = {"data": {"sources": [source]}}
    return source_escape_problems(data, origins, top, located)


@pytest.mark.parametrize("fetched", [False, True])
@pytest.mark.parametrize("glob", ["/etc/*", "~/notes/*.md"])
def test_an_absolute_glob_is_refused_in_every_recipe(fetched: bool, glob: str) -> None:
    source = {"type": "text_files", "path": "/data/docs", "glob": glob}
    assert problems(source, fetched, ("path", "glob")) == [
        Problem(
            f"{glob!r} is an absolute pattern; `glob` is matched inside `path`",
            located(("data", "sources", 0, "glob")),
            "data.sources.0.glob",
            "give a pattern relative to the folder, e.g. '**/*.md', and the folder as `path`",
        )
    ]


@pytest.mark.parametrize("written", [("glob",), ("path",)])
@pytest.mark.parametrize("glob", ["../../etc/*", "**/../../x/*.txt"])
def test_a_fetched_glob_may_not_climb_out(written: tuple[str, ...], glob: str) -> None:
    source = {"type": "text_files", "path": str(fetched_recipes_dir() / COMMIT / "docs")}
    assert problems({**source, "glob": glob}, True, written) == [
        Problem(
            f"{glob!r} climbs out of `path` with '..'",
            located(("data", "sources", 0, "glob")),
            "data.sources.0.glob",
            GLOB_HINT,
        )
    ]


@pytest.mark.parametrize(
    ("source", "fetched"),
    [
        ({"type": "text_files", "path": "docs", "glob": "../*.md"}, False),  # your own recipe
        ({"type": "text_files", "path": "docs", "glob": "**/*.md"}, True),
        ({"type": "text_files", "path": "docs"}, True),  # the default glob
        ({"type": "text_files", "path": 3, "glob": "../*"}, True),  # a wrong type: the schema's
        ({"type": "hf", "name": "someone/dataset"}, True),
        ({"type": "hf", "name": "../outside"}, False),
        ({"type": "jsonl", "path": "../x.jsonl"}, True),  # paths are checked when resolved
        ("not a mapping", True),
    ],
)
def test_what_stays_inside_or_is_not_fetched_passes(source: Any, fetched: bool) -> None:
    assert problems(source, fetched, ("path", "glob", "name")) == []


@pytest.mark.parametrize("name", ["../../../../tmp/x", "/tmp", "~/datasets/x", "./a/../../.."])
def test_a_fetched_hf_source_may_not_name_a_folder_outside(name: str) -> None:
    assert problems({"type": "hf", "name": name}, True, ("name",)) == [
        Problem(
            f"{name!r} leads out of the repository this recipe was fetched from",
            located(("data", "sources", 0, "name")),
            "data.sources.0.name",
            HUB_HINT,
        )
    ]


def test_a_fetched_hf_source_may_name_a_folder_inside(isolated_home: Path) -> None:
    (fetched_recipes_dir() / COMMIT / "saved").mkdir(parents=True)
    assert problems({"type": "hf", "name": "./saved"}, True, ("name",)) == []
    assert problems({"type": "hf", "name": "saved"}, True, ("name",)) == []


def test_sources_that_are_not_a_list_pass() -> None:
    top = fetched_recipes_dir() / COMMIT
    for data in ({"data": {"sources": "x"}}, {"data": "x"}, {}):
        assert source_escape_problems(data, {}, top, located) == []
