"""Position-aware safe YAML: syntax errors, refused tags, duplicates, env, bombs."""

from __future__ import annotations

import pytest

from smolora_recipes.core.errors import RecipeError
from smolora_recipes.recipe.yaml_source import MAX_DEPTH, parse_yaml


def problems(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(RecipeError) as caught:
        parse_yaml(text, "r.yaml", env or {})
    return caught.value.render()


def test_positions_are_recorded_for_keys_and_items() -> None:
    doc = parse_yaml("a:\n  b: 1\n  c: [x, y]\n", "r.yaml", {})
    assert doc.data == {"a": {"b": 1, "c": ["x", "y"]}}
    assert (doc.positions[("a", "b")].line, doc.positions[("a", "b")].column) == (2, 3)
    assert doc.positions[("a", "c", 1)].line == 3


def test_syntax_error_names_file_and_line() -> None:
    text = problems("a: 1\nb: [1, 2\nc: 3\n")
    assert text.startswith("r.yaml:")
    assert "YAML syntax error" in text


def test_flow_mapping_question_mark_gets_a_quoting_hint() -> None:
    text = problems("prompts:\n  - {prompt: Is it?, expect: yes}\n")
    assert "r.yaml:2:" in text and "quote text containing '?'" in text


def test_python_tags_are_refused_with_location() -> None:
    text = problems("a:\n  b: !!python/object/apply:os.system ['echo hi']\n")
    assert "r.yaml:2:" in text
    assert "cannot run code" in text
    assert "a.b" in text


def test_custom_tags_on_mappings_are_refused() -> None:
    assert "not allowed" in problems("a: !custom {x: 1}\n")


def test_duplicate_keys_are_errors() -> None:
    text = problems("lora:\n  r: 8\n  r: 16\n")
    assert "r.yaml:3:3: lora.r: duplicate key" in text
    assert "first set at line 2" in text


@pytest.mark.parametrize("text", ["2e-4", "1E5", "-3.5e+2", ".5e1"])
def test_scientific_notation_is_a_float(text: str) -> None:
    assert parse_yaml(f"x: {text}\n", "r.yaml", {}).data["x"] == float(text)


def test_dates_stay_text() -> None:
    assert parse_yaml("rev: 2024-01-01\n", "r.yaml", {}).data["rev"] == "2024-01-01"


def test_env_interpolation_types_and_defaults() -> None:
    doc = parse_yaml(
        "r: ${env:RANK}\nname: run-${env:WHO:-me}\nlr: ${env:LR:-2e-4}\n", "r.yaml", {"RANK": "16"}
    )
    assert doc.data == {"r": 16, "name": "run-me", "lr": 2e-4}
    assert doc.env_vars[("r",)] == "RANK"


def test_missing_env_variable_without_default_is_named() -> None:
    text = problems("model:\n  base: ${env:MODEL_DIR}\n")
    assert "r.yaml:2:9: model.base: environment variable MODEL_DIR is not set" in text
    assert "${env:MODEL_DIR:-value}" in text


def test_alias_bomb_stops_early() -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in range(1, 9):
        prev = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([prev] * 9)}]")
    assert "expands to more than" in problems("\n".join(lines) + "\n")


def test_deep_nesting_is_refused() -> None:
    text = "x: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    assert "nested deeper" in problems(text)


def test_non_string_keys_are_refused() -> None:
    assert "keys must be plain strings" in problems("1: a\n")


def test_empty_document_is_an_empty_mapping() -> None:
    assert parse_yaml("# nothing\n", "r.yaml", {}).data == {}
