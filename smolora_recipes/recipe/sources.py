"""The recipe's data sources (`data.sources`): one closed model per `type`, with the fields every
source shares (limits, filters, shuffling, error handling) and the mapping of record fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, ValidationInfo, field_validator

from smolora_recipes.recipe.section import InputPath, PathMarker, Section


def checked_jinja(value: str | None, expression: bool) -> str | None:
    """`value` unchanged when it is valid Jinja; a ValueError naming the syntax error if not."""
    if value is None:
        return None
    from smolora_recipes.core.sandbox import template_syntax_problem  # jinja2: only when used

    problem = template_syntax_problem(value, expression)
    if problem:
        raise ValueError(problem)
    return value


InputFile = Annotated[Path, PathMarker(must_exist=True, kind="file")]


def file_field(what: str) -> Any:
    """The `path` field of a one-file source: `what` names the file's kind (`.jsonl`, `CSV`)."""
    return Field(description=f"The {what} file, relative to the recipe that names it.")


class SourceBase(Section):
    """Fields every data source has: how many records, which ones, how often, and on errors."""

    limit: int | None = Field(
        default=None, ge=1, description="Use at most this many records of the source."
    )
    shuffle: bool = Field(
        default=False,
        description=(
            "With `limit`: take `limit` records at random rather than the first ones (reservoir "
            "sampling, one pass). Training order is always shuffled anyway (`sft.seed`)."
        ),
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        le=2**32 - 1,
        description="Seed for `shuffle` and `weight` sampling; `data.seed` if unset.",
    )
    weight: float = Field(
        default=1.0,
        gt=0,
        le=100,
        description=(
            "Mixing weight relative to other sources: each record is used `weight` times on "
            "average (2: twice; 0.5: a random half, chosen with `seed`)."
        ),
    )
    filter: str | None = Field(
        default=None,
        description=(
            "Keep a record only when this Jinja expression over `record` is true, e.g. "
            "`{{ record.lang == 'en' }}` (the braces are optional). Runs sandboxed."
        ),
    )
    on_error: Literal["fail", "skip"] = Field(
        default="fail",
        description=(
            "A malformed line, row or file: `fail` stops with its location; `skip` leaves it "
            "out and counts it in the report."
        ),
    )

    @field_validator("filter")
    @classmethod
    def _filter_parses(cls, value: str | None) -> str | None:
        return checked_jinja(value, expression=True)

    @field_validator("shuffle")
    @classmethod
    def _shuffle_needs_limit(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("limit") is None:
            raise ValueError(
                "shuffle picks `limit` records at random, so it needs `limit` (the training "
                "order is shuffled anyway)"
            )
        return value


ChatRole = Literal["system", "user", "assistant", "tool", "tool_call"]


class FieldMapping(Section):
    """Which record fields hold the text, messages or prompt/completion (record-based sources)."""

    fields: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Rename fields before anything reads them: `{question: Q}` makes column `Q` "
            "available as `record.question` (so sources with other column names share one "
            "template)."
        ),
    )
    text_field: str = Field(
        default="text", min_length=1, description="Record field holding the text (`format: text`)."
    )
    messages_field: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Record field holding the conversation (`format: chat`); empty: `messages`, or "
            "`conversations` with `conversation: sharegpt`. When a record has none, "
            "`prompt_field`/`completion_field` make a two-turn chat."
        ),
    )
    conversation: Literal["openai", "sharegpt"] = Field(
        default="openai",
        description=(
            "How a chat record's turns are written: `openai` `{role, content}` (with "
            "`tool_calls`, `tool` results, `reasoning_content`), or `sharegpt` `{from, value}` "
            "(from: system, human, gpt, function_call, observation)."
        ),
    )
    roles: dict[str, ChatRole] = Field(
        default_factory=dict,
        description=(
            "Role names of the records mapped to system, user, assistant, tool or tool_call (an "
            "assistant turn whose text is its JSON tool calls), over the format's own map, "
            "e.g. `{bot: assistant, observation: tool}`."
        ),
    )
    tools_field: str = Field(
        default="tools",
        min_length=1,
        description=(
            "Record field holding the tools a conversation may call (JSON schemas, or their "
            "JSON text), passed to the chat template as `tools`; absent in a record: none."
        ),
    )
    prompt_field: str = Field(
        default="prompt",
        min_length=1,
        description="Record field holding the prompt (`format: completion`, or chat without "
        "messages).",
    )
    completion_field: str = Field(
        default="completion",
        min_length=1,
        description="Record field holding the response the model learns to write.",
    )
    system_field: str | None = Field(
        default=None, description="Record field holding a system message for chat records."
    )


