"""The train/eval splits of a dataset step: made by a seeded shuffle, stored by `save_to_disk`.

An empty split (no eval when `eval_split: 0`) has no folder: `datasets` cannot reload an empty
saved dataset, so its absence is the record of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TRAIN_SAMPLE = "train_sample"  # with `data.streaming`: the first training rows, for statistics


def split_examples(examples: Any, eval_split: float, seed: int) -> tuple[Any, Any]:
    """Shuffle with `seed`, then hold out `eval_split` of the examples (at least one if > 0)."""
    count = len(examples)
    shuffled = examples.shuffle(seed=seed, keep_in_memory=True)
    if eval_split <= 0 or count < 2:
        return shuffled, shuffled.select([])
    held = min(max(1, round(count * eval_split)), count - 1)
    return shuffled.select(range(held, count)), shuffled.select(range(held))


def load_split(dataset_dir: Path, name: str) -> Any | None:
    """The saved split `name` (train, eval or train_sample), memory-mapped; None when empty."""
    from datasets import load_from_disk

    folder = dataset_dir / name
    return load_from_disk(str(folder)) if folder.is_dir() else None


def load_training_rows(dataset_dir: Path) -> Any | None:
    """The saved training split, or with `data.streaming` its sample; None when neither exists."""
    train = load_split(dataset_dir, "train")
    return train if train is not None else load_split(dataset_dir, TRAIN_SAMPLE)
