"""The recipe schema: the whole recipe, one closed pydantic model per section, every field
described and defaulted.

The sections live by theme: `model_section.py`, `data_section.py` (data sources:
`sources.py`), `training_sections.py` (lora, sft, distributed), `eval_section.py` (eval) and
`artifact_sections.py` (merge, samples, export, output). Field names mirror the library call
each section feeds (peft.LoraConfig, trl.SFTConfig, datasets.load_dataset) where the recipe
language does not deliberately shorten them. Defaults live in the sections and only there;
each has a comment when the reason is not obvious. The shared base and the path markers are
in `section.py`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from smolora_recipes.recipe.artifact_sections import (
    ExportSection,
    MergeSection,
    OutputSection,
    SamplesSection,
)
from smolora_recipes.recipe.data_section import DataSection
from smolora_recipes.recipe.eval_section import EvalSection
from smolora_recipes.recipe.model_section import ModelSection
from smolora_recipes.recipe.section import Section
from smolora_recipes.recipe.training_sections import DistributedSection, LoraSection, SftSection

RECIPE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
DEFAULT_FROM = "defaultFrom"  # JSON Schema note: where a field's value comes from when omitted


def _optional_in_files(schema: dict[str, Any]) -> None:
    """The JSON Schema of a recipe file: a field with a `defaultFrom` is not required."""
    properties = schema["properties"]
    schema["required"] = [
        name for name in schema["required"] if DEFAULT_FROM not in properties[name]
    ]


class Recipe(Section):
    """A whole recipe: the program `smolora run` executes."""

    # `name` is filled in by the loader from the file name: required here, optional in a file
    model_config = ConfigDict(json_schema_extra=_optional_in_files)

    recipe_version: Literal[1] = Field(
        default=1, description="Version of the recipe language this file is written in."
    )
    name: str = Field(
        max_length=100,
        json_schema_extra={"pattern": RECIPE_NAME_PATTERN, DEFAULT_FROM: "the file name"},
        description="Run name (defaults to the file name); runs go to `<output.dir>/<name>/`.",
    )
    description: str | None = Field(default=None, description="One line saying what it teaches.")
    extends: str | None = Field(
        default=None,
        description=(
            "A recipe this one builds on: a path relative to this file, `builtin:NAME`, or "
            "`git+URL@REV#path` (REV a commit, tag or branch). Mappings are deep-merged (this "
            "file wins); lists are replaced whole. Chains are allowed, cycles are not."
        ),
    )
    model: ModelSection = Field(default_factory=ModelSection, description=ModelSection.__doc__)
    data: DataSection = Field(description=DataSection.__doc__)
    lora: LoraSection = Field(default_factory=LoraSection, description=LoraSection.__doc__)
    sft: SftSection = Field(default_factory=SftSection, description=SftSection.__doc__)
    merge: MergeSection = Field(default_factory=MergeSection, description=MergeSection.__doc__)
    samples: SamplesSection = Field(
        default_factory=SamplesSection, description=SamplesSection.__doc__
    )
    eval: EvalSection = Field(default_factory=EvalSection, description=EvalSection.__doc__)
    export: ExportSection = Field(default_factory=ExportSection, description=ExportSection.__doc__)
    output: OutputSection = Field(default_factory=OutputSection, description=OutputSection.__doc__)
    distributed: DistributedSection = Field(
        default_factory=DistributedSection, description=DistributedSection.__doc__
    )

    @property
    def sequences_per_update(self) -> int:
        """Sequences one optimizer update sees: per device step x accumulated x processes."""
        return self.sft.batch_size * self.sft.grad_accum * self.distributed.num_processes

    @field_validator("sft")
    @classmethod
    def _split_needs_text(cls, value: SftSection, info: ValidationInfo) -> SftSection:
        data = info.data.get("data")
        if data is not None and data.streaming and value.max_steps is None:
            raise ValueError(
                "sft.max_steps: data.streaming is true, so the length of an epoch is unknown; "
                "set sft.max_steps"
            )
        if value.eval_steps and data is not None and not data.eval_split:
            raise ValueError(
                "sft.eval_steps: data.eval_split is 0, so there is no eval split to measure; "
                "set data.eval_split (e.g. 0.1) or remove sft.eval_steps"
            )
        if value.over_length == "split" and data is not None and data.format != "text":
            raise ValueError(
                f"sft.over_length: split would cut a {data.format} example in the middle; use "
                "drop, truncate or fail with `format: " + data.format + "`"
            )
        return value

    @field_validator("export")
    @classmethod
    def _export_needs_merge(cls, value: ExportSection, info: ValidationInfo) -> ExportSection:
        merge, samples = info.data.get("merge"), info.data.get("samples")
        if value.gguf and merge is not None and not merge.enabled:
            raise ValueError(
                "export.gguf converts the merged model, and merge.enabled is false; "
                "set merge.enabled: true or remove export.gguf"
            )
        if value.gguf and samples is not None and not samples.prompts:
            raise ValueError(
                "export.gguf proves each GGUF by its answers to samples.prompts, which is "
                "empty; add a few prompts (with `expect`) to samples.prompts"
            )
        if value.gguf and samples is not None and samples.temperature > 0:
            raise ValueError(
                "export.gguf proves each GGUF by comparing its greedy answers with the merged "
                f"model's, and samples.temperature is {samples.temperature:g}, so those are "
                "sampled; set samples.temperature: 0"
            )
        return value

    @field_validator("name")
    @classmethod
    def _name_is_a_folder_name(cls, value: str) -> str:
        if not re.fullmatch(RECIPE_NAME_PATTERN, value):  # `$` alone would allow a newline
            raise ValueError(
                f"{value!r} is not a usable run name: use letters, digits, '_', '.' and '-', "
                "starting with a letter or digit"
            )
        return value
