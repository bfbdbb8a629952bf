"""`smolora recipes ls`: the recipes of a place (built in, a git revision, a folder), each with
its one-line description and the command that runs it."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from smolora_recipes import __version__
from smolora_recipes.core.errors import Location, Problem, RecipeError
from smolora_recipes.core.shared_paths import BUILTIN_RECIPES_DIR, SHORT_COMMIT
from smolora_recipes.recipe.git_refs import fetch_checkout, parse_git_reference
from smolora_recipes.recipe.references import BUILTIN_PREFIX, GIT_PREFIX, recipe_files
from smolora_recipes.recipe.yaml_source import parse_yaml

RUN_LINE = "Run:"  # the comment line giving the command; not a description


@dataclass(frozen=True)
class CatalogEntry:
    """One recipe: how to name it on the command line, and what it does."""

    reference: str
    description: str

    @property
    def command(self) -> str:
        """The command that runs the recipe."""
        return f"smolora run {shlex.quote(self.reference)}"


@dataclass(frozen=True)
class Catalog:
    """The recipes found in one place."""

    title: str
    entries: list[CatalogEntry]

    def to_text(self) -> str:
        """Two lines per recipe: reference and description, then the command."""
        count = len(self.entries)
        lines = [f"{self.title}: {count} recipe{'' if count == 1 else 's'}"]
        for entry in self.entries:
            lines.append(f"  {entry.reference}  {entry.description}".rstrip())
            lines.append(f"      {entry.command}")
        return "\n".join(lines)


def list_recipes(place: str = "builtin") -> Catalog:
    """The recipes of `builtin`, of `git+URL@REV[#folder]`, or of a local folder."""
    where = Location(place, literal=True)
    if place == "builtin":
        title = f"built-in recipes (smolora-recipes {__version__})"
        return _catalog(
            title,
            BUILTIN_RECIPES_DIR,
            lambda rel: BUILTIN_PREFIX + rel.removesuffix(".yaml"),
            where,
        )
    if place.startswith(GIT_PREFIX):
        ref = parse_git_reference(place, where)
        checkout = fetch_checkout(ref, where)
        folder = checkout.root / ref.path
        title = f"{place} (commit {checkout.commit[:SHORT_COMMIT]})"
        prefix = f"{ref.path}/" if ref.path else ""
        return _catalog(title, folder, lambda rel: f"git+{ref.url}@{ref.rev}#{prefix}{rel}", where)
    return _catalog(place, Path(place), lambda rel: os.path.join(place, rel), where)


def _catalog(title: str, folder: Path, reference: Callable[[str], str], where: Location) -> Catalog:
    if not folder.is_dir():
        raise RecipeError(
            Problem(
                f"not a folder: {folder}",
                where,
                hint="give `builtin`, `git+URL@REV` (optionally `#folder`) or a local folder",
            )
        )
    entries = []
    for file in recipe_files(folder):
        description = describe(file)
        if description is not None:
            entries.append(
                CatalogEntry(reference(file.relative_to(folder).as_posix()), description)
            )
    return Catalog(title, entries)


def describe(file: Path) -> str | None:
    """A recipe's `description:`, else its first comment line (not the `# Run:` line); None
    when the YAML file is not a recipe (no `data:` or `extends:`)."""
    text = file.read_text(encoding="utf-8", errors="replace")
    try:
        data = parse_yaml(text, str(file), os.environ).data
    except RecipeError as error:
        return f"(does not read as YAML: {error.problems[0].message})"
    if not isinstance(data, dict) or not {"data", "extends"} & data.keys():
        return None
    if isinstance(data.get("description"), str):
        return data["description"]
    for line in text.splitlines():
        comment = line.strip()
        if comment.startswith("#"):
            comment = comment.lstrip("#").strip()
            if comment and not comment.startswith(RUN_LINE):
                return comment
    return ""
