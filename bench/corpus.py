"""The benchmark corpora: real English prose, available offline everywhere.

Python ships its language reference as text (`pydoc_data.topics`). Consecutive paragraphs
are grouped into documents of a random target length (seeded). Two corpora:

- `varied` (the default): documents of one topic each, 20-320 target words (14-860 tokens),
  the long tail of lengths real fine-tuning data has;
- `long`: documents of 400-620 words (~600-1,000 tokens), paragraphs running on across
  topics, the length of articles and reports, where activations decide memory.

Each document is below the 1024-token `max_length` of both contenders, so neither truncates.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

MIN_WORDS_PER_PARAGRAPH = 8
CORPORA = {  # name -> (target words per document, whether a document may span topics)
    "varied": ((20, 320), False),
    "long": ((400, 620), True),
}


def _paragraphs(text: str) -> list[str]:
    return [
        " ".join(part.split())
        for part in text.split("\n\n")
        if len(part.split()) >= MIN_WORDS_PER_PARAGRAPH
    ]


def documents(seed: int = 0, corpus: str = "varied") -> list[str]:
    """Every document of a corpus, shuffled with `seed`."""
    from pydoc_data.topics import topics

    (shortest, longest), spans_topics = CORPORA[corpus]
    rng = random.Random(seed)
    result: list[str] = []
    current: list[str] = []
    target = rng.randint(shortest, longest) if spans_topics else 0  # else drawn per topic
    for name in sorted(topics):
        if not spans_topics:
            current, target = [], rng.randint(shortest, longest)
        for paragraph in _paragraphs(topics[name]):
            current.append(paragraph)
            if sum(len(p.split()) for p in current) >= target:
                result.append("\n\n".join(current))
                current, target = [], rng.randint(shortest, longest)
        if current and not spans_topics:
            result.append("\n\n".join(current))
    unique = sorted(set(result))
    rng.shuffle(unique)
    return [text for text in unique if len(text.split()) <= longest * 2]


def write_corpus(
    folder: Path,
    train_rows: int,
    eval_rows: int,
    seed: int = 0,
    corpus: str = "varied",
    keep: Callable[[str], bool] | None = None,
) -> dict[str, Path]:
    """Write `train.jsonl` and `eval.jsonl` ({"text": ...} per line) and return their paths;
    `keep` (for example a token-count range) filters the documents first."""
    texts = [text for text in documents(seed, corpus) if keep is None or keep(text)]
    if train_rows + eval_rows > len(texts):
        raise SystemExit(f"the {corpus} corpus has {len(texts)} documents; asked for more")
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"train": folder / "train.jsonl", "eval": folder / "eval.jsonl"}
    splits = {"eval": texts[:eval_rows], "train": texts[eval_rows : eval_rows + train_rows]}
    for name, rows in splits.items():
        paths[name].write_text("".join(json.dumps({"text": text}) + "\n" for text in rows))
    return paths
