"""`true` is not a number: every number field of every recipe section refuses a boolean (pydantic
alone reads `lora.r: true` as r=1), with the field located and the value shown as written."""

from __future__ import annotations

import typing
from pathlib import Path

import pydantic
import pytest

from smolora_recipes.recipe import schema
from smolora_recipes.recipe.section import Section
from tests.conftest import invoke


def every_section() -> list[type[Section]]:
    """Every section model the recipe is made of (the Recipe class included)."""
    found: list[type[Section]] = []
    pending: list[type] = [schema.Recipe]
    while pending:
        model = pending.pop()
        if model in found:
            continue
        found.append(model)
        for field in model.model_fields.values():
            pending.extend(_sections_in(field.annotation))
    return found


def _sections_in(annotation: object) -> list[type]:
    if isinstance(annotation, type) and issubclass(annotation, Section):
        return [annotation]
    return [found for arg in getattr(annotation, "__args__", ()) for found in _sections_in(arg)]


def _types_in(annotation: object) -> set[object]:
    """The types a field admits, through unions and Annotated (not inside lists)."""
    if typing.get_origin(annotation) is list:
        return {list}
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return {type(arg) for arg in args}
    return set().union(*map(_types_in, args)) if args else {annotation}


def number_fields() -> list[tuple[type[Section], str]]:
    """(section, field) for every field whose type is a number and not also a boolean."""
    fields = []
    for section in every_section():
        for name, field in section.model_fields.items():
            kinds = _types_in(field.annotation)
            if kinds & {int, float} and bool not in kinds:
                fields.append((section, name))
    return fields


def test_every_number_field_refuses_a_boolean() -> None:
    fields = number_fields()
    assert len(fields) > 20  # lora, sft, data, samples, serve... all reached
    for section, name in fields:
        for value in (True, False):
            with pytest.raises(pydantic.ValidationError) as raised:
                section.model_validate({name: value})
            errors = [e for e in raised.value.errors() if e["loc"][:1] == (name,)]
            assert errors, f"{section.__name__}.{name} accepted {value}"
            assert repr(errors[0]["input"]) == str(value).lower(), (section.__name__, name)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("lora.r=true", "lora.r: input should be a valid integer; got true"),
        ("sft.learning_rate=false", "sft.learning_rate: input should be a valid number; got false"),
        ("data.eval_split=true", "data.eval_split: input should be a valid number; got true"),
        (
            "eval.gate.tuned_min={mc/acc: true}",
            "eval.gate.tuned_min.mc/acc: input should be a valid number; got true",
        ),
    ],
)
def test_a_boolean_for_a_number_is_a_located_error(
    minimal: Path, in_tmp_dir: Path, setting: str, message: str
) -> None:
    code, _out, err = invoke("validate", str(minimal), "--set", setting)
    assert code == 2
    assert f"--set {setting}: {message}" in err


def test_booleans_still_set_boolean_fields(minimal: Path) -> None:
    code, _out, err = invoke("validate", str(minimal), "--set", "sft.packing=true")
    assert code == 0, err
