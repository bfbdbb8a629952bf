"""Pydantic errors become located problems: field path, message, did-you-mean and hints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from smolora_recipes.core.errors import Location, Problem, RecipeError
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.recipe.problems import problems_from_validation
from smolora_recipes.recipe.schema import Recipe
from smolora_recipes.recipe.yaml_source import path_text
from tests.conftest import WriteFiles

SOURCES = {"sources": [{"type": "jsonl", "path": "t.jsonl"}]}
LORA_FIELDS = (
    "fields allowed here: r, alpha, dropout, target_modules, bias, use_rslora, modules_to_save"
)


def located(path: tuple[str | int, ...]) -> Location:
    """A location naming the path it was asked for, so a test sees which field was located."""
    return Location(f"at {path_text(path)}", literal=True)


def problems_of(data: dict[str, Any]) -> list[Problem]:
    """The problems of `data` validated as a recipe (named, so `name` is never missing)."""
    data = {"name": "x", **data}
    with pytest.raises(ValidationError) as caught:
        Recipe.model_validate(data)
    return problems_from_validation(caught.value, data, located)


def test_missing_field_of_a_tagged_source_drops_the_union_tag() -> None:
    assert problems_of({"data": {"sources": [{"type": "jsonl"}]}}) == [
        Problem(
            "required field is missing",
            located(("data", "sources", 0, "path")),
            "data.sources.0.path",
            "expected: The .jsonl file, relative to the recipe that names it.",
        )
    ]


def test_missing_section_names_what_it_holds() -> None:
    assert problems_of({}) == [
        Problem(
            "required field is missing",
            located(("data",)),
            "data",
            "expected: Where training data comes from and how records become training examples.",
        )
    ]


def test_unknown_source_type_points_at_its_type_line() -> None:
    problem = Problem(
        "unknown type 'xml'; expected one of "
        "'jsonl', 'json', 'csv', 'tsv', 'text_files', 'parquet', 'hf'",
        located(("data", "sources", 1, "type")),
        "data.sources.1.type",
        "each source starts with `type:`",
    )
    sources = [SOURCES["sources"][0], {"type": "xml", "path": "a"}]
    assert problems_of({"data": {"sources": sources}}) == [problem]


def test_source_without_type_is_asked_for_one() -> None:
    [problem] = problems_of({"data": {"sources": [{"path": "a"}]}})
    assert problem.message.startswith("missing `type`; expected one of")
    assert (problem.location, problem.field) == (
        located(("data", "sources", 0, "type")),
        "data.sources.0.type",
    )
    assert problem.hint == "each source starts with `type:`"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("ab", "'ab'"),
        ("x" * 58, repr("x" * 58)),  # 60 characters with quotes: shown whole
        ("x" * 59, "'" + "x" * 56 + "..."),  # 61: cut to 57 and an ellipsis
        (2.5, "2.5"),
    ],
)
def test_wrong_type_shows_the_value_given(value: Any, shown: str) -> None:
    assert problems_of({"data": SOURCES, "lora": {"r": value}}) == [
        Problem(
            f"input should be a valid integer, {_int_reason(value)}; got {shown}",
            located(("lora", "r")),
            "lora.r",
            "expected: Adapter rank (`LoraConfig.r`).",
        )
    ]


def _int_reason(value: Any) -> str:
    if isinstance(value, str):
        return "unable to parse string as an integer"
    return "got a number with a fractional part"


@pytest.mark.parametrize("value", [[1], {"a": 1}])
def test_a_mapping_or_list_given_is_not_echoed(value: Any) -> None:
    [problem] = problems_of({"data": SOURCES, "lora": {"r": value}})
    assert problem.message == "input should be a valid integer"


def test_every_error_is_reported_in_order() -> None:
    problems = problems_of({"data": SOURCES, "lora": {"r": "ab", "alpha": "cd"}})
    assert [(p.field, p.message[-4:]) for p in problems] == [
        ("lora.r", "'ab'"),
        ("lora.alpha", "'cd'"),
    ]


def test_cross_field_rule_has_no_value_error_prefix_and_no_value() -> None:
    assert problems_of({"data": SOURCES, "sft": {"max_steps": 10, "epochs": 2}}) == [
        Problem(
            "set either max_steps or epochs, not both (a `--set` of one replaces the other; "
            "`--set sft.epochs=null` clears it)",
            located(("sft", "epochs")),
            "sft.epochs",
            "expected: Passes over the training set (`num_train_epochs`); 1 when neither is set.",
        )
    ]


OTHER_TOOLS_NAMES = [
    ("lora", "rank", "r"),
    ("lora", "lora_r", "r"),
    ("lora", "lora_alpha", "alpha"),
    ("lora", "lora_dropout", "dropout"),
    ("lora", "lora_target_modules", "target_modules"),
    ("sft", "lr", "learning_rate"),
    ("sft", "num_train_epochs", "epochs"),
    ("sft", "num_epochs", "epochs"),
    ("sft", "per_device_train_batch_size", "batch_size"),
    ("sft", "micro_batch_size", "batch_size"),
    ("sft", "gradient_accumulation_steps", "grad_accum"),
    ("sft", "max_seq_length", "max_length"),
    ("sft", "sequence_len", "max_length"),
    ("sft", "lr_scheduler_type", "lr_scheduler"),
    ("sft", "sample_packing", "packing"),
    ("model", "base_model", "base"),
    ("model", "model_name_or_path", "base"),
    ("model", "torch_dtype", "dtype"),
    ("output", "output_dir", "dir"),
    ("data", "val_set_size", "eval_split"),
]


@pytest.mark.parametrize(("section", "other", "ours"), OTHER_TOOLS_NAMES)
def test_other_tools_names_suggest_ours_in_any_case(section: str, other: str, ours: str) -> None:
    written = other.upper()  # difflib alone finds none of these: the synonym table must
    data: dict[str, Any] = {"data": SOURCES}
    data[section] = {**data.get(section, {}), written: 1}
    [problem] = problems_of(data)
    assert problem.message == f"unknown field; did you mean '{section}.{ours}'?"
    assert problem.field == f"{section}.{written}"
    assert problem.location == located((section, written))


def test_unknown_field_lists_the_fields_allowed_there() -> None:
    assert problems_of({"data": SOURCES, "lora": {"rnk": 1}}) == [
        Problem(
            "unknown field; did you mean 'lora.r'?",
            located(("lora", "rnk")),
            "lora.rnk",
            LORA_FIELDS,
        )
    ]


def test_typo_gets_the_closest_field() -> None:
    [problem] = problems_of({"data": SOURCES, "sft": {"learnin_rate": 1}})
    assert problem.message == "unknown field; did you mean 'sft.learning_rate'?"


def test_unknown_top_level_field_without_a_close_match() -> None:
    assert problems_of({"data": SOURCES, "bogus": 3}) == [
        Problem(
            "unknown field",
            located(("bogus",)),
            "bogus",
            "fields allowed here: recipe_version, name, description, extends, model, data, "
            "lora, sft, merge, samples, eval, export, output, distributed",
        )
    ]


def test_problems_inside_a_source_are_located_and_hinted() -> None:
    source = {"type": "jsonl", "path": "a", "limit": "x", "limt": 3}
    unknown, wrong = problems_of({"data": {"sources": [source]}})
    assert unknown == Problem(
        "input should be a valid integer, unable to parse string as an integer; got 'x'",
        located(("data", "sources", 0, "limit")),
        "data.sources.0.limit",
        "expected: Use at most this many records of the source.",
    )
    assert wrong.message == "unknown field; did you mean 'data.sources.0.limit'?"
    assert wrong.field == "data.sources.0.limt"
    assert wrong.hint.endswith(", on_error, type, path")


def test_loader_lists_problems_by_file_line_and_column(write: WriteFiles, tmp_path: Path) -> None:
    write("t.jsonl", '{"text": "a"}\n')
    path = write(
        "r.yaml",
        "name: x\nlora: {alpha: no, r: no}\ndata:\n  sources: [{type: jsonl, path: gone}]\n"
        "sft: {epochs: many}\n",
    )
    with pytest.raises(RecipeError) as caught:
        load_recipe(path, ("merge.enabeld=false",), env={})
    found = [(str(p.location), p.field) for p in caught.value.problems]
    assert found == [
        ("--set merge.enabeld=false", "merge.enabeld"),
        (f"{path}:2:8", "lora.alpha"),
        (f"{path}:2:19", "lora.r"),
        (f"{path}:4:27", "data.sources.0.path"),
        (f"{path}:5:7", "sft.epochs"),
    ]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            5,
            Problem(
                "input should be a valid dictionary or object to extract fields from; got 5",
                located(("data", "sources", 0)),
                "data.sources.0",
            ),
        ),
        (
            {"type": "jsonl", "path": "a", "fields": {"q": 1}},
            Problem(
                "input should be a valid string; got 1",
                located(("data", "sources", 0, "fields", "q")),
                "data.sources.0.fields.q",
            ),
        ),
    ],
)
def test_values_that_are_not_schema_fields_get_no_expected_hint(
    source: Any, expected: Problem
) -> None:
    assert problems_of({"data": {"sources": [source]}}) == [expected]


def test_a_source_without_a_type_is_told_the_types() -> None:
    [problem] = problems_of({"data": {"sources": [{"path": "t.jsonl"}]}})
    assert problem.field == "data.sources.0.type"
    assert problem.message == (
        "missing `type`; expected one of 'jsonl', 'json', 'csv', 'tsv', 'text_files', "
        "'parquet', 'hf'"
    )


def test_a_plain_unions_member_labels_stay_out_of_the_field_path() -> None:
    problems = problems_of({"data": SOURCES, "lora": {"target_modules": [1]}})
    assert sorted((p.field, p.location.file) for p in problems) == [
        ("lora.target_modules", "at lora.target_modules"),
        ("lora.target_modules.0", "at lora.target_modules.0"),
    ]
