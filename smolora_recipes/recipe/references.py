"""Recipe references: `builtin:NAME`, `git+URL@REV#path`, and on the command line `FILE@REV`.

Each resolves to a recipe file on disk; a git reference also to the commit it stands for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from smolora_recipes.core.errors import Location, Problem, RecipeError
from smolora_recipes.core.shared_paths import BUILTIN_RECIPES_DIR, SHORT_COMMIT
from smolora_recipes.recipe.git_refs import (
    Checkout,
    fetch_checkout,
    file_revision,
    parse_git_reference,
)

BUILTIN_PREFIX = "builtin:"
GIT_PREFIX = "git+"
RECIPE_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class ResolvedReference:
    """A reference as written, the recipe file it names, and its git checkout if any."""

    text: str
    file: Path
    checkout: Checkout | None = None

    @property
    def commit(self) -> str | None:
        """The git commit the reference resolved to (None for a built-in recipe)."""
        return self.checkout.commit if self.checkout else None

    def sibling(self, file: Path) -> str:
        """A pinned reference to another file of the same place: `builtin:x`, `git+URL@C#x`."""
        root = self.checkout.root if self.checkout else BUILTIN_RECIPES_DIR
        relative = Path(os.path.relpath(file, root)).as_posix()
        if self.checkout:
            return self.checkout.reference(relative)
        return BUILTIN_PREFIX + relative.removesuffix(".yaml")


def is_reference(text: str) -> bool:
    """True for `builtin:NAME` and `git+URL@REV#path`; anything else is a file path."""
    return text.startswith((BUILTIN_PREFIX, GIT_PREFIX))


def resolve_reference(text: str, where: Location, field: str = "") -> ResolvedReference:
    """The recipe file a `builtin:` or `git+` reference names (git: fetched if needed)."""
    if text.startswith(BUILTIN_PREFIX):
        name = text.removeprefix(BUILTIN_PREFIX)
        return ResolvedReference(text, builtin_recipe(name, where, field))
    ref = parse_git_reference(text, where, field)
    checkout = fetch_checkout(ref, where, field)
    return ResolvedReference(text, _file_in(checkout, ref.path, where, field), checkout)


def resolve_argument(text: str) -> ResolvedReference | None:
    """A recipe named on the command line: a reference, `FILE@REV`, or None for a plain file."""
    where = Location(text, literal=True)
    if is_reference(text):
        return resolve_reference(text, where)
    revision = file_revision(text)
    if revision is None:
        return None
    checkout, path = revision
    return ResolvedReference(text, _file_in(checkout, path, where, ""), checkout)


def _file_in(checkout: Checkout, path: str, where: Location, field: str) -> Path:
    """The file at `path` of a checkout, or a located error listing the recipes there."""
    file = checkout.root / path
    if path and file.is_file():
        return file
    found = recipe_files(checkout.root)[:12]
    listed = ", ".join(p.relative_to(checkout.root).as_posix() for p in found) or "none"
    raise RecipeError(
        Problem(
            f"{path or 'no path'} is not a file of {checkout.url} at commit "
            f"{checkout.commit[:SHORT_COMMIT]}",
            where,
            field,
            hint=f"recipe files there: {listed}",
        )
    )


def builtin_names() -> list[str]:
    """The names of the recipes shipped in the package (`builtin:NAME`)."""
    return sorted(path.stem for path in BUILTIN_RECIPES_DIR.glob("*.yaml"))


def builtin_recipe(name: str, where: Location, field: str = "") -> Path:
    """The file of a built-in recipe, or a located error listing the available ones."""
    file = BUILTIN_RECIPES_DIR / (name if name.endswith(RECIPE_SUFFIXES) else f"{name}.yaml")
    if not name or ".." in PurePosixPath(name).parts or not file.is_file():
        raise RecipeError(
            Problem(
                f"no built-in recipe {name!r}",
                where,
                field,
                hint=f"built-in recipes: {', '.join(builtin_names())} "
                "(`smolora recipes ls` describes them)",
            )
        )
    return file


def recipe_files(folder: Path) -> list[Path]:
    """YAML files below `folder`, sorted, skipping hidden files and folders."""
    found = (
        path
        for suffix in RECIPE_SUFFIXES
        for path in folder.rglob(f"*{suffix}")
        if not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )
    return sorted(found)
