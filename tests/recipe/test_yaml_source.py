"""Position-aware safe YAML: syntax errors, refused tags, duplicates, env, bombs."""

from __future__ import annotations

import pytest

from smolora_recipes.core.errors import Location, RecipeError
from smolora_recipes.recipe.yaml_source import (
    MAX_DEPTH,
    parse_yaml,
    parse_yaml_value,
    path_text,
    set_value_at,
    value_at,
)


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
    # 9**5 values: past the limit, yet small enough to finish should the limit ever be lost
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in range(1, 5):
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


CONTROL_HINT = 'remove the control character, or write it escaped inside double quotes: "\\x1f"'
FLOW_HINT = "inside { } and [ ], quote text containing '?', ':', ',' or '#': 'Is it? Yes'"
SYNTAX_HINT = "check indentation and quoting near this line; strings with ': ' need quotes"
TAG_HINT = "remove the !tag; write plain strings, numbers, lists and mappings"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a: \x01\n",
            f"r.yaml:1:4: character #x0001 is not allowed in YAML\n    hint: {CONTROL_HINT}",
        ),
        ("a: 1\nb: 2\nc: x\x07y\n", "r.yaml:3:5: character #x0007 is not allowed in YAML"),
        ("a: \ud800\n", "r.yaml:1:4: character #xd800 is not allowed in YAML"),
        (
            "a: 1\nb: [1, 2\nc: 3\n",
            "r.yaml:3:2: YAML syntax error: while parsing a flow sequence, expected ',' or ']', "
            f"but got ':'\n    hint: {FLOW_HINT}",
        ),
        (
            "a: b: c\n",
            "r.yaml:1:5: YAML syntax error: mapping values are not allowed here\n"
            f"    hint: {SYNTAX_HINT}",
        ),
        (
            "a: 1\n---\nb: 2\n",
            "r.yaml:2:1: YAML syntax error: expected a single document in the stream, "
            "but found another document",
        ),
        ("a: *nope\n", "r.yaml:1:4: YAML syntax error: found undefined alias 'nope'"),
        (
            "c:\n  <<: 1\n",
            "r.yaml:2:7: YAML syntax error: while constructing a mapping, expected a mapping or "
            f"list of mappings for merging, but found scalar\n    hint: {SYNTAX_HINT}",
        ),
        (
            "a: !!python/tuple [1]\n",
            "r.yaml:1:4: a: YAML tag 'tag:yaml.org,2002:python/tuple' is not allowed: "
            f"recipes are data and cannot run code\n    hint: {TAG_HINT}",
        ),
        ("a: !!omap [{x: 1}]\n", "r.yaml:1:4: a: YAML tag 'tag:yaml.org,2002:omap' is not"),
        ("a:\n  - !!binary aGk=\n", "r.yaml:2:5: a.0: YAML tag 'tag:yaml.org,2002:binary' is"),
        (
            "a:\n  1: x\n  b: 1\n  b: 2\n  b: 3\n",
            "r.yaml:2:3: a: keys must be plain strings\n    hint: quote the key, e.g. '1': ...\n"
            "r.yaml:4:3: a.b: duplicate key; YAML would silently keep only the last one\n"
            "    hint: first set at line 3\n"
            "r.yaml:5:3: a.b: duplicate key; YAML would silently keep only the last one",
        ),
        ("? [a]\n: 1\n", "r.yaml:1:3: keys must be plain strings"),
        (
            'x: "${env:MISSING}"\ny: ${env:GONE:-3}\nz: a${env:NONE}b\n',
            "r.yaml:1:4: x: environment variable MISSING is not set\n"
            "    hint: export MISSING=..., or give a default: ${env:MISSING:-value}\n"
            "r.yaml:3:4: z: environment variable NONE is not set",
        ),
    ],
)
def test_problems_are_located_with_their_hint(text: str, expected: str) -> None:
    assert problems(text).startswith(expected)


def test_a_file_over_the_size_limit_is_refused_before_parsing() -> None:
    assert problems("a: '" + "é" * 499_998 + "'\n") == (
        "r.yaml: file is larger than 1000 kB; a recipe is configuration\n"
        "    hint: keep data in data files and name them from `data.sources`"
    )


def test_a_file_exactly_at_the_size_limit_is_read() -> None:
    text = "a: '" + "é" * 499_997 + "'\n"  # 1,000,000 bytes in UTF-8
    assert len(parse_yaml(text, "r.yaml", {}).data["a"]) == 499_997


def _aliased(last_items: int) -> str:
    """1 mapping + 100 (list a) + 1 + 498 * 100 (b repeats a) + 1 + `last_items` values."""
    return (
        f"a: &a [{', '.join(['1'] * 99)}]\n"
        f"b: [{', '.join(['*a'] * 498)}]\n"
        f"c: [{', '.join(['2'] * last_items)}]\n"
    )


def test_value_limit_counts_expanded_aliases() -> None:
    assert len(parse_yaml(_aliased(97), "r.yaml", {}).data["b"]) == 498  # exactly 50,000
    assert problems(_aliased(98)) == (
        "r.yaml:3:296: recipe expands to more than 50000 values\n"
        "    hint: YAML aliases (*name) that repeat each other multiply; write it out"
    )


