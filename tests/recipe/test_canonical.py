"""Canonical recipe text: schema order, portable paths, one value a line, annotations."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from smolora_recipes.core.paths import fetched_recipes_dir
from smolora_recipes.core.shared_paths import BUILTIN_RECIPES_DIR
from smolora_recipes.recipe.canonical import (
    canonical_data,
    canonical_yaml,
    flatten,
    portable_path,
    scalar_text,
    yaml_text,
)
from smolora_recipes.recipe.git_refs import Checkout
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.recipe.references import ResolvedReference
from smolora_recipes.recipe.yaml_source import path_text

COMMIT = "3f2a9c1b7d0e" + "b" * 28


def test_canonical_data_is_every_field_in_schema_order_with_relative_paths(
    minimal: Path,
) -> None:
    data = canonical_data(load_recipe(minimal, env={}))
    assert list(data) == [
        "recipe_version",
        "name",
        "description",
        "model",
        "data",
        "lora",
        "sft",
        "merge",
        "samples",
        "eval",
        "export",
        "output",
        "distributed",
    ]
    assert data["data"]["sources"][0]["path"] == "data/train.jsonl"
    assert data["output"] == {"dir": "runs", "cache_dir": None, "link": "symlink"}
    assert data["lora"]["r"] == 16


def test_canonical_data_keeps_paths_outside_the_recipe_folder_relative(
    minimal: Path, tmp_path: Path
) -> None:
    other = tmp_path.parent / f"{tmp_path.name}-other.jsonl"
    other.write_text('{"text": "a"}\n')
    loaded = load_recipe(minimal, (f"data.sources.0.path={other}",), env={})
    assert canonical_data(loaded)["data"]["sources"][0]["path"] == f"../{other.name}"


def test_canonical_yaml_annotates_each_value_line(minimal: Path) -> None:
    text = canonical_yaml(load_recipe(minimal, env={}), annotate=lambda path: path_text(path))
    lines = text.splitlines()
    start = lines.index("data:")
    assert lines[start : start + 4] == [
        "data:",
        "  sources:",
        "    - fields: {}  # data.sources.0.fields",
        "      text_field: text  # data.sources.0.text_field",
    ]
    assert "      path: data/train.jsonl  # data.sources.0.path" in lines
    assert "    - prompt: hello  # samples.prompts.0.prompt" in lines
    assert lines[:2] == ["recipe_version: 1  # recipe_version", "name: mini  # name"]
    assert text.endswith("  accelerate_config: null  # distributed.accelerate_config\n")


def test_canonical_yaml_without_annotations_round_trips(minimal: Path) -> None:
    loaded = load_recipe(minimal, env={})
    text = canonical_yaml(loaded)
    assert "#" not in text
    assert text.startswith("recipe_version: 1\nname: mini\ndescription: null\nmodel:\n")
    assert yaml.safe_load(text) == canonical_data(loaded)


def test_canonical_yaml_heads_with_the_commit_of_each_git_reference(
    minimal: Path, tmp_path: Path
) -> None:
    checkout = Checkout("https://example.com/r.git", COMMIT, tmp_path)
    references = [
        ResolvedReference("git+https://example.com/r.git@main#recipe.yaml", minimal, checkout),
        ResolvedReference("builtin:quickstart", minimal),
    ]
    loaded = dataclasses.replace(load_recipe(minimal, env={}), references=references)
    lines = canonical_yaml(loaded).splitlines()
    assert lines[:2] == [
        f"# git+https://example.com/r.git@main#recipe.yaml is commit {COMMIT}",
        "recipe_version: 1",
    ]


def test_yaml_text_nests_lists_and_mappings_block_style() -> None:
    data: dict[str, Any] = {
        "a": [[1, 2], {"b": {"c": [], "d": "yes"}, "e": 1}, "x"],
        "f": {},
        "g": {"h": None},
    }
    text = yaml_text(data)
    assert text == (
        "a:\n"
        "  - - 1\n"
        "    - 2\n"
        "  - b:\n"
        "      c: []\n"
        "      d: 'yes'\n"
        "    e: 1\n"
        "  - x\n"
        "f: {}\n"
        "g:\n"
        "  h: null\n"
    )
    assert yaml.safe_load(text) == data


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        ("yes", "'yes'"),
        ("a: b", "'a: b'"),
        (None, "null"),
        (True, "true"),
        (2e-4, "0.0002"),
        ([], "[]"),
        ([1, "a"], "[1, a]"),
        ({"k": 1}, "{k: 1}"),
        ({"k": {"a": [1]}}, "{k: {a: [1]}}"),
        ("zürich", "zürich"),
        ("word " * 40, "'" + "word " * 40 + "'"),  # one line however long
    ],
)
def test_scalar_text_is_one_flow_style_line(value: Any, text: str) -> None:
    assert scalar_text(value) == text


def test_flatten_gives_leaves_by_path() -> None:
    data = {"a": {"b": 1, "c": []}, "d": [1, {"e": {}}], "f": "x"}
    assert flatten(data) == {
        ("a", "b"): 1,
        ("a", "c"): [],
        ("d", 0): 1,
        ("d", 1, "e"): {},
        ("f",): "x",
    }
    assert flatten({}) == {(): {}}
    assert flatten([7], ("p",)) == {("p", 0): 7}


def test_portable_path_relative_to_the_recipe_folder(tmp_path: Path) -> None:
    base = tmp_path / "team"
    assert portable_path("data/a.jsonl", base) == "data/a.jsonl"
    assert portable_path(str(base / "data" / "a.jsonl"), base) == "data/a.jsonl"
    assert portable_path(str(tmp_path / "x" / "a.jsonl"), base) == "../x/a.jsonl"


def test_portable_path_names_other_shared_places_by_label(tmp_path: Path) -> None:
    in_checkout = fetched_recipes_dir() / COMMIT / "data" / "a.jsonl"
    in_builtin = BUILTIN_RECIPES_DIR / "data" / "b.jsonl"
    assert portable_path(str(in_checkout), tmp_path) == "3f2a9c1b7d0e:data/a.jsonl"
    assert portable_path(str(in_builtin), tmp_path) == "builtin:data/b.jsonl"
    assert portable_path(str(in_builtin), BUILTIN_RECIPES_DIR) == "data/b.jsonl"
    # outside the shared place the recipe lies in (a builtin recipe's runs): stays absolute
    runs = tmp_path / "runs"
    assert portable_path(str(runs), BUILTIN_RECIPES_DIR) == runs.as_posix()


def test_show_origin_annotations_name_the_default_and_the_file_line(minimal: Path) -> None:
    loaded = load_recipe(minimal, ("lora.alpha=8", "lora.target_modules=[q_proj]"), env={})
    lines = canonical_yaml(loaded, lambda path: loaded.origin_of(path).describe()).splitlines()
    assert "  r: 16  # default" in lines
    assert "  alpha: 8  # --set lora.alpha=8" in lines
    assert "    - q_proj  # --set lora.target_modules=[q_proj]" in lines
    assert f"name: mini  # {minimal}:1:1" in lines
