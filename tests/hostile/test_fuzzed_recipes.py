"""Property-based recipes from a hostile stranger: random YAML, random unicode and valid
recipes with one field broken. `smolora validate` must exit 0 or 2, never show a traceback,
and every problem it reports must name a file location or a field path."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smolora_recipes.cli.main import main
from smolora_recipes.core.errors import RecipeError
from smolora_recipes.recipe.loader import load_recipe

FUZZ = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

VALID = {
    "name": "fuzz",
    "model": {"base": "smollm2-135m-instruct"},
    "data": {
        "sources": [{"type": "jsonl", "path": "train.jsonl"}],
        "format": "text",
        "eval_split": 0.1,
        "template": "{{ record.text }}",
    },
    "lora": {"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": "all-linear"},
    "sft": {"epochs": 1, "learning_rate": 2e-3, "batch_size": 8, "max_length": 256},
    "samples": {"max_new_tokens": 8, "prompts": [{"prompt": "hi", "expect": "hello"}]},
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "..",
            "/etc/passwd",
            "../../x",
            "~0",
            "~nobody-here/x",
            "${env:NOPE}",
            "{{ x.__class__ }}",
        ]
    ),
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    """One folder for every example, holding the data file valid recipes name."""
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        (root / "train.jsonl").write_text('{"text": "one"}\n', encoding="utf-8")
        yield root


def assert_handled(recipe: Path, overrides: tuple[str, ...] = ()) -> None:
    """Validate in process: exit 0 or 2, no traceback, every problem located."""
    sets = [word for override in overrides for word in ("--set", override)]
    result = CliRunner().invoke(main, ["validate", str(recipe), *sets])
    assert result.exit_code in (0, 2), (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output and "internal error" not in result.output
    if result.exit_code == 0:
        return
    with pytest.raises(RecipeError) as raised:
        load_recipe(recipe, overrides, env={})
    for problem in raised.value.problems:
        located = problem.location is not None and problem.location.file
        assert located or problem.field, problem.render()


def leaf_paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path in `data` to a mapping key or list item, parents included."""
    items = data.items() if isinstance(data, dict) else enumerate(data)
    paths: list[tuple[Any, ...]] = []
    for key, value in items:
        paths.append((*prefix, key))
        if isinstance(value, dict | list):
            paths.extend(leaf_paths(value, (*prefix, key)))
    return paths


def broken(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A deep copy of `data` with the value at `path` replaced."""
    copy = yaml.safe_load(yaml.safe_dump(data))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return copy


def test_the_valid_recipe_is_valid(folder: Path) -> None:
    recipe = folder / "valid.yaml"
    recipe.write_text(yaml.safe_dump(VALID), encoding="utf-8")
    assert CliRunner().invoke(main, ["validate", str(recipe)]).exit_code == 0


@FUZZ
@given(path=st.sampled_from(leaf_paths(VALID)), value=documents)
def test_a_valid_recipe_with_one_field_broken(folder: Path, path: tuple[Any, ...], value: Any):
    recipe = folder / "mutated.yaml"
    recipe.write_text(yaml.safe_dump(broken(VALID, path, value)), encoding="utf-8")
    assert_handled(recipe)


@FUZZ
@given(document=documents)
def test_random_yaml_documents(folder: Path, document: Any) -> None:
    recipe = folder / "random.yaml"
    recipe.write_text(yaml.safe_dump(document), encoding="utf-8")
    assert_handled(recipe)


@FUZZ
@given(text=st.text(st.characters(exclude_categories=()), max_size=200))
def test_random_unicode(folder: Path, text: str) -> None:
    """Any code point, lone surrogates included (written as the invalid UTF-8 they encode)."""
    recipe = folder / "unicode.yaml"
    recipe.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    assert_handled(recipe)


@FUZZ
@given(data=st.binary(max_size=200))
def test_random_bytes(folder: Path, data: bytes) -> None:
    """Any bytes at all, most of them not UTF-8."""
    recipe = folder / "bytes.yaml"
    recipe.write_bytes(data)
    assert_handled(recipe)


yaml_fragments = st.sampled_from(
    [
        "name: x\n",
        "data:\n",
        "  sources:\n",
        "    - type: jsonl\n",
        "      path: train.jsonl\n",
        "lora: {r: 8}\n",
        "&a [1, *a]\n",
        "!!python/object/apply:os.system ['true']\n",
        "a: &x [1, 2]\nb: *x\n",
        "<<: *missing\n",
        "? [1]\n: 2\n",
        "- ]\n",
        "\t",
        "'",
        '"',
        "{",
        "[",
        "%YAML 1.1\n---\n",
        "--- |\n  x\n",
        "extends: ../../etc/passwd\n",
        "extends: fuzz.yaml\n",
        "output: {dir: /tmp/elsewhere}\n",
        "\ufeff",
        "\x00",
        "\u2028",
    ]
)


@FUZZ
@given(parts=st.lists(yaml_fragments | st.text(max_size=8), max_size=12))
def test_spliced_yaml_fragments(folder: Path, parts: list[str]) -> None:
    recipe = folder / "spliced.yaml"
    recipe.write_bytes("".join(parts).encode("utf-8", errors="surrogatepass"))
    assert_handled(recipe)


@FUZZ
@given(
    key=st.sampled_from([".".join(map(str, path)) for path in leaf_paths(VALID)]) | st.text(),
    value=st.text(max_size=40),
)
def test_random_command_line_overrides(folder: Path, key: str, value: str) -> None:
    recipe = folder / "valid.yaml"
    recipe.write_text(yaml.safe_dump(VALID), encoding="utf-8")
    assert_handled(recipe, (f"{key}={value}",))
