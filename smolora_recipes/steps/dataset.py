"""Step `dataset`: sources -> examples -> tokens with loss masks -> train/eval on disk.

Examples stream from the readers into an Arrow file, so memory stays bounded however large the
corpus; splitting, weighting and tokenizing (`datasets.map`, `data.num_proc` processes) work on
the memory-mapped file. The outputs are `train/` and `eval/` (`save_to_disk`), with columns
`input_ids`, `completion_mask`, `source` and `origin`, and `preview.json`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from smolora_recipes.core.errors import Problem, UserInputError
from smolora_recipes.data.examples import ExampleStats, build_examples
from smolora_recipes.data.preview import preview_row
from smolora_recipes.data.selection import weighted_indices
from smolora_recipes.data.splits import TRAIN_SAMPLE, load_split, load_training_rows, split_examples
from smolora_recipes.data.stream import eval_and_sample
from smolora_recipes.data.tokenize import (
    FIRST_ROWS,
    OUTCOME_NAMES,
    TokenizeOptions,
    tokenize_batch,
)
from smolora_recipes.steps.context import StepContext
from smolora_recipes.steps.results import DatasetResult

OUTPUT = "dataset"
HISTOGRAM_BINS = 20
PREVIEW_EXAMPLES = 3
WRITE_BATCH = 1000


def run(ctx: StepContext) -> DatasetResult:
    """Build, tokenize and save the train and eval splits; return the data statistics."""
    recipe, data = ctx.recipe, ctx.recipe.data
    tokenizer = ctx.tokenizer()
    options = TokenizeOptions.of(recipe)
    work = ctx.side_dir / ".work"
    work.mkdir(parents=True, exist_ok=True)
    stats = ExampleStats()
    try:
        if data.streaming:
            parts, scanned = _streamed_parts(ctx, tokenizer, stats, work)
        else:
            parts, scanned = _materialised_parts(ctx, tokenizer, stats, work), None
        outcomes = {
            name: _tokenize_to_disk(
                part, tokenizer, options, data.num_proc, work, ctx.output / name
            )
            for name, part in parts.items()
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _statistics(ctx, stats, outcomes, tokenizer, options, scanned)


def _materialised_parts(
    ctx: StepContext, tokenizer: Any, stats: ExampleStats, work: Path
) -> dict[str, Any]:
    """Every example in an Arrow file, split, the training split mixed by source weights."""
    data = ctx.recipe.data
    examples = write_examples(
        build_examples(data, ctx.loaded.base_dir, tokenizer, stats), work / "examples.arrow"
    )
    if examples is None:
        raise _no_examples(stats)
    train, held_out = split_examples(examples, data.eval_split, data.seed)
    weights = [source.weight for source in data.sources]
    if all(weight == 1.0 for weight in weights):
        return {"train": train, "eval": held_out}
    indices = weighted_indices(list(train["source"]), weights, data.seed)
    return {"train": train.select(indices) if indices is not None else train, "eval": held_out}


def _streamed_parts(
    ctx: StepContext, tokenizer: Any, stats: ExampleStats, work: Path
) -> tuple[dict[str, Any], int]:
    """Streaming: only the eval split and a sample of training rows (train streams later)."""
    held, sample, scanned = eval_and_sample(ctx.recipe.data, ctx.loaded.base_dir, tokenizer, stats)
    train_sample = write_examples(sample, work / "sample.arrow")
    if train_sample is None:
        raise _no_examples(stats)
    held_out = write_examples(held, work / "eval.arrow")
    parts = {TRAIN_SAMPLE: train_sample}
    if held_out is not None:
        parts["eval"] = held_out
    return parts, scanned


def write_examples(rows: Any, path: Path) -> Any:
    """Stream example rows into an Arrow file and open it memory-mapped (None when empty)."""
    import pyarrow as pa
    from datasets import Dataset

    schema = pa.schema([("source", pa.int32()), ("origin", pa.string()), ("payload", pa.string())])
    written = 0
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == WRITE_BATCH:
                writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
                written, batch = written + len(batch), []
        if batch:
            writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
            written += len(batch)
    return Dataset.from_file(str(path)) if written else None


def _tokenize_to_disk(
    part: Any, tokenizer: Any, options: TokenizeOptions, num_proc: int, work: Path, target: Path
) -> dict[str, int]:
    """Tokenize one split under the length policy, save it, and count each outcome."""
    import pyarrow.compute as pc
    from datasets import Features, List, Value

    columns = {
        "input_ids": List(Value("int32")),
        "completion_mask": List(Value("int8")),
        "source": Value("int32"),
        "origin": Value("string"),
    }
    if len(part) == 0:
        return {}  # an empty split has no folder (see data.splits)
    tokenized = part.map(
        tokenize_batch,
        fn_kwargs={"tokenizer": tokenizer, "options": options},
        batched=True,
        batch_size=256,
        num_proc=num_proc if len(part) >= 2 * num_proc > 2 else None,
        remove_columns=part.column_names,
        features=Features({**columns, "outcome": Value("int8")}),
        new_fingerprint=f"tokenized-{target.name}",
        cache_file_name=str(work / f"{target.name}-tokens.arrow"),
        load_from_cache_file=False,
    )
    counted = pc.value_counts(tokenized.data.column("outcome")).to_pylist()
    outcomes = {OUTCOME_NAMES[item["values"]]: item["counts"] for item in counted}
    first_rows = sum(item["counts"] for item in counted if item["values"] in FIRST_ROWS)
    outcomes["dropped"] = len(part) - first_rows
    if len(tokenized):  # no indices mapping, so saving copies the Arrow file in bounded memory
        tokenized.remove_columns("outcome").save_to_disk(str(target))
    return outcomes


def _statistics(
    ctx: StepContext,
    stats: ExampleStats,
    outcomes: dict[str, dict[str, int]],
    tokenizer: Any,
    options: TokenizeOptions,
    scanned: int | None,
) -> DatasetResult:
    train = load_training_rows(ctx.output)
    held_out = load_split(ctx.output, "eval")
    if train is None:
        dropped = sum(split.get("dropped", 0) for split in outcomes.values())
        raise UserInputError(
            Problem(
                f"no training example is left: all {dropped} are longer than sft.max_length "
                f"({options.max_length}) tokens and were dropped",
                field="sft.max_length",
                hint="raise sft.max_length, or set sft.over_length to truncate",
            )
        )
    preview = [
        preview_row(train[index], tokenizer) for index in range(min(PREVIEW_EXAMPLES, len(train)))
    ]
    (ctx.output / "preview.json").write_text(json.dumps(preview, indent=2, ensure_ascii=False))
    train_tokens, eval_tokens = token_counts(train), token_counts(held_out)
    lengths = train_tokens["lengths"] + eval_tokens["lengths"]
    total = train_tokens["tokens"] + eval_tokens["tokens"]
    loss = train_tokens["loss_tokens"] + eval_tokens["loss_tokens"]
    count = {
        name: sum(split.get(name, 0) for split in outcomes.values())
        for name in ("split", "split piece", "truncated", "dropped")
    }
    result = DatasetResult(
        sources=[source.to_json() for source in stats.sources],
        rows_total=sum(source.counts.read for source in stats.sources),
        examples=stats.examples,
        duplicates_removed=stats.duplicates_removed,
        chunking=vars(stats.chunking) if stats.chunking else None,
        over_length=options.over_length,
        streaming={"examples_read": scanned, "train_sample_rows": len(train)}
        if scanned is not None
        else None,
        train_rows=len(train) if scanned is None else None,
        eval_rows=len(held_out) if held_out is not None else 0,
        train_tokens=train_tokens["tokens"],
        eval_tokens=eval_tokens["tokens"],
        split=count["split"],
        split_rows=count["split"] + count["split piece"],
        truncated=count["truncated"],
        dropped=count["dropped"],
        loss_token_share=round(loss / total, 4) if total else 0.0,
        max_tokens=max(lengths),
        token_lengths_histogram=histogram(lengths, HISTOGRAM_BINS),
        examples_preview=preview,
    )
    ctx.log(
        f"{result.rows_total} records -> {stats.examples} examples -> "
        f"{'streamed' if scanned is not None else len(train)} train / "
        f"{result.eval_rows} eval rows, {total} tokens ({result.loss_token_share:.0%} carry "
        f"loss); over max_length: {count['split']} split, {count['truncated']} truncated, "
        f"{count['dropped']} dropped"
    )
    return result


def token_counts(dataset: Any | None) -> dict[str, Any]:
    """Row lengths, total tokens and loss-carrying tokens of a tokenized split (via Arrow)."""
    import pyarrow.compute as pc

    if dataset is None:
        return {"lengths": [], "tokens": 0, "loss_tokens": 0}
    table = dataset.data
    lengths = pc.list_value_length(table.column("input_ids")).to_pylist()
    loss = pc.sum(pc.list_flatten(table.column("completion_mask"))).as_py() or 0
    return {"lengths": lengths, "tokens": sum(lengths), "loss_tokens": int(loss)}


def histogram(values: list[int], bins: int) -> dict[str, list[float] | list[int]]:
    """Equal-width histogram of token lengths (edges has one more entry than counts)."""
    low, high = min(values), max(values)
    width = max((high - low) / bins, 1.0)
    count = max(1, min(bins, int((high - low) / width) + 1))
    edges = [low + i * width for i in range(count + 1)]
    counts = [0] * count
    for value in values:
        counts[min(int((value - low) / width), count - 1)] += 1
    return {"edges": [round(edge, 2) for edge in edges], "counts": counts}


def _no_examples(stats: ExampleStats) -> UserInputError:
    quoted = [line for source in stats.sources for line in source.policy.quoted]
    skipped = sum(source.policy.skipped for source in stats.sources)
    filtered = sum(source.counts.filtered_out for source in stats.sources)
    reasons = []
    if skipped:
        reasons.append(f"{skipped} skipped as malformed (first: {quoted[0]})")
    if filtered:
        reasons.append(f"{filtered} removed by `filter`")
    detail = f": {'; '.join(reasons)}" if reasons else ""
    first = stats.sources[0].name if stats.sources else "data.sources"
    return UserInputError(
        Problem(
            f"the data sources produced no examples{detail}",
            field="data.sources",
            hint=f"check the files are not empty (first source: {first}), and `filter`",
        )
    )
