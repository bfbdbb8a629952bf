"""Typed errors. Library code raises these; the CLI renders them and picks the exit code."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smolora_recipes.core.shared_paths import shared_label


def display_path(path: str | os.PathLike[str] | None) -> str:
    """`path` relative to the working directory when it lies below it, its label when it lies
    in a shared place (`builtin:quickstart.yaml`, `3f2a9c1b7d0e:base.yaml`), else as is."""
    if path is None:
        return "<unknown>"
    label = shared_label(path)
    if label is not None:
        return label
    text = str(path)
    try:
        rel = os.path.relpath(text)
    except ValueError:  # another drive on Windows
        return text
    return text if rel.startswith("..") else rel


@dataclass(frozen=True)
class Location:
    """A place in a file: 1-based line and column (0 when unknown).

    `literal` marks a place that is not a file, such as a `--set` option; it is shown as is.
    """

    file: str
    line: int = 0
    column: int = 0
    literal: bool = False

    def __str__(self) -> str:
        shown = self.file if self.literal else display_path(self.file)
        if self.line:
            return f"{shown}:{self.line}:{self.column}" if self.column else f"{shown}:{self.line}"
        return shown


@dataclass(frozen=True)
class Problem:
    """One thing wrong with user input: where, which field, what was expected, and a hint."""

    message: str
    location: Location | None = None
    field: str = ""
    hint: str = ""

    def render(self) -> str:
        """Render as one block: `file:line:col: field: message` plus an indented hint."""
        head = ": ".join(part for part in (str(self.location or ""), self.field) if part)
        text = f"{head}: {self.message}" if head else self.message
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class SmoloraError(Exception):
    """Base class of every error this package raises on purpose."""

    exit_code = 1


class UserInputError(SmoloraError):
    """Bad input from the user (recipe, data, command line): exit code 2, no traceback."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | Problem) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__(self.render())

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with the problems (errors cross process boundaries in `datasets.map`)."""
        return (self.__class__, (self.problems,))

    def render(self) -> str:
        """All problems, one block each."""
        return "\n".join(problem.render() for problem in self.problems)


class RecipeError(UserInputError):
    """A recipe that cannot be loaded or validated."""


def problem_at(file: str | Path, message: str, *, field: str = "", hint: str = "") -> Problem:
    """Shorthand for a problem that points at a whole file."""
    return Problem(message=message, location=Location(str(file)), field=field, hint=hint)


def os_error_text(error: OSError) -> str:
    """`No space left on device: /runs/x/model.safetensors`: the reason, then the path."""
    reason = error.strerror or str(error)
    return f"{reason}: {error.filename}" if error.filename is not None else reason


def error_text(error: BaseException) -> str:
    """An error as reports show it: located problems for bad input, reason and path for the
    machine's errors (disk full, permission denied), else the message."""
    if isinstance(error, UserInputError):
        return error.render()
    if isinstance(error, OSError):
        return os_error_text(error)
    return str(error)
