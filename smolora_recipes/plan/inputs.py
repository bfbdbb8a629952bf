"""The recipe as a step fingerprint sees it: each input path replaced by the hash of its content."""

from __future__ import annotations

import base64
import importlib.metadata
import os
from pathlib import Path
from typing import Any

from smolora_recipes.core.errors import Location, Problem, UserInputError
from smolora_recipes.data.readers import local_dataset_folder
from smolora_recipes.recipe.builtin_models import BUILTIN_MODELS, classify_model
from smolora_recipes.recipe.canonical import canonical_data, portable_path
from smolora_recipes.recipe.eval_section import EVAL_TASK_HINT, task_files
from smolora_recipes.recipe.hub_refs import (
    HUB_HINT,
    HubUnresolved,
    Kind,
    hub_commit,
    hub_label,
    names_repository,
)
from smolora_recipes.recipe.loader import LoadedRecipe
from smolora_recipes.recipe.origin import Origin
from smolora_recipes.recipe.schema_walk import marked_fields
from smolora_recipes.recipe.sources import HubSource, TextFilesSource
from smolora_recipes.recipe.yaml_source import FieldPath, path_text, set_value_at, value_at
from smolora_recipes.store.hashing import digest, file_sha256, files_sha256, path_sha256

# sft settings that change how training is kept or watched, never what it computes
_UNCOMPUTED_SFT_FIELDS = ("save_steps", "save_total_limit", "report_to")


def fingerprint_view(loaded: LoadedRecipe) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """Canonical data with each input path replaced by the hash of what it names.

    Returns the view and, per dotted field, `{"path": portable path, "sha256": content hash}`
    so a plan can show which files went into which step.
    """
    data = canonical_data(loaded)
    data.pop("output", None)  # where runs are written never changes what a step computes
    for name in _UNCOMPUTED_SFT_FIELDS:  # nor how often checkpoints are kept, nor trackers
        data.get("sft", {}).pop(name, None)
    data.get("eval", {}).pop("gate", None)  # nor what scores must reach: `verdict` judges them
    inputs: dict[str, dict[str, str]] = {}
    resolved = loaded.recipe.model_dump(mode="python")
    for path, _marker in marked_fields(data):  # output was dropped above, so never walked
        identity = _input_identity(path, resolved, loaded)
        if identity is not None:
            inputs[path_text(path)] = identity
            set_value_at(data, path, _identified(identity))
    for index, source in enumerate(loaded.recipe.data.sources):
        if not isinstance(source, HubSource):
            continue
        path = ("data", "sources", index, "name")
        folder = local_dataset_folder(source, loaded.base_dir)
        if folder is not None:  # a save_to_disk folder: identified by content, like a file
            found = {
                "path": portable_path(str(folder), loaded.base_dir),
                "sha256": path_sha256(folder),
            }
        elif names_repository(source.name):  # a hub dataset: by the commit it names now
            where = loaded.origin_of(path)
            found = _hub_identity(source.name, source.revision, "dataset", where)
        else:  # a builder (`json` with data_files): its slice of the recipe says it all
            continue
        inputs[path_text(path)] = found
        set_value_at(data, path, _identified(found))
    return data, inputs


def _identified(identity: dict[str, str]) -> dict[str, str]:
    """What stands for an input in the fingerprint: its content hash, or its hub commit."""
    return {key: value for key, value in identity.items() if key in ("sha256", "commit")}


def _hub_identity(name: str, revision: str | None, kind: Kind, origin: Origin) -> dict[str, str]:
    """`{"path": "hf:org/name@main", "commit": ...}`, or a located error saying why not."""
    try:
        commit = hub_commit(name, revision, kind)
    except HubUnresolved as error:
        field = "model.base" if kind == "model" else "data.sources"
        raise UserInputError(Problem(str(error), origin.location, field, HUB_HINT)) from None
    return {"path": hub_label(name, revision, kind), "commit": commit}


def _input_identity(
    path: FieldPath, resolved: dict[str, Any], loaded: LoadedRecipe
) -> dict[str, str] | None:
    value = value_at(resolved, path)
    if value is None:
        return None  # an optional path left empty names no input
    if path == ("model", "base"):
        return _model_identity(str(value), loaded)
    source = _source_at(path, loaded)
    target = Path(value)
    if path[:2] == ("eval", "tasks"):  # a task file, and the data files it names
        files = _task_files(target)
        sha = digest([(os.path.relpath(f, target.parent), file_sha256(f)) for f in files])
    elif isinstance(source, TextFilesSource) and target.is_dir():
        sha = files_sha256(target, (p for p in target.glob(source.glob) if p.is_file()))
    else:
        sha = path_sha256(target)
    return {"path": portable_path(str(target), loaded.base_dir), "sha256": sha}


def _task_files(task: Path) -> list[Path]:
    try:
        return task_files(task)
    except ValueError as error:
        raise UserInputError(
            Problem(str(error), Location(str(task)), "eval.tasks", EVAL_TASK_HINT)
        ) from None


def _source_at(path: FieldPath, loaded: LoadedRecipe) -> object:
    if len(path) >= 3 and path[:2] == ("data", "sources") and isinstance(path[2], int):
        return loaded.recipe.data.sources[path[2]]
    return None


def _model_identity(base: str, loaded: LoadedRecipe) -> dict[str, str] | None:
    ref = classify_model(base)
    if ref.kind == "hub":  # identified by the commit its revision names now
        revision = loaded.recipe.model.revision
        return _hub_identity(base, revision, "model", loaded.origin_of(("model", "base")))
    if ref.kind == "builtin":
        model = BUILTIN_MODELS[base]
        return {
            "path": f"builtin:{base}",
            "sha256": _wheel_file_sha256(model.distribution, model.filename),
        }
    assert ref.path is not None
    if ref.path.is_dir() and not (ref.path / "config.json").is_file():  # before hashing it all
        raise UserInputError(
            Problem(
                f"{ref.path} is not a model folder (no config.json), so it is not read",
                loaded.origin_of(("model", "base")).location,
                "model.base",
                hint="point at a folder written by save_pretrained, or at a .gguf file",
            )
        )
    return {"path": portable_path(str(ref.path), loaded.base_dir), "sha256": path_sha256(ref.path)}


def _wheel_file_sha256(distribution: str, filename: str) -> str:
    """The sha256 a wheel's RECORD lists for one of its files (instant), else hash it."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return f"not-installed:{distribution}"
    for file in dist.files or ():
        if file.name == filename:
            if file.hash and file.hash.mode == "sha256":
                raw = base64.urlsafe_b64decode(file.hash.value + "=" * (-len(file.hash.value) % 4))
                return raw.hex()
            return file_sha256(Path(str(dist.locate_file(file))))
    return f"missing:{distribution}/{filename}"
