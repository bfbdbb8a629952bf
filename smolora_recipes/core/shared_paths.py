"""Where shared recipes live on disk, and how a path inside one is shown.

Two places hold recipes that were not written here: the `builtin_recipes` folder shipped in
this package, and the git checkouts fetched into `$SMOLORA_HOME/recipes/<commit>/`. A path
inside one is shown as `builtin:data/zembria.jsonl` or `3f2a9c1b7d0e:data/train.jsonl` (git's
own `REV:PATH` form), so it reads the same on every machine.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from smolora_recipes.core.paths import fetched_recipes_dir

BUILTIN_RECIPES_DIR = Path(__file__).resolve().parent.parent / "builtin_recipes"
SHORT_COMMIT = 12  # hex digits of a commit shown to people
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def _inside(path: str | os.PathLike[str], folder: Path) -> Path | None:
    """`path` relative to `folder` when it lies below it (no symlinks resolved), else None."""
    try:
        relative = os.path.relpath(os.path.abspath(path), folder)
    except ValueError:  # another drive on Windows
        return None
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return None
    return Path(relative)


def checkout_root(path: str | os.PathLike[str]) -> Path | None:
    """The fetched git checkout holding `path`, if any: its files are untrusted."""
    relative = _inside(path, fetched_recipes_dir())
    if relative is None or not relative.parts or not _COMMIT.match(relative.parts[0]):
        return None
    return fetched_recipes_dir() / relative.parts[0]


def shared_root(path: str | os.PathLike[str]) -> Path | None:
    """The shared place holding `path`: the built-in folder or a fetched checkout, if any."""
    if _inside(path, BUILTIN_RECIPES_DIR) is not None:
        return BUILTIN_RECIPES_DIR
    return checkout_root(path)


def shared_label(path: str | os.PathLike[str]) -> str | None:
    """`builtin:REL` or `<commit>:REL` for a path in a shared place, else None."""
    root = shared_root(path)
    if root is None:
        return None
    relative = Path(os.path.relpath(os.path.abspath(path), root)).as_posix()
    prefix = "builtin" if root == BUILTIN_RECIPES_DIR else root.name[:SHORT_COMMIT]
    return f"{prefix}:{relative}"
