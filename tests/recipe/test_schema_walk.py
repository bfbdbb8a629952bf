"""Walking the recipe schema beside raw data: owning models, field lookup and path-like fields."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import pytest
from pydantic import BaseModel

from smolora_recipes.recipe.artifact_sections import OutputSection, SamplePrompt, SamplesSection
from smolora_recipes.recipe.data_section import ChunkingSection, DataSection
from smolora_recipes.recipe.model_section import ModelSection, QuantizationSection
from smolora_recipes.recipe.schema import Recipe
from smolora_recipes.recipe.schema_walk import (
    field_at,
    marked_fields,
    marker_of,
    model_at,
    models_in,
)
from smolora_recipes.recipe.section import ModelRefMarker, PathMarker
from smolora_recipes.recipe.sources import CsvSource, HubSource, JsonlSource, TextFilesSource


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (int, (False, [])),
        (Path, (False, [])),
        (SamplePrompt, (False, [SamplePrompt])),
        (Annotated[SamplePrompt, "note"], (False, [SamplePrompt])),
        (list[SamplePrompt], (True, [SamplePrompt])),
        (tuple[SamplePrompt, ...], (True, [SamplePrompt])),
        (set[int], (True, [])),
        (SamplePrompt | None, (False, [SamplePrompt])),
        (Optional[ChunkingSection], (False, [ChunkingSection])),  # noqa: UP045 (typing.Union)
        (list[SamplePrompt] | None, (True, [SamplePrompt])),
        (None | list[SamplePrompt], (True, [SamplePrompt])),
        (JsonlSource | CsvSource | str, (False, [JsonlSource, CsvSource])),
        (list[str] | str, (True, [])),
    ],
)
def test_models_in(annotation: Any, expected: tuple[bool, list[type[BaseModel]]]) -> None:
    assert models_in(annotation) == expected


def test_data_sources_lists_every_source_model_in_tag_order() -> None:
    is_list, models = models_in(DataSection.model_fields["sources"].annotation)
    assert is_list is True
    assert [model.model_fields["type"].annotation.__args__[0] for model in models] == [
        "jsonl",
        "json",
        "csv",
        "tsv",
        "text_files",
        "parquet",
        "hf",
    ]


SOURCES = {
    "data": {
        "sources": [
            {"type": "csv", "path": "a.csv"},
            {"type": "hf", "name": "org/set"},
            {"type": "xml"},
            "not a mapping",
        ]
    },
    "model": {"quantization": {"bits": 4}},
    "samples": {"prompts": [{"prompt": "hi"}]},
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ((), Recipe),
        (("model",), ModelSection),
        (("model", "quantization"), QuantizationSection),
        (("data",), DataSection),
        (("data", "sources", 0), CsvSource),
        (("data", "sources", 1), HubSource),
        (("data", "sources", 2), None),  # unknown tag: no model
        (("data", "sources", 3), None),  # not a mapping: the tag is unknown
        (("data", "sources", 4), None),  # past the end
        (("data", "sources"), None),  # the list itself is not a model
        (("data", "sources", "0"), None),  # list items are numbered
        (("samples", "prompts", 0), SamplePrompt),
        (("samples",), SamplesSection),
        (("output",), OutputSection),
        (("lora", "r"), None),  # a scalar field
        (("lora", "r", "x"), None),
        (("data", "sources", 0, "path"), None),  # a field of a list item, not a model
        (("samples", "prompts", 0, "prompt"), None),
        (("nope",), None),
        ((0,), None),
        (("model", "quantization", "bits"), None),
    ],
)
def test_model_at(path: tuple[str | int, ...], expected: type[BaseModel] | None) -> None:
    assert model_at(path, SOURCES) is expected


def test_model_at_a_missing_section_still_names_its_model() -> None:
    assert model_at(("model", "quantization"), {}) is QuantizationSection
    assert model_at(("data", "sources", 0), {}) is None  # no list to index
    assert model_at(("sources", 0), {"sources": [{"type": "jsonl"}]}, DataSection) is JsonlSource


def test_model_at_picks_a_source_by_its_tag_in_a_single_model_list() -> None:
    data = {"samples": {"prompts": ["a string"]}}
    assert model_at(("samples", "prompts", 0), data) is SamplePrompt  # one candidate: no tag needed


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("lora", "r"), ("lora", "r")),
        (("data", "sources", 0, "delimiter"), ("csv", "delimiter")),
        (("data", "sources", 1, "split"), ("hf", "split")),
        (("data", "sources", 0, "split"), None),  # a CSV source has no split
        (("data", "sources", 0), None),  # a list item, not a field
        ((), None),
        (("name",), ("recipe", "name")),
        (("nope", "x"), None),
        (("lora", "r", "x"), None),
    ],
)
def test_field_at(path: tuple[str | int, ...], expected: tuple[str, str] | None) -> None:
    field = field_at(path, SOURCES)
    if expected is None:
        assert field is None
        return
    owner, name = expected
    models = {
        "lora": Recipe.model_fields["lora"].default_factory().__class__,
        "csv": CsvSource,
        "hf": HubSource,
        "recipe": Recipe,
    }
    assert field is models[owner].model_fields[name]


def test_marker_of() -> None:
    path = marker_of(JsonlSource.model_fields["path"])
    assert isinstance(path, PathMarker) and path.must_exist is True and path.kind == "file"
    folder = marker_of(TextFilesSource.model_fields["path"])
    assert isinstance(folder, PathMarker) and folder.must_exist is True and folder.kind == "any"
    output = marker_of(OutputSection.model_fields["dir"])
    assert isinstance(output, PathMarker) and output.must_exist is False
    assert isinstance(marker_of(ModelSection.model_fields["base"]), ModelRefMarker)
    assert marker_of(HubSource.model_fields["name"]) is None
    assert marker_of(ModelSection.model_fields["dtype"]) is None


def test_marked_fields_lists_every_path_like_value_present() -> None:
    data = {
        "model": {"base": "m", "quantization": {"bits": 4}},
        "data": {
            "sources": [
                {"type": "jsonl", "path": "a.jsonl"},
                {"type": "hf", "name": "org/set"},
                {"type": "unknown", "path": "x"},
                {"type": "text_files", "path": "docs"},
            ]
        },
        "output": {"dir": "runs"},
    }
    found = [(path, type(marker).__name__) for path, marker in marked_fields(data)]
    assert found == [
        (("model", "base"), "ModelRefMarker"),
        (("data", "sources", 0, "path"), "PathMarker"),
        (("data", "sources", 3, "path"), "PathMarker"),
        (("output", "dir"), "PathMarker"),
    ]


def test_marked_fields_skips_what_is_absent_or_malformed() -> None:
    assert list(marked_fields({})) == []
    assert list(marked_fields(["not", "a", "mapping"])) == []
    assert list(marked_fields({"data": {"sources": "not a list"}})) == []
    assert list(marked_fields({"data": "not a mapping", "output": {"dir": "d"}})) == [
        (("output", "dir"), marker_of(OutputSection.model_fields["dir"]))
    ]
    prefixed = list(marked_fields({"path": "f.csv"}, CsvSource, ("data", "sources", 2)))
    assert [path for path, _ in prefixed] == [("data", "sources", 2, "path")]
