"""Step `dataset`: sources -> examples -> tokens with loss masks -> train/eval on disk."""

from __future__ import annotations

import json
from typing import Any

from smolora_recipes.data.examples import build_examples
from smolora_recipes.data.tokenize import tokenize_examples
from smolora_recipes.errors import Problem, UserInputError
from smolora_recipes.runtime import load_tokenizer
from smolora_recipes.steps.context import StepContext

OUTPUT = "dataset"
HISTOGRAM_BINS = 20
PREVIEW_EXAMPLES = 3


def run(ctx: StepContext) -> dict[str, Any]:
    """Build, tokenize and save the train and eval splits; return the data statistics."""
    from datasets import Dataset

    recipe = ctx.recipe
    built = build_examples(recipe.data, ctx.loaded.base_dir)
    tokenizer = load_tokenizer(ctx.model_folder(), recipe.model.trust_remote_code)
    options = {
        "fmt": recipe.data.format,
        "train_on": recipe.data.train_on,
        "max_length": recipe.sft.max_length,
    }
    train_rows, train_lengths = tokenize_examples(built.train, tokenizer, **options)
    eval_rows, eval_lengths = tokenize_examples(built.eval, tokenizer, **options)
    if not train_rows:
        raise UserInputError(
            Problem(
                f"no training example is left: all {train_lengths.examples_in} are longer than "
                f"sft.max_length ({recipe.sft.max_length}) tokens and were dropped",
                field="sft.max_length",
                hint="raise sft.max_length, or shorten the examples",
            )
        )
    empty = {"input_ids": [], "completion_mask": []}
    for name, rows in (("train", train_rows), ("eval", eval_rows)):
        dataset = Dataset.from_list(rows) if rows else Dataset.from_dict(empty)
        dataset.save_to_disk(str(ctx.output / name))
    preview = [_preview(row, tokenizer) for row in train_rows[:PREVIEW_EXAMPLES]]
    (ctx.output / "preview.json").write_text(json.dumps(preview, indent=2, ensure_ascii=False))
    stats = built.stats
    lengths = [len(row["input_ids"]) for row in train_rows + eval_rows]
    loss_tokens = train_lengths.loss_tokens + eval_lengths.loss_tokens
    total_tokens = train_lengths.total_tokens + eval_lengths.total_tokens
    result = {
        "sources": stats.sources,
        "rows_total": stats.rows_total,
        "rows_after_chunking": stats.rows_after_chunking,
        "duplicates_removed": stats.duplicates_removed,
        "train_rows": len(train_rows),
        "eval_rows": len(eval_rows),
        "train_tokens": train_lengths.total_tokens,
        "eval_tokens": eval_lengths.total_tokens,
        "split": train_lengths.split + eval_lengths.split,
        "dropped": train_lengths.dropped + eval_lengths.dropped,
        "truncated": 0,  # the length policy never truncates: long text is split, long chat dropped
        "loss_token_share": round(loss_tokens / total_tokens, 4) if total_tokens else 0.0,
        "max_tokens": max(lengths),
        "token_lengths_histogram": histogram(lengths, HISTOGRAM_BINS),
        "examples": preview,
    }
    ctx.log(
        f"{stats.rows_total} records -> {len(train_rows)} train / {len(eval_rows)} eval rows, "
        f"{total_tokens} tokens ({result['loss_token_share']:.0%} carry loss), "
        f"{result['dropped']} dropped, {result['split']} split"
    )
    return result


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


def _preview(row: dict[str, list[int]], tokenizer: Any) -> dict[str, Any]:
    """One tokenized example as text, with the loss-carrying spans in [[double brackets]]."""
    pieces: list[str] = []
    span: list[int] = []
    current = None
    for token, mask in zip(row["input_ids"], row["completion_mask"], strict=True):
        if mask != current and span:
            pieces.append(_render(tokenizer.decode(span), current))
            span = []
        current = mask
        span.append(token)
    if span:
        pieces.append(_render(tokenizer.decode(span), current))
    return {
        "tokens": len(row["input_ids"]),
        "loss_tokens": sum(row["completion_mask"]),
        "text": "".join(pieces),
    }


def _render(text: str, mask: int | None) -> str:
    return f"[[{text}]]" if mask else text
