"""The benchmark corpus: real English prose of varied length, available offline everywhere.

Python ships its language reference as text (`pydoc_data.topics`). Consecutive paragraphs
of one topic are grouped into documents of a random target length (seeded), so the
corpus has the long tail of lengths real fine-tuning data has. Each document is far below
the 1024-token `max_length` of both contenders, so neither truncates.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

MIN_WORDS_PER_PARAGRAPH = 8
DOCUMENT_WORDS = (20, 320)  # a document's target length is drawn uniformly from this range


def documents(seed: int = 0) -> list[str]:
    """Every document of the corpus, shuffled with `seed`."""
    from pydoc_data.topics import topics

    rng = random.Random(seed)
    result: list[str] = []
    for name in sorted(topics):
        paragraphs = [
            " ".join(part.split())
            for part in topics[name].split("\n\n")
            if len(part.split()) >= MIN_WORDS_PER_PARAGRAPH
        ]
        current: list[str] = []
        target = rng.randint(*DOCUMENT_WORDS)
        for paragraph in paragraphs:
            current.append(paragraph)
            if sum(len(p.split()) for p in current) >= target:
                result.append("\n\n".join(current))
                current, target = [], rng.randint(*DOCUMENT_WORDS)
        if current:
            result.append("\n\n".join(current))
    unique = sorted(set(result))
    rng.shuffle(unique)
    return [text for text in unique if len(text.split()) <= DOCUMENT_WORDS[1] * 2]


def write_corpus(folder: Path, train_rows: int, eval_rows: int, seed: int = 0) -> dict[str, Path]:
    """Write `train.jsonl` and `eval.jsonl` ({"text": ...} per line) and return their paths."""
    texts = documents(seed)
    if train_rows + eval_rows > len(texts):
        raise SystemExit(f"the corpus has {len(texts)} documents; asked for more")
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"train": folder / "train.jsonl", "eval": folder / "eval.jsonl"}
    splits = {"eval": texts[:eval_rows], "train": texts[eval_rows : eval_rows + train_rows]}
    for name, rows in splits.items():
        paths[name].write_text("".join(json.dumps({"text": text}) + "\n" for text in rows))
    return paths
