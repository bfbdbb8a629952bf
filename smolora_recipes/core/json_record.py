"""Dataclasses that are their JSON: step results go to the cache and the report as plain data
and come back typed."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Self


class JsonRecord:
    """Mixin for a dataclass: `to_json()` is plain data, `from_json()` rebuilds the same value.

    Nested dataclasses (directly, in a list, or optional) are rebuilt too; a field missing from
    the data takes its default.
    """

    def to_json(self) -> dict[str, Any]:
        """Plain data (dicts, lists, numbers, strings, None) for JSON."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """The value `to_json` gave `data`; unknown keys are an error (a bug, not input)."""
        hints = typing.get_type_hints(cls)
        known = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{cls.__name__} has no field {', '.join(unknown)}")
        return cls(**{name: _rebuilt(hints[name], value) for name, value in data.items()})


def _rebuilt(hint: Any, value: Any) -> Any:
    """`value` as the type `hint` names: dataclasses from dicts, lists of them element-wise."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        kinds = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _rebuilt(kinds[0], value) if len(kinds) == 1 else value
    if origin is list and isinstance(value, list):
        (item,) = typing.get_args(hint) or (Any,)
        return [_rebuilt(item, element) for element in value]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, dict):
        if issubclass(hint, JsonRecord):
            return hint.from_json(value)
        return hint(**value)
    return value