def test_nesting_limit_is_exact() -> None:
    value: list[object] = []
    for _ in range(MAX_DEPTH - 1):
        value = [value]
    nested = "x: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n"
    assert parse_yaml(nested, "r.yaml", {}).data == {"x": value}
    deeper = "x: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n"
    assert problems(deeper) == "r.yaml:1:44: x" + ".0" * 40 + ": nested deeper than 40 levels"


def test_positions_of_keys_items_and_nested_mappings() -> None:
    doc = parse_yaml("top: 1\nlist:\n  - a: 1\n    b: [x, {c: 2}]\n", "r.yaml", {})
    shown = {path: (loc.file, loc.line, loc.column) for path, loc in doc.positions.items()}
    assert shown == {
        ("top",): ("r.yaml", 1, 1),
        ("list",): ("r.yaml", 2, 1),
        ("list", 0): ("r.yaml", 3, 5),
        ("list", 0, "a"): ("r.yaml", 3, 5),
        ("list", 0, "b"): ("r.yaml", 4, 5),
        ("list", 0, "b", 0): ("r.yaml", 4, 9),
        ("list", 0, "b", 1): ("r.yaml", 4, 12),
        ("list", 0, "b", 1, "c"): ("r.yaml", 4, 13),
    }
    assert doc.file == "r.yaml" and doc.env_vars == {}


def test_merge_keys_and_aliases_give_plain_values() -> None:
    doc = parse_yaml("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  z: 3\nd: *b\n", "r.yaml", {})
    base = {"x": 1, "y": 2}
    assert doc.data == {"base": base, "c": {**base, "z": 3}, "d": base}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("!!str 5", "5"),
        ("'a'", "a"),
        ("null", None),
        ("~", None),
        ("1_000", 1000),
        ("0x1f", 31),
        ("true", True),
        ("1e5x", "1e5x"),
        ("e5", "e5"),
        ("1e", "1e"),
        ("1.e5", 1e5),
        ("+1e5", 1e5),
        ("2024-01-01 10:00:00", "2024-01-01 10:00:00"),
    ],
)
def test_scalars_are_plain_python_values(text: str, value: object) -> None:
    assert parse_yaml(f"v: {text}\n", "r.yaml", {}).data == {"v": value}


@pytest.mark.parametrize(
    ("text", "env", "value", "names"),
    [
        ("${env:A}-${env:B}", {"A": "7", "B": "8"}, "7-8", "A, B"),
        ("${env:FLAG}", {"FLAG": "true"}, True, "FLAG"),
        ("${env:N}", {"N": "null"}, None, "N"),
        ("${env:N}", {"N": "2024-01-01"}, "2024-01-01", "N"),  # dates stay text here too
        ("${env:A}${env:B}", {"A": "1", "B": "6"}, "16", "A, B"),  # typed only when alone
        ("x${env:N}", {"N": "16"}, "x16", "N"),
        ("${env:EMPTY:-}", {}, None, "EMPTY"),  # an empty value is null, as in YAML
        ("a${env:EMPTY:-}", {}, "a", "EMPTY"),
        ("${env:SET:-9}", {"SET": "3"}, 3, "SET"),
        ("${env:1BAD}", {}, "${env:1BAD}", ""),
    ],
)
def test_env_substitution(text: str, env: dict[str, str], value: object, names: str) -> None:
    doc = parse_yaml(f"v: {text}\n", "r.yaml", env)
    assert doc.data == {"v": value}
    assert doc.env_vars == {("v",): names}


def test_path_helpers_walk_mappings_and_lists() -> None:
    data = {"a": [{"b": 1}, {"b": 2}]}
    assert path_text(("a", 1, "b")) == "a.1.b"
    assert path_text(()) == ""
    assert value_at(data, ("a", 1, "b")) == 2
    assert value_at(data, ()) is data
    set_value_at(data, ("a", 0, "b"), 5)
    set_value_at(data, ("a", 1), "x")
    assert data == {"a": [{"b": 5}, "x"]}


def test_set_values_are_parsed_with_the_environment_given() -> None:
    where = Location("--set lora.r=8", literal=True)
    assert parse_yaml_value("[q, v]", where, {}) == ["q", "v"]
    assert parse_yaml_value("", where, {}) == {}
    assert parse_yaml_value("${env:HOME}", where, {"HOME": "/home/me"}) == "/home/me"
    with pytest.raises(RecipeError) as caught:
        parse_yaml_value("${env:HOME}", where, {})
    assert caught.value.render().startswith(
        "--set lora.r=8:1:1: environment variable HOME is not set"
    )


def test_a_mappings_own_key_overrides_a_merged_one_wherever_it_stands() -> None:
    """YAML merge keys: the mapping's own keys win; two own keys are still a duplicate."""
    for text in ("c:\n  <<: {x: 1, y: 2}\n  x: 9\n", "c:\n  x: 9\n  <<: {x: 1, y: 2}\n"):
        doc = parse_yaml(text, "r.yaml", {})
        assert doc.data == {"c": {"x": 9, "y": 2}}
        assert doc.positions[("c", "x")].line == (3 if text.index("x: 9") > 10 else 2)
    with pytest.raises(RecipeError) as raised:
        parse_yaml("c:\n  <<: {x: 1}\n  x: 9\n  x: 8\n", "r.yaml", {})
    assert "r.yaml:4:3: c.x: duplicate key; YAML would silently keep only the last one" in (
        raised.value.render()
    )
