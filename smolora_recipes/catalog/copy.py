"""`smolora recipes cp`: copy a recipe for local editing, comments and layout kept, each path it
writes rewritten so the copy still validates in its new place; with `with_data`, the data
files it names are copied next to it.

A relative `extends` of a built-in or git recipe becomes a pinned reference (`builtin:base`,
`git+URL@COMMIT#base.yaml`); its own output paths give way to the defaults, as when it runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from smolora_recipes.core.errors import Location, Problem, RecipeError
from smolora_recipes.core.paths import user_path
from smolora_recipes.recipe.builtin_models import looks_local
from smolora_recipes.recipe.eval_section import EVAL_TASK_HINT, task_files
from smolora_recipes.recipe.references import ResolvedReference, is_reference, resolve_argument
from smolora_recipes.recipe.schema_walk import Marker, marked_fields
from smolora_recipes.recipe.section import ModelRefMarker, PathMarker
from smolora_recipes.recipe.yaml_source import FieldPath, parse_yaml, value_at

_PLAIN = re.compile(r"[A-Za-z0-9_./~][A-Za-z0-9_./+:@#-]*")
_EXTENDS: FieldPath = ("extends",)


def copy_recipe(source: str, destination: Path, with_data: bool = False) -> list[Path]:
    """Copy the recipe `source` names to `destination` (a file, or a folder to copy into);
    return the files written, the recipe first. Never overwrites."""
    origin = resolve_argument(source)
    file = origin.file if origin else Path(os.path.abspath(source))
    if not file.is_file():
        raise _error(f"recipe file not found: {file}", source, "give a recipe file or reference")
    target = Path(os.path.abspath(destination / file.name if destination.is_dir() else destination))
    text = file.read_text(encoding="utf-8")
    document = parse_yaml(text, str(file), os.environ)
    plan = _CopyPlan(file, target, origin, with_data)
    fields: list[tuple[FieldPath, Marker | None]] = list(marked_fields(document.data))
    if isinstance(document.data.get("extends"), str):
        fields.append((_EXTENDS, None))
    edits: dict[FieldPath, str | None] = {}
    for path, marker in fields:
        value = value_at(document.data, path)
        if path in document.env_vars or not isinstance(value, str) or not value:
            continue  # a value from the environment stays as written
        if is_reference(value) or (
            isinstance(marker, ModelRefMarker) and not looks_local(value, file.parent)
        ):
            continue  # a reference, alias or hub id means the same anywhere
        named = Path(os.path.normpath(file.parent / user_path(value)))
        edits[path] = plan.new_value(path, marker, named)
    for path in [target, *(copy for _, copy in plan.copies)]:
        if path.exists():
            raise _error(f"{path} already exists", source, "copy to a new file or folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Copied from {source} by `smolora recipes cp`.\n"
    target.write_text(header + _spliced(text, edits), encoding="utf-8")
    for original, copy in plan.copies:
        copy.parent.mkdir(parents=True, exist_ok=True)
        if original.is_dir():
            shutil.copytree(original, copy)
        else:
            shutil.copy2(original, copy)
    return [target, *(copy for _, copy in plan.copies)]


@dataclass
class _CopyPlan:
    """Where a recipe is copied from and to, and the data files to copy along."""

    file: Path
    target: Path
    origin: ResolvedReference | None  # set when the recipe is built in or from git
    with_data: bool
    copies: list[tuple[Path, Path]] = field(default_factory=list)

    def new_value(self, path: FieldPath, marker: Marker | None, named: Path) -> str | None:
        """What a path written in the recipe becomes in the copy."""
        if isinstance(marker, PathMarker) and not marker.must_exist and self.origin:
            return "runs" if path == ("output", "dir") else None  # where its runs went anyway
        if path == _EXTENDS and self.origin:
            return self.origin.sibling(named)
        if self.with_data and path[0] in ("data", "eval"):
            relative = os.path.relpath(named, self.file.parent)
            if relative.startswith(os.pardir):
                relative = f"{path[0]}/{named.name}"
            copy = self.target.parent / relative
            self.copies.append((named, copy))
            if path[0] == "eval":  # a task file: the data files it names, as laid out beside it
                self.copies += [
                    (f, copy.parent / f.relative_to(named.parent)) for f in _task_data(named)
                ]
            return Path(relative).as_posix()
        if self.origin:
            return str(named)  # the fetched or installed copy; with_data makes it local
        return Path(os.path.relpath(named, self.target.parent)).as_posix()


def _task_data(task: Path) -> list[Path]:
    """The data files an eval task file names; each must lie in or below the task's folder,
    where the copied task file finds it again."""
    try:
        files = task_files(task)[1:]
    except ValueError as error:
        raise _error(f"{task}: {error}", str(task), EVAL_TASK_HINT) from None
    outside = [f for f in files if not f.is_relative_to(task.parent)]
    if outside:
        raise _error(
            f"{task} reads {outside[0]}, outside the task file's folder",
            str(task),
            "move the data file beside the task file, or copy without --with-data",
        )
    return files


def _spliced(text: str, edits: dict[FieldPath, str | None]) -> str:
    """`text` with the scalar at each edited path replaced, everything else kept as written."""
    spans = _scalar_spans(yaml.compose(text, Loader=yaml.SafeLoader))
    for path in sorted(edits, key=lambda p: spans[p][0], reverse=True):
        start, end = spans[path]
        text = text[:start] + _scalar(edits[path]) + text[end:]
    return text


def _scalar_spans(node: Node | None, path: FieldPath = ()) -> dict[FieldPath, tuple[int, int]]:
    """Start and end offsets of every scalar in a composed YAML document, by path."""
    if isinstance(node, MappingNode):
        items = [((*path, key.value), item) for key, item in node.value]
    elif isinstance(node, SequenceNode):
        items = [((*path, index), item) for index, item in enumerate(node.value)]
    else:
        return {} if node is None else {path: (node.start_mark.index, node.end_mark.index)}
    spans: dict[FieldPath, tuple[int, int]] = {}
    for inner, item in items:
        spans.update(_scalar_spans(item, inner))
    return spans


def _scalar(value: str | None) -> str:
    """A YAML scalar for `value`: plain when that reads back as the same string."""
    if value is None:
        return "null"
    if _PLAIN.fullmatch(value) and yaml.safe_load(value) == value:
        return value
    return json.dumps(value, ensure_ascii=False)


def _error(message: str, source: str, hint: str) -> RecipeError:
    return RecipeError(Problem(message, Location(source, literal=True), hint=hint))
