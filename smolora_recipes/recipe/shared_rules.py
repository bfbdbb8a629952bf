"""What a recipe may not do by itself: choose where runs go when it comes from a shared place
or outside its own folder, enable the model's own code (fetched from git), or read files
outside its repository (fetched from git)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smolora_recipes.core.errors import Location, Problem
from smolora_recipes.core.paths import user_path
from smolora_recipes.core.shared_paths import SHORT_COMMIT, shared_root
from smolora_recipes.recipe.origin import Origin
from smolora_recipes.recipe.yaml_source import FieldPath, path_text

OUTPUT_FIELDS = (("output", "dir"), ("output", "cache_dir"))
_REMOTE_CODE = ("model", "trust_remote_code")
SHARED_OUTPUT = "a shared recipe's own value is not used"  # the origin of a dropped output path


def drop_shared_outputs(data: dict[str, Any], origins: dict[FieldPath, Origin]) -> None:
    """A `builtin:` or `git+` recipe does not choose where runs and caches are written: those
    go to the defaults (`runs/` in the working directory), or where the user's own files say."""
    output = data.get("output")
    for path in OUTPUT_FIELDS:
        origin = origins.get(path)
        if not isinstance(output, dict) or origin is None or origin.location is None:
            continue
        if not origin.location.literal and shared_root(origin.location.file):
            output.pop(path[1], None)
            origins[path] = Origin("default", detail=SHARED_OUTPUT)


def remote_code_problems(origins: dict[FieldPath, Origin]) -> list[Problem]:
    """A recipe fetched from git may not make the model's own code run; the user may."""
    origin = origins.get(_REMOTE_CODE)
    if origin is None or origin.checkout() is None:
        return []
    return [
        Problem(
            "a recipe fetched from git cannot enable trust_remote_code by itself",
            origin.location,
            path_text(_REMOTE_CODE),
            hint="if you trust that repository's model code, pass --trust-remote-code on the "
            "command line (or set it in a recipe of your own that extends this one)",
        )
    ]


def escape_problem(
    written: str, target: Path, checkout: Path | None, where: Location, field: str
) -> Problem | None:
    """A path written in a fetched git checkout must stay inside it (symlinks followed)."""
    if checkout is None:
        return None
    real, root = os.path.realpath(target), os.path.realpath(checkout)
    if os.path.commonpath([real, root]) == root:
        return None
    return Problem(
        f"{written!r} leads out of the repository this recipe was fetched from",
        where,
        field,
        hint=f"a recipe fetched from git reads only files of its own commit "
        f"({checkout.name[:SHORT_COMMIT]}); name a path inside the repository",
    )


def output_escape_problems(data: dict[str, Any], origins: dict[FieldPath, Origin]) -> list[Problem]:
    """A recipe file writes runs and caches only below its own folder: `..`, absolute paths
    and symlinks leading elsewhere are refused unless they come from the command line."""
    output = data.get("output")
    problems: list[Problem] = []
    for path in OUTPUT_FIELDS:
        value = output.get(path[1]) if isinstance(output, dict) else None
        origin = origins.get(path)
        if not isinstance(value, str) or origin is None or origin.kind == "set":
            continue
        if origin.location is None or origin.location.literal:
            continue
        written = user_path(value)
        folder = os.path.realpath(Path(origin.location.file).parent)
        target = os.path.realpath(Path(folder) / written)  # symlinks followed; absolute stays
        if ".." in written.parts or os.path.commonpath([target, folder]) != folder:
            problems.append(
                Problem(
                    f"{value!r} leads out of the recipe's folder",
                    origin.location,
                    path_text(path),
                    hint="a recipe writes below its own folder; to write elsewhere, say so on "
                    f"the command line: --set {path_text(path)}=PATH",
                )
            )
    return problems


def source_escape_problems(
    data: dict[str, Any],
    origins: dict[FieldPath, Origin],
    top_dir: Path,
    locate: Callable[[FieldPath], Location],
) -> list[Problem]:
    """What data sources may not name: an absolute `glob` (it is matched inside `path`), and in
    a recipe fetched from git, anything outside its checkout: a `glob` climbing out with `..`
    (where `**` may stand for any depth), or an `hf` source naming a local folder outside it.
    Runs after the paths were resolved."""
    sources = data.get("data", {}).get("sources") if isinstance(data.get("data"), dict) else None
    problems: list[Problem] = []
    for index, source in enumerate(sources if isinstance(sources, list) else []):
        if not isinstance(source, dict):
            continue
        here: FieldPath = ("data", "sources", index)
        if source.get("type") == "text_files":
            problems.extend(_glob_problems(source, here, origins, locate))
        elif source.get("type") == "hf" and isinstance(source.get("name"), str):
            origin = origins.get((*here, "name"), Origin("default"))
            checkout, name = origin.checkout(), source["name"]
            if checkout is None:
                continue
            target = Path(os.path.normpath(origin.base_dir(top_dir) / user_path(name)))
            if name.startswith((".", "/", "~")) or "/.." in name or target.is_dir():
                field = (*here, "name")
                problem = escape_problem(name, target, checkout, locate(field), path_text(field))
                problems.extend([problem] if problem else [])
    return problems


def _glob_problems(
    source: dict[str, Any],
    here: FieldPath,
    origins: dict[FieldPath, Origin],
    locate: Callable[[FieldPath], Location],
) -> list[Problem]:
    """A `text_files` glob that is absolute (any recipe), or climbs out with `..` (a fetched
    recipe's: where `**` may stand for any depth, only `..`-free patterns stay inside)."""
    pattern = source.get("glob", "**/*.txt")
    folder = source.get("path")
    if not isinstance(pattern, str) or not isinstance(folder, str):
        return []  # the schema reports wrong types
    field = (*here, "glob")
    if pattern.startswith(("/", "~")) or Path(pattern).is_absolute():
        return [
            Problem(
                f"{pattern!r} is an absolute pattern; `glob` is matched inside `path`",
                locate(field),
                path_text(field),
                hint="give a pattern relative to the folder, e.g. '**/*.md', and the folder as "
                "`path`",
            )
        ]
    written_at = (origins.get(field), origins.get((*here, "path")))
    checkouts = [origin.checkout() for origin in written_at if origin is not None]
    checkout = next((found for found in checkouts if found is not None), None)
    if checkout is None or ".." not in Path(pattern).parts:
        return []  # links leaving a checkout are refused when it is fetched
    return [
        Problem(
            f"{pattern!r} climbs out of `path` with '..'",
            locate(field),
            path_text(field),
            hint=f"a recipe fetched from git reads only files of its own commit "
            f"({checkout.name[:SHORT_COMMIT]}); match files below `path`",
        )
    ]
