"""What a shared or fetched recipe may not do by itself: pick output folders, run model code,
read or write outside its own place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smolora_recipes.core.errors import Location, Problem
from smolora_recipes.core.paths import fetched_recipes_dir
from smolora_recipes.core.shared_paths import BUILTIN_RECIPES_DIR
from smolora_recipes.recipe.origin import Origin
from smolora_recipes.recipe.shared_rules import (
    SHARED_OUTPUT,
    drop_shared_outputs,
    escape_problem,
    output_escape_problems,
    remote_code_problems,
)

COMMIT = "3f2a9c1b7d0e" + "a" * 28
DIR, CACHE, REMOTE = ("output", "dir"), ("output", "cache_dir"), ("model", "trust_remote_code")


def written_in(file: str | Path, kind: str = "file") -> Origin:
    return Origin(kind, Location(str(file), 3, 8))  # type: ignore[arg-type]


def checkout() -> Path:
    return fetched_recipes_dir() / COMMIT


def test_shared_recipe_does_not_choose_its_output_folders() -> None:
    data: dict[str, Any] = {"output": {"dir": "mine", "cache_dir": "c", "link": True}}
    origins = {
        DIR: written_in(BUILTIN_RECIPES_DIR / "quickstart.yaml"),
        CACHE: written_in(checkout() / "r.yaml", "extends"),
    }
    drop_shared_outputs(data, origins)
    assert data == {"output": {"link": True}}
    assert origins[DIR] == Origin("default", detail=SHARED_OUTPUT)
    assert origins[CACHE].describe() == "default (a shared recipe's own value is not used)"


@pytest.mark.parametrize(
    "origin",
    [
        Origin("set", Location("--set output.dir=x", literal=True)),
        Origin("default"),
        None,
    ],
)
def test_output_folders_from_the_user_are_kept(origin: Origin | None, tmp_path: Path) -> None:
    data: dict[str, Any] = {"output": {"dir": "mine", "cache_dir": "c"}}
    origins = {CACHE: written_in(tmp_path / "r.yaml")}
    if origin is not None:
        origins[DIR] = origin
    drop_shared_outputs(data, origins)
    assert data == {"output": {"dir": "mine", "cache_dir": "c"}}
    assert origins.get(DIR) == origin and origins[CACHE] == written_in(tmp_path / "r.yaml")


def test_each_output_field_is_judged_by_its_own_origin(tmp_path: Path) -> None:
    data: dict[str, Any] = {"output": {"dir": "mine", "cache_dir": "c"}}
    origins = {
        DIR: written_in(tmp_path / "r.yaml"),
        CACHE: written_in(BUILTIN_RECIPES_DIR / "quickstart.yaml"),
    }
    drop_shared_outputs(data, origins)
    assert data == {"output": {"dir": "mine"}}
    assert origins[DIR].kind == "file" and origins[CACHE].kind == "default"


def test_a_shared_value_already_gone_is_dropped_quietly() -> None:
    data: dict[str, Any] = {"output": {"link": True}}
    origins = {DIR: written_in(BUILTIN_RECIPES_DIR / "quickstart.yaml")}
    drop_shared_outputs(data, origins)
    assert data == {"output": {"link": True}} and origins[DIR].kind == "default"


def test_dropping_needs_an_output_mapping() -> None:
    data: dict[str, Any] = {"output": "runs"}
    origins = {DIR: written_in(BUILTIN_RECIPES_DIR / "quickstart.yaml")}
    drop_shared_outputs(data, origins)
    assert data == {"output": "runs"} and origins[DIR].kind == "file"


def test_fetched_recipe_cannot_enable_remote_code() -> None:
    origin = written_in(checkout() / "sub" / "r.yaml")
    assert remote_code_problems({REMOTE: origin}) == [
        Problem(
            "a recipe fetched from git cannot enable trust_remote_code by itself",
            origin.location,
            "model.trust_remote_code",
            hint="if you trust that repository's model code, pass --trust-remote-code on the "
            "command line (or set it in a recipe of your own that extends this one)",
        )
    ]


@pytest.mark.parametrize("where", ["own", "builtin", "set", "none"])
def test_remote_code_from_elsewhere_is_allowed(where: str, tmp_path: Path) -> None:
    origins = {
        "own": {REMOTE: written_in(tmp_path / "r.yaml")},
        "builtin": {REMOTE: written_in(BUILTIN_RECIPES_DIR / "q.yaml")},
        "set": {REMOTE: Origin("set", Location("--set", literal=True))},
        "none": {},
    }[where]
    assert remote_code_problems(origins) == []


def test_path_leading_out_of_a_checkout_is_refused(tmp_path: Path) -> None:
    root = tmp_path / COMMIT
    (root / "data").mkdir(parents=True)
    (root / "data" / "link").symlink_to(tmp_path)
    where = Location("r.yaml", 4, 9)
    expected_hint = (
        "a recipe fetched from git reads only files of its own commit (3f2a9c1b7d0e); "
        "name a path inside the repository"
    )
    for written in ("../x.jsonl", "data/link/x.jsonl"):
        assert escape_problem(written, root / written, root, where, "data.sources.0.path") == (
            Problem(
                f"{written!r} leads out of the repository this recipe was fetched from",
                where,
                "data.sources.0.path",
                hint=expected_hint,
            )
        )


def test_paths_inside_a_checkout_or_outside_any_are_fine(tmp_path: Path) -> None:
    root = tmp_path / COMMIT
    root.mkdir()
    where = Location("r.yaml", 4, 9)
    assert escape_problem("a/../b", root / "a/../b", root, where, "f") is None
    assert escape_problem(".", root, root, where, "f") is None
    assert escape_problem("../x", tmp_path / "x", None, where, "f") is None


def output_problems(dir_value: Any, origin: Origin | None, cache: Any = None) -> list[Problem]:
    output = {"dir": dir_value} if cache is None else {"dir": dir_value, "cache_dir": cache}
    origins = {} if origin is None else {DIR: origin, CACHE: origin}
    return output_escape_problems({"output": output}, origins)


@pytest.mark.parametrize("value", ["../runs", "sub/../runs", "/elsewhere/runs", "~/runs", "out"])
def test_recipe_writes_only_below_its_folder(value: str, tmp_path: Path) -> None:
    recipe = tmp_path / "team" / "r.yaml"
    recipe.parent.mkdir()
    (recipe.parent / "out").symlink_to(tmp_path)  # a symlink leading out counts as out
    origin = written_in(recipe)
    assert output_problems(value, origin) == [
        Problem(
            f"{value!r} leads out of the recipe's folder",
            origin.location,
            "output.dir",
            hint="a recipe writes below its own folder; to write elsewhere, say so on the "
            "command line: --set output.dir=PATH",
        )
    ]


def test_both_output_fields_are_checked(tmp_path: Path) -> None:
    problems = output_problems("runs", written_in(tmp_path / "r.yaml"), cache="../cache")
    assert [(p.field, p.message) for p in problems] == [
        ("output.cache_dir", "'../cache' leads out of the recipe's folder")
    ]
    assert problems[0].hint.endswith("--set output.cache_dir=PATH")


@pytest.mark.parametrize(
    "origin",
    [
        Origin("set", Location("r.yaml", 1, 1), "output.dir=../x"),
        Origin("file", Location("--set output.dir=../x", literal=True)),
        Origin("default"),
        None,
    ],
)
def test_output_paths_from_the_command_line_may_go_anywhere(origin: Origin | None) -> None:
    assert output_problems("../x", origin) == []


def test_output_paths_below_the_recipe_folder_are_fine(tmp_path: Path) -> None:
    origin = written_in(tmp_path / "r.yaml")
    assert output_problems("runs/a", origin, cache=str(tmp_path / "c")) == []
    assert output_problems(7, origin) == []  # a wrong type is the schema's to report
    assert output_escape_problems({"output": "../x"}, {DIR: origin}) == []


@pytest.mark.parametrize(
    "dir_origin",
    [None, Origin("set", Location("r.yaml", 1, 1)), Origin("file", Location("x", literal=True))],
)
def test_cache_dir_is_checked_after_a_skipped_dir(
    dir_origin: Origin | None, tmp_path: Path
) -> None:
    origins = {CACHE: written_in(BUILTIN_RECIPES_DIR / "q.yaml")}
    if dir_origin is not None:
        origins[DIR] = Origin(dir_origin.kind)  # no location: not judged
    data: dict[str, Any] = {"output": {"dir": "../x", "cache_dir": "c"}}
    drop_shared_outputs(data, origins)
    assert data == {"output": {"dir": "../x"}}
    cache_origin = written_in(tmp_path / "r.yaml")
    origins = (
        {CACHE: cache_origin} if dir_origin is None else {DIR: dir_origin, CACHE: cache_origin}
    )
    problems = output_escape_problems({"output": {"dir": "../x", "cache_dir": "../c"}}, origins)
    assert [p.field for p in problems] == ["output.cache_dir"]
