"""What every recipe section shares: closed pydantic models, and markers for path fields."""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator


@dataclass(frozen=True, kw_only=True)
class PathMarker:
    """Metadata marking a field as a filesystem path, resolved against the recipe that sets it."""

    must_exist: bool
    kind: Literal["file", "any"] = "any"


class ModelRefMarker:
    """Metadata marking `model.base`: an alias, a hub id, or a local path (resolved if local)."""


InputPath = Annotated[Path, PathMarker(must_exist=True)]
OutputPath = Annotated[Path, PathMarker(must_exist=False)]


class Section(BaseModel):
    """Base of every recipe section: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    @model_validator(mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, data: Any) -> Any:
        """`r: true` is an error, not r=1 (pydantic reads a boolean as a number): a boolean given
        to a number field is passed on as a `BooleanGiven`, which the number check refuses."""
        if not isinstance(data, dict):
            return data
        return {key: _marked_booleans(cls, key, value) for key, value in data.items()}


def _marked_booleans(section: type[BaseModel], key: str, value: Any) -> Any:
    """`value` with each boolean where the field wants a number made a `BooleanGiven`: the
    value itself, or the values of a mapping of numbers (`eval.gate.tuned_min`)."""
    field = section.model_fields.get(key)
    if field is None:
        return value
    by_name = _numbers_by_name(field.annotation)
    if isinstance(value, bool) and (by_name or _numeric(field.annotation)):
        return BooleanGiven(value)
    if isinstance(value, dict) and by_name:
        return {
            name: BooleanGiven(item) if isinstance(item, bool) else item
            for name, item in value.items()
        }
    return value


def _numbers_by_name(annotation: Any) -> bool:
    """Whether a field's type is a mapping to numbers (`dict[str, float]`)."""
    return typing.get_origin(annotation) is dict and _numeric(typing.get_args(annotation)[1])


class BooleanGiven:
    """A boolean where a number belongs: no number validator accepts it; shown as YAML shows it."""

    def __init__(self, value: bool) -> None:
        self.value = value

    def __repr__(self) -> str:
        return str(self.value).lower()


@functools.cache
def _numeric(annotation: Any) -> bool:
    """Whether a field's type is a number (int or float, perhaps optional, annotated or a literal
    number) that does not also admit booleans."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _numeric(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        kinds = typing.get_args(annotation)
        return bool not in kinds and any(_numeric(kind) for kind in kinds)
    if origin is Literal:  # Literal[1] matches True: True == 1
        values = typing.get_args(annotation)
        return any(type(value) in (int, float) for value in values) and not any(
            type(value) is bool for value in values
        )
    return annotation in (int, float)
