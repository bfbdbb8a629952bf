"""Recipe loading: files -> extends chain -> env -> `--set` -> paths -> validated Recipe.

Every value keeps its origin (default, file:line, extends file:line, `--set`, environment
variable), and every problem found is reported at once with its location.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from smolora_recipes.core.errors import Location, Problem, RecipeError, display_path
from smolora_recipes.core.paths import user_path
from smolora_recipes.core.shared_paths import checkout_root, shared_root
from smolora_recipes.recipe.builtin_models import looks_local, unknown_model_problem
from smolora_recipes.recipe.origin import Origin, OriginKind
from smolora_recipes.recipe.problems import problems_from_validation
from smolora_recipes.recipe.references import (
    ResolvedReference,
    is_reference,
    resolve_argument,
    resolve_reference,
)
from smolora_recipes.recipe.run_paths import RunPaths
from smolora_recipes.recipe.schema import Recipe
from smolora_recipes.recipe.schema_walk import marked_fields
from smolora_recipes.recipe.section import ModelRefMarker, PathMarker
from smolora_recipes.recipe.shared_rules import (
    drop_shared_outputs,
    escape_problem,
    output_escape_problems,
    remote_code_problems,
    source_escape_problems,
)
from smolora_recipes.recipe.yaml_source import (
    MAX_RECIPE_BYTES,
    FieldPath,
    YamlDocument,
    oversized_recipe,
    parse_yaml,
    parse_yaml_value,
    path_text,
    set_value_at,
    value_at,
)

_INVALID_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class LoadedRecipe:
    """A validated recipe plus the file it came from, the origin of every value, and the
    references (`builtin:`, `git+`) it was read through, the top one first."""

    recipe: Recipe
    file: Path
    origins: dict[FieldPath, Origin]
    paths: RunPaths
    references: list[ResolvedReference] = field(default_factory=list)

    @property
    def base_dir(self) -> Path:
        """The folder of the top recipe file: relative defaults resolve here."""
        return self.file.parent

    @property
    def label(self) -> str:
        """How the command line named the recipe: its reference, else its path."""
        named = [ref.text for ref in self.references if ref.file == self.file]
        return named[0] if named else display_path(self.file)

    def origin_of(self, path: FieldPath) -> Origin:
        """Origin of the value at `path`: where it was written, else `default`."""
        return self.origins.get(path, Origin("default"))


def load_recipe(
    file: str | os.PathLike[str],
    overrides: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    *,
    allow_remote_code: bool = False,
) -> LoadedRecipe:
    """Load, merge, override and validate a recipe (a file path, `builtin:NAME`,
    `git+URL@REV#path` or `FILE@REV`); raise RecipeError listing every problem.

    `allow_remote_code` lets a recipe fetched from git enable `model.trust_remote_code`.
    """
    env = os.environ if env is None else env
    argument = resolve_argument(str(file))
    references = [argument] if argument else []
    top = argument.file if argument else Path(os.path.abspath(file))
    data, origins = _read_chain(top, env, (), references)
    drop_shared_outputs(data, origins)
    problems: list[Problem] = []
    for override in overrides:
        problems.extend(_apply_override(data, origins, override, env))
    _clear_replaced(data, origins)
    problems.extend(output_escape_problems(data, origins))
    if "name" not in data:
        data["name"] = _INVALID_NAME_CHARS.sub("-", top.stem).strip("-.") or "recipe"
        origins[("name",)] = Origin("default", detail="from the file name")
    problems.extend(_resolve_paths(data, origins, top))
    problems.extend(source_escape_problems(data, origins, top.parent, _locator(origins, top)))
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as error:
        problems.extend(problems_from_validation(error, data, _locator(origins, top)))
        recipe = None
    if recipe is not None and recipe.model.trust_remote_code and not allow_remote_code:
        problems.extend(remote_code_problems(origins))
    if problems or recipe is None:
        raise RecipeError(_sorted(problems))
    paths = RunPaths.resolve(recipe.output, Path.cwd() if shared_root(top) else top.parent)
    _shorthand_origins(data, origins)
    return LoadedRecipe(recipe, top, origins, paths, references)


# --------------------------------------------------------------------------- files and extends


def _read_document(file: Path, env: Mapping[str, str], where: Location | None) -> YamlDocument:
    shown = str(file)
    if not file.is_file():
        what = "is a folder, not a recipe file" if file.is_dir() else "not found"
        raise RecipeError(
            Problem(
                f"recipe file {what}: {file}",
                where or Location(shown),
                "extends" if where else "",
                hint="paths in `extends` are relative to the recipe that names them",
            )
        )
    with file.open("rb") as handle:  # never more than the limit, however large the file
        raw = handle.read(MAX_RECIPE_BYTES + 1)
    if len(raw) > MAX_RECIPE_BYTES:
        raise RecipeError(oversized_recipe(shown))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise RecipeError(
            Problem(
                "not UTF-8 text",
                Location(shown, line),
                hint="save the recipe as UTF-8",
            )
        ) from None
    document = parse_yaml(text, shown, env)
    if not isinstance(document.data, dict):
        raise RecipeError(
            Problem(
                f"a recipe is a mapping of sections, got {type(document.data).__name__}",
                Location(shown, 1, 1),
                hint="start with `name: ...` and sections such as `model:` and `data:`",
            )
        )
    return document


def _read_chain(
    file: Path,
    env: Mapping[str, str],
    stack: tuple[Path, ...],
    references: list[ResolvedReference],
    where: Location | None = None,
) -> tuple[dict[str, Any], dict[FieldPath, Origin]]:
    """Read `file` and everything it extends, merged base-first, with origins; append each
    reference met on the way to `references`."""
    document = _read_document(file, env, where)
    kind: OriginKind = "extends" if stack else "file"
    origins = {
        path: Origin("env", location, document.env_vars[path])
        if path in document.env_vars
        else Origin(kind, location)
        for path, location in document.positions.items()
    }
    data = document.data
    parent = data.pop("extends", None)
    if parent is None:
        return data, origins
    where_parent = document.positions[("extends",)]
    origins.pop(("extends",), None)
    if not isinstance(parent, str) or not parent:
        raise RecipeError(
            Problem(
                "expected the path of a recipe file",
                where_parent,
                "extends",
                hint="write e.g. `extends: base.yaml`",
            )
        )
    if is_reference(parent):
        references.append(resolve_reference(parent, where_parent, "extends"))
        parent_file = references[-1].file
    else:
        parent_file = Path(os.path.abspath(file.parent / user_path(parent)))
        problem = escape_problem(parent, parent_file, checkout_root(file), where_parent, "extends")
        if problem:
            raise RecipeError(problem)
    chain = (*stack, file)
    if parent_file in chain:
        cycle = " -> ".join(p.name for p in (*chain, parent_file))
        raise RecipeError(
            Problem(f"extends cycle: {cycle}", where_parent, "extends", hint="remove one link")
        )
    base_data, base_origins = _read_chain(parent_file, env, chain, references, where_parent)
    return _deep_merge(base_data, base_origins, data, origins)


def _deep_merge(
    base: dict[str, Any],
    base_origins: dict[FieldPath, Origin],
    child: dict[str, Any],
    child_origins: dict[FieldPath, Origin],
) -> tuple[dict[str, Any], dict[FieldPath, Origin]]:
    """Child wins; mappings merge key by key; lists and scalars are replaced whole."""
    replaced: list[FieldPath] = []

    def merge(into: dict[str, Any], update: dict[str, Any], prefix: FieldPath) -> None:
        for key, value in update.items():
            here = (*prefix, key)
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value, here)
            else:
                into[key] = value
                replaced.append(here)

    merge(base, child, ())  # `base` was read for this merge alone: merged in place
    origins = {
        path: origin
        for path, origin in base_origins.items()
        if not any(path[: len(cut)] == cut for cut in replaced)
    }
    origins.update(child_origins)
    return base, origins


# --------------------------------------------------------------------------- --set overrides

# Fields a recipe sets one of: a `--set` of one replaces the other (see `_clear_replaced`).
EXCLUSIVE_FIELDS: tuple[tuple[FieldPath, FieldPath], ...] = (
    (("sft", "max_steps"), ("sft", "epochs")),
)


def _apply_override(
    data: dict[str, Any], origins: dict[FieldPath, Origin], override: str, env: Mapping[str, str]
) -> list[Problem]:
    """Apply one `section.key=value` override in place; return problems instead of raising."""
    where = Location(f"--set {override}", literal=True)
    key, sep, raw_value = override.partition("=")
    parts = [int(part) if part.isdecimal() else part for part in key.strip().split(".")]
    if not sep or not key.strip() or any(part == "" for part in parts):
        return [
            Problem(
                "expected section.key=value",
                where,
                hint="e.g. --set lora.r=16 or --set data.sources.0.path=other.jsonl",
            )
        ]
    try:
        value = parse_yaml_value(raw_value, where, env)
    except RecipeError as error:
        return error.problems
    path: FieldPath = tuple(parts)
    container: Any = data
    for depth, part in enumerate(parts[:-1]):
        nxt = parts[depth + 1]
        if isinstance(container, dict) and isinstance(part, str):
            container = container.setdefault(part, [] if isinstance(nxt, int) else {})
        elif isinstance(container, list) and isinstance(part, int) and part < len(container):
            container = container[part]
        else:
            return [_bad_override_path(where, path[: depth + 1])]
    last = parts[-1]
    if (isinstance(container, dict) and isinstance(last, str)) or (
        isinstance(container, list) and isinstance(last, int) and last < len(container)
    ):
        container[last] = value
    else:
        return [_bad_override_path(where, path)]
    for known in [p for p in origins if p[: len(path)] == path]:
        del origins[known]
    origin = Origin("set", where, override)
    origins[path] = origin
    for inner in _subpaths(value, path):
        origins[inner] = origin
    return []


def _clear_replaced(data: dict[str, Any], origins: dict[FieldPath, Origin]) -> None:
    """A `--set` of one of two exclusive fields (`sft.max_steps`, `sft.epochs`) replaces the
    other one when a file set it: that one becomes null, its origin saying which `--set`
    cleared it. Both given with `--set` stay a conflict for validation to name."""
    for pair in EXCLUSIVE_FIELDS:
        for chosen, other in (pair, pair[::-1]):
            given = origins.get(chosen)
            section = data.get(other[0])
            if given is None or given.kind != "set" or not isinstance(section, dict):
                continue
            replaced = origins.get(other)
            if section.get(chosen[1]) is None or section.get(other[1]) is None:
                continue  # a null clears nothing; nothing to clear
            if replaced is not None and replaced.kind == "set":
                continue
            section[other[1]] = None
            origins[other] = Origin("cleared", given.location, given.detail)


def _subpaths(value: Any, prefix: FieldPath) -> list[FieldPath]:
    """Every path below `prefix` inside a value given whole (a mapping or list from --set)."""
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    paths: list[FieldPath] = []
    for key, item in items:
        paths.append((*prefix, key))
        paths.extend(_subpaths(item, (*prefix, key)))
    return paths


def _bad_override_path(where: Location, path: FieldPath) -> Problem:
    return Problem(
        "this path does not lead to a field",
        where,
        path_text(path),
        hint="list items are numbered from 0 and must exist, e.g. data.sources.0.path",
    )


# --------------------------------------------------------------------------- paths


def _locator(origins: dict[FieldPath, Origin], top: Path):
    def locate(path: FieldPath) -> Location:
        for cut in range(len(path), 0, -1):
            origin = origins.get(path[:cut])
            if origin is not None and origin.location is not None:
                return origin.location
        return Location(str(top), 1, 1)  # top-level fields: the document itself

    return locate


def _resolve_paths(
    data: dict[str, Any], origins: dict[FieldPath, Origin], top: Path
) -> list[Problem]:
    """Make path fields absolute, relative to the file that wrote them; check inputs exist."""
    problems: list[Problem] = []
    top_dir = top.parent
    locate = _locator(origins, top)
    for path, marker in list(marked_fields(data)):
        value = value_at(data, path)
        if value == "":
            problems.append(
                Problem(
                    "empty path",
                    locate(path),
                    path_text(path),
                    hint="name a file or folder, relative to the recipe; or leave the key out",
                )
            )
            continue
        if not isinstance(value, str):
            continue  # the schema reports wrong types
        origin = origins.get(path, Origin("default"))
        base_dir = origin.base_dir(top_dir)
        if isinstance(marker, ModelRefMarker) and not looks_local(value, base_dir):
            unknown = unknown_model_problem(value)
            if unknown:
                problems.append(Problem(unknown[0], locate(path), path_text(path), unknown[1]))
            continue
        resolved = Path(os.path.normpath(base_dir / user_path(value)))
        set_value_at(data, path, str(resolved))
        escape = escape_problem(value, resolved, origin.checkout(), locate(path), path_text(path))
        if escape:
            problems.append(escape)
            continue
        must_exist = isinstance(marker, ModelRefMarker) or marker.must_exist
        problem = _check_exists(resolved, marker) if must_exist else None
        if problem:
            hint = (
                "an absolute path: check that it exists on this machine"
                if user_path(value).is_absolute()
                else f"relative paths are relative to the recipe that names them ({base_dir})"
            )
            problems.append(Problem(f"{problem}: {resolved}", locate(path), path_text(path), hint))
    return problems


def _check_exists(path: Path, marker: PathMarker | ModelRefMarker) -> str | None:
    if not path.exists():
        return "file or folder not found"
    if isinstance(marker, PathMarker) and marker.kind == "file" and not path.is_file():
        return "expected a file, found a folder"
    return None


def _shorthand_origins(data: dict[str, Any], origins: dict[FieldPath, Origin]) -> None:
    """A sample prompt written as a bare string is its item's `prompt`: same origin."""
    samples = data.get("samples")
    prompts = samples.get("prompts") if isinstance(samples, dict) else None
    for index, item in enumerate(prompts if isinstance(prompts, list) else []):
        item_path = ("samples", "prompts", index)
        if isinstance(item, str) and item_path in origins:
            origins.setdefault((*item_path, "prompt"), origins[item_path])


def _sorted(problems: list[Problem]) -> list[Problem]:
    def key(problem: Problem) -> tuple[str, int, int]:
        where = problem.location or Location("")
        return (where.file, where.line, where.column)

    return sorted(problems, key=key)
