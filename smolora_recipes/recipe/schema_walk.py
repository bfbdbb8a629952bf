"""Walk the recipe schema alongside raw data: which model owns a path, which fields are paths."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from smolora_recipes.recipe.schema import Recipe
from smolora_recipes.recipe.section import ModelRefMarker, PathMarker
from smolora_recipes.recipe.yaml_source import FieldPath

Marker = PathMarker | ModelRefMarker


def models_in(annotation: Any) -> tuple[bool, list[type[BaseModel]]]:
    """(is a list, candidate models) found inside a field annotation."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return models_in(get_args(annotation)[0])
    if origin in (list, tuple, set):
        _, models = models_in(get_args(annotation)[0])
        return True, models
    if origin in (Union, types.UnionType):
        is_list, models = False, []
        for arg in get_args(annotation):
            arg_list, arg_models = models_in(arg)
            is_list = is_list or arg_list
            models.extend(arg_models)
        return is_list, models
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return False, [annotation]
    return False, []


def _tag_of(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("type")
    if field is None or get_origin(field.annotation) is not Literal:
        return None
    return get_args(field.annotation)[0]


def _pick(models: list[type[BaseModel]], value: Any) -> type[BaseModel] | None:
    if len(models) == 1:
        return models[0]
    if isinstance(value, dict):
        for model in models:
            if _tag_of(model) == value.get("type"):
                return model
    return None


def model_at(path: FieldPath, data: Any, root: type[BaseModel] = Recipe) -> type[BaseModel] | None:
    """The model class whose fields live at `path` in `data`, or None when not a model."""
    model: type[BaseModel] | None = root
    value = data
    pending_list: list[type[BaseModel]] | None = None
    for part in path:
        if pending_list is not None:
            if not isinstance(part, int) or not isinstance(value, list) or part >= len(value):
                return None
            value = value[part]
            model, pending_list = _pick(pending_list, value), None
            continue
        if model is None or part not in model.model_fields:
            return None
        is_list, models = models_in(model.model_fields[part].annotation)
        value = value.get(part) if isinstance(value, dict) else None
        if is_list:
            pending_list = models
            model = None
        else:
            model = _pick(models, value)
    return model  # None when the path ends on a list, not on one of its items


def field_at(path: FieldPath, data: Any) -> FieldInfo | None:
    """The schema field describing the value at `path`, if the path names a field."""
    if not path or not isinstance(path[-1], str):
        return None
    owner = model_at(path[:-1], data)
    return owner.model_fields.get(path[-1]) if owner else None


def list_item_marker(field: FieldInfo) -> Marker | None:
    """The path marker of each item of a list field (`list[InputPath]`), if any."""
    if get_origin(field.annotation) is not list:
        return None
    item = get_args(field.annotation)[0]
    found = [meta for meta in getattr(item, "__metadata__", ()) if isinstance(meta, Marker)]
    return found[0] if found else None


def marker_of(field: FieldInfo) -> Marker | None:
    """The path marker carried by a field, if any: on the field itself, or on a member of its
    union (`OutputPath | None` carries the marker of `OutputPath`)."""
    inner = (getattr(arg, "__metadata__", ()) for arg in get_args(field.annotation))
    for item in (*field.metadata, *(item for metadata in inner for item in metadata)):
        if isinstance(item, PathMarker | ModelRefMarker):
            return item
    return None


def marked_fields(
    data: Any, model: type[BaseModel] = Recipe, prefix: FieldPath = ()
) -> Iterator[tuple[FieldPath, Marker]]:
    """Every path-like field present in raw `data`, with its marker."""
    if not isinstance(data, dict):
        return
    for name, field in model.model_fields.items():
        if name not in data:
            continue
        value, path = data[name], (*prefix, name)
        item_marker = list_item_marker(field)
        if item_marker is not None:  # a list of paths
            if isinstance(value, list):
                yield from (((*path, index), item_marker) for index in range(len(value)))
            continue
        marker = marker_of(field)
        if marker is not None:
            yield path, marker
            continue
        is_list, models = models_in(field.annotation)
        if is_list and isinstance(value, list):
            for index, item in enumerate(value):
                chosen = _pick(models, item)
                if chosen is not None:
                    yield from marked_fields(item, chosen, (*path, index))
        elif models:
            chosen = _pick(models, value)
            if chosen is not None:
                yield from marked_fields(value, chosen, path)
