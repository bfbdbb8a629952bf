"""A record read from a data source, with the place it came from."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Literal

from smolora_recipes.core.errors import Location, Problem, UserInputError


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
    if not line.isdecimal():
        file, line = record.origin, "0"
    return data_error(message, file, int(line), field=field, hint=hint)


def did_you_mean(name: str, record: Record) -> str:
    """`; did you mean 'answer'?` when a field of `record` is close to `name`, else ``."""
    close = difflib.get_close_matches(name, [str(key) for key in record.fields], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


SKIPPED_SHOWN = 5  # skipped problems quoted in the report (all are counted)


@dataclass
class ErrorPolicy:
    """A source's `on_error`: raise a malformed line/row/item, or count it and go on."""

    on_error: Literal["fail", "skip"] = "fail"
    skipped: int = 0
    quoted: list[str] = field(default_factory=list)

    def handle(self, error: DataError) -> None:
        """Raise `error` (fail), or count it and quote the first few (skip)."""
        if self.on_error == "fail":
            raise error
        self.skipped += 1
        if len(self.quoted) < SKIPPED_SHOWN:
            self.quoted.append(error.problems[0].render().splitlines()[0])
