"""The `data` section: sources, how records become training text, chunking and splitting."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from smolora_recipes.recipe.section import Section
from smolora_recipes.recipe.sources import DataSource, checked_jinja


class ChunkingSection(Section):
    """Split long texts into chunks before training (`format: text`)."""

    unit: Literal["words", "tokens", "chars"] = Field(
        default="words",
        description="What `size` counts: whitespace words, the model's tokens, or characters.",
    )
    size: int = Field(default=256, ge=1, description="Chunk length in `unit`s.")
    overlap: int = Field(default=0, ge=0, description="Units shared by consecutive chunks.")
    respect: Literal["none", "sentence", "paragraph"] = Field(
        default="none",
        description=(
            "Do not cut inside a paragraph or sentence when a chunk can end at one instead "
            "(a single paragraph or sentence longer than `size` is still cut)."
        ),
    )
    min_size: int = Field(
        default=1, ge=1, description="A last chunk shorter than this many units is a leftover."
    )
    leftover: Literal["merge", "drop"] = Field(
        default="merge",
        description=(
            "A leftover joins the chunk before it (`merge`, which may exceed `size`) or is "
            "dropped and counted in the report (`drop`)."
        ),
    )

    @field_validator("overlap")
    @classmethod
    def _overlap_below_size(cls, value: int, info: ValidationInfo) -> int:
        size = info.data.get("size")
        if size is not None and value >= size:
            raise ValueError(f"overlap ({value}) must be smaller than size ({size})")
        return value

    @field_validator("min_size")
    @classmethod
    def _min_size_within_size(cls, value: int, info: ValidationInfo) -> int:
        size = info.data.get("size")
        if size is not None and value > size:
            raise ValueError(f"min_size ({value}) must not exceed size ({size})")
        return value


class DataSection(Section):
    """Where training data comes from and how records become training examples."""

    sources: list[DataSource] = Field(
        min_length=1, description="One or more data sources, each tagged by `type`."
    )
    format: Literal["text", "chat", "completion"] = Field(
        default="text",
        description=(
            "`text`: each record is a plain training text (or `template` renders one). `chat`: "
            "each record is a conversation rendered with the chat template. `completion`: a "
            "prompt and a response, the loss on the response only."
        ),
    )
    template: str | None = Field(
        default=None,
        description=(
            "`format: text`: a Jinja template rendering a record into the training text, e.g. "
            "`Q: {{ record.question }}\\nA: {{ record.answer }}`. Runs sandboxed; a missing "
            "field is an error naming the record."
        ),
    )
    chat_template: str | None = Field(
        default=None,
        description=(
            "`format: chat`: a Jinja chat template replacing the tokenizer's; the sample step "
            "and `smolora generate` use the same one, so training and inference cannot drift."
        ),
    )
    system_prompt: str | None = Field(
        default=None,
        max_length=10_000,
        description=(
            "`format: chat`: the system message of every conversation that has none, in "
            "training, samples, `generate` and `serve` alike; `''` an empty one (the shortest a "
            "template allows). Empty: the chat template decides (many add a default prompt)."
        ),
    )
    completion_separator: str = Field(
        default="\n",
        max_length=100,
        description=(
            "`format: completion`: the text between the prompt and the response (it ends the "
            "prompt, so it carries no loss); the sample step puts it after each prompt too."
        ),
    )
    train_on: Literal["assistant", "all"] = Field(
        default="assistant",
        description=(
            "Which tokens carry the loss: `assistant` turns only (chat) or the response only "
            "(completion); or `all` tokens."
        ),
    )
    train_on_reasoning: bool = Field(
        default=True,
        description=(
            "`format: chat`: whether an assistant turn's reasoning (`reasoning_content`, or "
            "`thinking`) carries loss; false: the model reads it but is not trained to write "
            "it. Templates that do not read `reasoning_content` get it as a `<think>` block."
        ),
    )
    chunking: ChunkingSection | None = Field(
        default=None, description="Split long texts into chunks (`format: text`); off when absent."
    )
    dedup: bool = Field(default=True, description="Drop exact duplicate examples.")
    eval_split: float = Field(
        default=0.1,
        ge=0.0,
        lt=1.0,
        description="Fraction of examples held out to measure eval loss (0 disables).",
    )
    seed: int = Field(
        default=42, ge=0, le=2**32 - 1, description="Seed for sampling, weights and the eval split."
    )
    num_proc: int = Field(
        default=1, ge=1, le=64, description="Processes that tokenize in parallel (`datasets.map`)."
    )
    streaming: bool = Field(
        default=False,
        description=(
            "Train from a stream (`datasets.IterableDataset`): sources are read, rendered and "
            "tokenized while training, never stored whole; needs `sft.max_steps`. The eval "
            "split is a seeded hash-chosen share of the examples (at most 1000)."
        ),
    )

    @field_validator("template", "chat_template")
    @classmethod
    def _template_parses(cls, value: str | None) -> str | None:
        return checked_jinja(value, expression=False)

    @field_validator("template", "chunking")
    @classmethod
    def _text_format_only(cls, value: object, info: ValidationInfo) -> object:
        fmt = info.data.get("format")
        if value is not None and fmt not in (None, "text"):
            raise ValueError(f"{info.field_name} applies to `format: text`, not `format: {fmt}`")
        return value

    @field_validator("chat_template", "system_prompt")
    @classmethod
    def _chat_format_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        fmt = info.data.get("format")
        if value is not None and fmt not in (None, "chat"):
            raise ValueError(f"{info.field_name} applies to `format: chat`, not `format: {fmt}`")
        return value