class JsonlSource(SourceBase, FieldMapping):
    """A JSON Lines file: one JSON object per line."""

    type: Literal["jsonl"] = Field(description="Source type.")
    path: InputFile = file_field(".jsonl")


class JsonSource(SourceBase, FieldMapping):
    """A JSON file holding an array of records (or an object with the array under one key)."""

    type: Literal["json"] = Field(description="Source type.")
    path: InputFile = file_field(".json")
    records_field: str | None = Field(
        default=None,
        description="When the file is an object: the key holding the array of records.",
    )


class CsvSource(SourceBase, FieldMapping):
    """A CSV file with a header row."""

    type: Literal["csv"] = Field(description="Source type.")
    path: InputFile = file_field("CSV")
    delimiter: str = Field(default=",", min_length=1, max_length=1, description="Column delimiter.")
    encoding: str = Field(default="utf-8", description="Text encoding of the file.")


class TsvSource(SourceBase, FieldMapping):
    """A tab-separated file with a header row."""

    type: Literal["tsv"] = Field(description="Source type.")
    path: InputFile = file_field("TSV")
    encoding: str = Field(default="utf-8", description="Text encoding of the file.")


class TextFilesSource(SourceBase):
    """Plain text files: a folder searched with a glob, or one file."""

    type: Literal["text_files"] = Field(description="Source type.")
    path: InputPath = Field(
        description="A folder (searched with `glob`) or a single file, relative to the recipe."
    )
    glob: str = Field(
        default="**/*.txt",
        description="Glob pattern for files inside a folder (recursive; e.g. `**/*.md`).",
    )
    split_by: Literal["line", "paragraph", "file"] = Field(
        default="paragraph",
        description="How a file becomes records: one per non-empty line, paragraph, or file.",
    )
    encoding: str = Field(default="utf-8", description="Text encoding of the files.")


class ParquetSource(SourceBase, FieldMapping):
    """A Parquet file."""

    type: Literal["parquet"] = Field(description="Source type.")
    path: InputFile = file_field(".parquet")


class HubSource(SourceBase, FieldMapping):
    """A dataset loaded with `datasets.load_dataset` (mirrors its arguments)."""

    type: Literal["hf"] = Field(description="Source type.")
    name: str = Field(
        min_length=1,
        description=(
            "Dataset id (cached locally, or online), passed as `load_dataset(path=...)`; or a "
            "local folder written by `save_to_disk`, relative to the recipe."
        ),
    )
    config: str | None = Field(default=None, description="Dataset configuration name.")
    split: str = Field(default="train", description="Split to read.")
    data_files: list[str] | None = Field(default=None, description="Restrict to these files.")
    revision: str | None = Field(default=None, description="Dataset revision to pin.")


DataSource = Annotated[
    JsonlSource | JsonSource | CsvSource | TsvSource | TextFilesSource | ParquetSource | HubSource,
    Field(discriminator="type"),
]
SOURCE_MODELS = get_args(get_args(DataSource)[0])
SOURCE_TYPES = tuple(get_args(model.model_fields["type"].annotation)[0] for model in SOURCE_MODELS)
