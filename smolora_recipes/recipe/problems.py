"""Turn pydantic validation errors into located, hinted problems."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from smolora_recipes.core.errors import Location, Problem
from smolora_recipes.recipe.schema_walk import field_at, model_at
from smolora_recipes.recipe.sources import SOURCE_TYPES
from smolora_recipes.recipe.yaml_source import FieldPath, path_text

Locate = Callable[[FieldPath], Location]

# Names other tools (peft, trl, axolotl, torchtune) use for our fields, for did-you-mean.
KNOWN_SYNONYMS = {
    "rank": "r",
    "lora_r": "r",
    "lora_alpha": "alpha",
    "lora_dropout": "dropout",
    "lora_target_modules": "target_modules",
    "lr": "learning_rate",
    "num_train_epochs": "epochs",
    "num_epochs": "epochs",
    "per_device_train_batch_size": "batch_size",
    "micro_batch_size": "batch_size",
    "gradient_accumulation_steps": "grad_accum",
    "max_seq_length": "max_length",
    "sequence_len": "max_length",
    "lr_scheduler_type": "lr_scheduler",
    "base_model": "base",
    "model_name_or_path": "base",
    "torch_dtype": "dtype",
    "sample_packing": "packing",
    "output_dir": "dir",
    "val_set_size": "eval_split",
}


def problems_from_validation(error: ValidationError, data: Any, locate: Locate) -> list[Problem]:
    """One Problem per pydantic error, pointing at the YAML line of the field concerned."""
    return [_problem(item, data, locate) for item in error.errors(include_url=False)]


def _normalise(loc: tuple[Any, ...], data: Any) -> FieldPath:
    """Drop the labels pydantic inserts for unions: a tagged union's tag
    (data.sources.0.jsonl.path -> ...0.path) and a plain union's member
    (lora.target_modules.list[str].0 -> lora.target_modules.0)."""
    path: list[str | int] = []
    value = data
    for part in loc:
        is_union_tag = isinstance(value, dict) and part not in value and value.get("type") == part
        is_union_member = not isinstance(value, dict)  # `list[str]`, `literal[...]` labels
        if isinstance(part, str) and (is_union_tag or is_union_member):
            continue
        path.append(part)
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
        else:
            value = None
    return tuple(path)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _expected(path: FieldPath, data: Any) -> str:
    field = field_at(path, data)
    return f"expected: {field.description}" if field and field.description else ""


def _problem(item: dict[str, Any], data: Any, locate: Locate) -> Problem:
    path = _normalise(item["loc"], data)
    kind = item["type"]
    ctx = item.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown_field(path, data, locate)
    if kind == "missing":
        return Problem(
            "required field is missing", locate(path), path_text(path), _expected(path, data)
        )
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = ctx.get("expected_tags") or ", ".join(f"'{tag}'" for tag in SOURCE_TYPES)
        message = (
            f"unknown type {ctx.get('tag')!r}; expected one of {tags}"
            if kind == "union_tag_invalid"
            else f"missing `type`; expected one of {tags}"
        )
        where = (*path, "type")
        return Problem(message, locate(where), path_text(where), "each source starts with `type:`")
    message = "input should be a path" if kind == "path_type" else item["msg"]
    message = message.removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    if kind != "value_error" and not isinstance(item.get("input"), dict | list):
        message += f"; got {_short(item.get('input'))}"
    return Problem(message, locate(path), path_text(path), _expected(path, data))


def _unknown_field(path: FieldPath, data: Any, locate: Locate) -> Problem:
    owner = model_at(path[:-1], data)
    names = list(owner.model_fields) if owner else []
    message = "unknown field"
    if names and isinstance(path[-1], str):
        synonym = KNOWN_SYNONYMS.get(path[-1].lower())
        close = [synonym] if synonym in names else []
        close = close or difflib.get_close_matches(path[-1], names, n=1, cutoff=0.5)
        if close:
            message += f"; did you mean '{path_text((*path[:-1], close[0]))}'?"
    hint = f"fields allowed here: {', '.join(names)}" if names else ""
    return Problem(message, locate(path), path_text(path), hint)
