"""The typed results of the steps: what each returns, what the cache stores as JSON, what later
steps and the report read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smolora_recipes.core.json_record import JsonRecord
from smolora_recipes.models.runtime import Runtime
from smolora_recipes.training.result import TrainResult


@dataclass
class LoadResult(JsonRecord):
    """The resolved base model: where its folder is, and the device and dtypes chosen."""

    base: str
    kind: str
    folder: str
    converted_now: bool
    runtime: Runtime
    trust_remote_code: bool
    resolve_seconds: float = 0.0

    @property
    def folder_path(self) -> Path:
        """The local folder holding the base model's weights and tokenizer."""
        return Path(self.folder)


@dataclass
class DatasetResult(JsonRecord):
    """The data statistics: per source, then along the path to tokens (report.json `data`)."""

    sources: list[dict[str, Any]]
    rows_total: int
    examples: int
    duplicates_removed: int
    chunking: dict[str, int] | None
    over_length: str
    streaming: dict[str, int | None] | None
    train_rows: int | None
    eval_rows: int
    train_tokens: int
    eval_tokens: int
    split: int
    split_rows: int
    truncated: int
    dropped: int
    loss_token_share: float
    max_tokens: int
    token_lengths_histogram: dict[str, list[Any]]
    examples_preview: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class MergeResult(JsonRecord):
    """How the merge went, and how close the merged logits came to the adapter's and base's."""

    enabled: bool
    adapter_source: str | None = None  # memory | disk
    verified: bool | None = None
    max_abs_diff_vs_adapter: float | None = None
    max_abs_diff_vs_base: float | None = None
    tolerance: float | None = None
    dtype: str | None = None  # of the saved weights
    max_abs_diff_of_rounding: float | None = None  # saved (rounded to dtype) vs merged logits


@dataclass
class SampleItem(JsonRecord):
    """One prompt, both answers, and whether each meets the expectation (None: none given)."""

    prompt: str
    expect: str | None
    base: str | None
    tuned: str
    base_ok: bool | None
    tuned_ok: bool | None


@dataclass
class SampleResult(JsonRecord):
    """Every sample with accuracies over the prompts that state an expectation."""

    match: str
    items: list[SampleItem]
    scored: int
    base_accuracy: float | None
    tuned_accuracy: float | None
    tokens_per_second: float | None


@dataclass
class EvalScore(JsonRecord):
    """One metric of one task, for the base and the tuned model (None: that model not scored)."""

    task: str
    metric: str
    higher_is_better: bool = True
    base: float | None = None
    base_stderr: float | None = None
    tuned: float | None = None
    tuned_stderr: float | None = None


@dataclass
class EvalResult(JsonRecord):
    """The eval step's scores, and how long scoring took."""

    scores: list[EvalScore]
    seconds: float


@dataclass
class GgufCheck(JsonRecord):
    """One GGUF file, its making, and how its llama.cpp answers compare with the merged model's."""

    type: str
    file: str
    bytes: int
    seconds: float
    answered: int
    identical: int  # answers equal to the merged model's (the sample step's tuned answers)
    base_identical: int | None  # the base model's answers equal to the merged model's
    expected: int | None  # answers meeting the prompt's `expect`
    scored: int  # prompts with an `expect`


@dataclass
class ExportResult(JsonRecord):
    """The GGUF files with their checks, and the Modelfile when one was asked for."""

    ggufs: list[GgufCheck]
    modelfile: str | None = None
    modelfile_prompts: int | None = None  # prompts its TEMPLATE renders as the chat template does


@dataclass
class StepResults:
    """The results of the steps that have run (or come from the cache) in this run so far."""

    load: LoadResult | None = None
    dataset: DatasetResult | None = None
    train: TrainResult | None = None
    merge: MergeResult | None = None
    sample: SampleResult | None = None
    eval: EvalResult | None = None
    export: ExportResult | None = None

    def keep(self, step: str, result: JsonRecord) -> None:
        """Record `step`'s result (its type is checked against the field)."""
        expected = RESULT_TYPES[step]
        if not isinstance(result, expected):
            raise TypeError(f"step {step} returned {type(result).__name__}, not {expected}")
        setattr(self, step, result)


RESULT_TYPES: dict[str, type[JsonRecord]] = {
    "load": LoadResult,
    "dataset": DatasetResult,
    "train": TrainResult,
    "merge": MergeResult,
    "sample": SampleResult,
    "eval": EvalResult,
    "export": ExportResult,
}
