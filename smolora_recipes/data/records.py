"""A record read from a data source, with the place it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smolora_recipes.errors import Location, Problem, UserInputError


@dataclass(frozen=True)
class Record:
    """One record of a source: its fields, and `origin` such as `data/train.jsonl:12`."""

    fields: dict[str, Any]
    origin: str


class DataError(UserInputError):
    """A data file or record that cannot be used, located as precisely as possible."""


def data_error(
    message: str, file: str, line: int = 0, *, field: str = "", hint: str = ""
) -> DataError:
    """A DataError pointing at `file:line`."""
    return DataError(Problem(message, Location(file, line), field, hint))


def record_error(record: Record, message: str, *, field: str, hint: str = "") -> DataError:
    """A DataError pointing at the file and line a record came from."""
    file, _, line = record.origin.rpartition(":")
    if not line.isdigit():
        file, line = record.origin, "0"
    return data_error(message, file, int(line), field=field, hint=hint)
