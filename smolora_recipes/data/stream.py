"""`data.streaming`: examples read, mixed and tokenized while training, never stored whole.

Which examples are held out for eval is decided per example by a seeded hash of its content,
so the training stream and the eval split are disjoint without either being materialised,
and a restarted stream makes the same choices.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from smolora_recipes.data.examples import ExampleStats, build_examples
from smolora_recipes.data.selection import copies_for
from smolora_recipes.data.tokenize import TokenizeOptions, tokenize_batch
from smolora_recipes.recipe.data_section import DataSection

EVAL_CAP = 1000  # eval rows held out at most
SAMPLE_ROWS = 200  # training rows kept for statistics and the preview
SCAN_LIMIT = 20_000  # examples the dataset step reads at most to find them
BATCH = 256


def is_held_out(payload: str, eval_split: float, seed: int) -> bool:
    """Whether an example belongs to the eval split: a seeded hash of its content."""
    if eval_split <= 0:
        return False
    digest = hashlib.blake2b(f"{seed}\0{payload}".encode(), digest_size=8).digest()
    return int.from_bytes(digest) / 2**64 < eval_split


def eval_and_sample(
    data: DataSection, base_dir: Path, tokenizer: Any, stats: ExampleStats
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """The held-out rows and the first training rows, from the first examples of the stream."""
    held: list[dict[str, Any]] = []
    sample: list[dict[str, Any]] = []
    scanned = 0
    for row in build_examples(data, base_dir, tokenizer, stats):
        scanned += 1
        if is_held_out(row["payload"], data.eval_split, data.seed):
            if len(held) < EVAL_CAP:
                held.append(row)
        elif len(sample) < SAMPLE_ROWS:
            sample.append(row)
        if scanned >= SCAN_LIMIT or (len(held) >= EVAL_CAP and len(sample) >= SAMPLE_ROWS):
            break
    return held, sample, scanned


def training_stream(
    data: DataSection, base_dir: Path, tokenizer: Any, options: TokenizeOptions
) -> Iterator[dict[str, list[int]]]:
    """Tokenized training rows: every example not held out, `weight` times on average."""
    rng = random.Random(f"{data.seed}/stream-weights")
    weights = [source.weight for source in data.sources]
    pending: list[dict[str, Any]] = []
    for row in build_examples(data, base_dir, tokenizer, ExampleStats()):
        if is_held_out(row["payload"], data.eval_split, data.seed):
            continue
        pending.extend([row] * copies_for(weights[row["source"]], rng))
        if len(pending) >= BATCH:
            yield from _tokenized(pending, tokenizer, options)
            pending = []
    yield from _tokenized(pending, tokenizer, options)


def _tokenized(
    rows: list[dict[str, Any]], tokenizer: Any, options: TokenizeOptions
) -> Iterator[dict[str, list[int]]]:
    if not rows:
        return
    batch = {key: [row[key] for row in rows] for key in ("source", "origin", "payload")}
    out = tokenize_batch(batch, tokenizer, options)
    for ids, mask in zip(out["input_ids"], out["completion_mask"], strict=True):
        yield {"input_ids": ids, "completion_mask": mask}
