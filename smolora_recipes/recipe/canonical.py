"""The canonical form of a resolved recipe: stable key order, paths relative to the recipe.

Used by `show`, `diff`, run snapshots and fingerprints, so two machines with the same recipe
and data see the same text.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from smolora_recipes.core.shared_paths import shared_label, shared_root
from smolora_recipes.recipe.loader import LoadedRecipe
from smolora_recipes.recipe.schema_walk import marked_fields
from smolora_recipes.recipe.yaml_source import FieldPath, set_value_at, value_at

Annotate = Callable[[FieldPath], str]


def portable_path(path: str, base_dir: Path) -> str:
    """A path relative to `base_dir` in posix form, except: a path in another shared place is
    shown by its label (`3f2a9c1b7d0e:data/a.jsonl`, the same on every machine), and a path
    outside the shared place `base_dir` lies in (a builtin recipe's runs folder) stays absolute.
    """
    if not os.path.isabs(path):
        return Path(path).as_posix()
    root = shared_root(path)
    if root != shared_root(base_dir):
        return shared_label(path) or Path(path).as_posix()
    try:
        relative = os.path.relpath(path, base_dir)
    except ValueError:
        return Path(path).as_posix()
    return Path(relative).as_posix()


def canonical_data(loaded: LoadedRecipe) -> dict[str, Any]:
    """The resolved recipe as plain data: every field, defaults included, in schema order."""
    data = loaded.recipe.model_dump(mode="json", exclude={"extends"})
    data["output"]["dir"] = str(loaded.paths.runs_dir)  # where runs really go, default resolved
    for path, _marker in marked_fields(data):
        value = value_at(data, path)
        if isinstance(value, str) and os.path.isabs(value):
            set_value_at(data, path, portable_path(value, loaded.base_dir))
    return data


def canonical_yaml(loaded: LoadedRecipe, annotate: Annotate | None = None) -> str:
    """Canonical YAML text, headed by the commit each git reference resolved to; with
    `annotate`, each value line ends with `# <annotation>`."""
    header = [f"# {ref.text} is commit {ref.commit}" for ref in loaded.references if ref.commit]
    lines = [*header, *_emit(canonical_data(loaded), (), 0, annotate)]
    return "\n".join(lines) + "\n"


def yaml_text(data: dict[str, Any]) -> str:
    """Plain data as canonical YAML: block style, one value per line, keys in the given order."""
    return "\n".join(_emit(data, (), 0, None)) + "\n"


def flatten(data: Any, prefix: FieldPath = ()) -> dict[FieldPath, Any]:
    """Leaf values by path; empty mappings and lists count as leaves."""
    if isinstance(data, dict) and data:
        out: dict[FieldPath, Any] = {}
        for key, value in data.items():
            out.update(flatten(value, (*prefix, key)))
        return out
    if isinstance(data, list) and data:
        out = {}
        for index, value in enumerate(data):
            out.update(flatten(value, (*prefix, index)))
        return out
    return {prefix: data}


def scalar_text(value: Any) -> str:
    """One value in YAML flow style, on one line (a text with line breaks double-quoted, its
    breaks written `\\n`: single quotes would fold them onto more lines)."""
    style = '"' if isinstance(value, str) and ("\n" in value or "\r" in value) else None
    text = yaml.safe_dump(
        value, default_flow_style=True, allow_unicode=True, width=10**9, default_style=style
    )
    return text.removesuffix("\n").removesuffix("\n...")


def _is_leaf(value: Any) -> bool:
    return not (isinstance(value, dict | list) and value)


def _comment(annotate: Annotate | None, path: FieldPath) -> str:
    return f"  # {annotate(path)}" if annotate else ""


def _emit(value: Any, path: FieldPath, indent: int, annotate: Annotate | None) -> Iterator[str]:
    pad = " " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            here = (*path, key)
            if _is_leaf(item):
                yield f"{pad}{key}: {scalar_text(item)}{_comment(annotate, here)}"
            else:
                yield f"{pad}{key}:"
                yield from _emit(item, here, indent + 2, annotate)
        return
    for index, item in enumerate(value):
        here = (*path, index)
        if _is_leaf(item):
            yield f"{pad}- {scalar_text(item)}{_comment(annotate, here)}"
            continue
        nested = list(_emit(item, here, indent + 2, annotate))
        nested[0] = f"{pad}- {nested[0][indent + 2 :]}"
        yield from nested
