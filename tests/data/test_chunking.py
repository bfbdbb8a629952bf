"""Chunking by words, tokens or characters; sentence and paragraph boundaries; leftovers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smolora_recipes.data.chunking import Chunker
from smolora_recipes.recipe.data_section import ChunkingSection

TEXT = "One two three. Four five six seven! Eight nine.\n\nTen eleven twelve. Thirteen."


def chunks(text: str, tokenizer: Any = None, **settings: Any) -> list[str]:
    return Chunker(ChunkingSection(**settings), tokenizer).chunks(text)


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_words_with_overlap_keep_every_word() -> None:
    words = [f"w{i}" for i in range(10)]
    result = chunks(" ".join(words), size=4, overlap=1)
    assert result == ["w0 w1 w2 w3", "w3 w4 w5 w6", "w6 w7 w8 w9"]
    assert chunks("a b", size=4) == ["a b"] and chunks("   ", size=4) == []


def test_words_keep_line_breaks_inside_a_chunk() -> None:
    assert chunks("a b\nc d", size=10) == ["a b\nc d"]


def test_respect_sentence_ends_chunks_at_sentence_ends() -> None:
    assert chunks(TEXT, size=6) == [
        "One two three. Four five six",
        "seven! Eight nine.\n\nTen eleven twelve.",
        "Thirteen.",
    ]
    assert chunks(TEXT, size=6, respect="sentence") == [
        "One two three.",
        "Four five six seven! Eight nine.",
        "Ten eleven twelve. Thirteen.",
    ]


def test_respect_paragraph_prefers_paragraph_ends() -> None:
    assert chunks(TEXT, size=9, respect="paragraph") == [
        "One two three. Four five six seven! Eight nine.",
        "Ten eleven twelve. Thirteen.",
    ]
    assert chunks(TEXT, size=9, respect="sentence") == [
        "One two three. Four five six seven! Eight nine.",
        "Ten eleven twelve. Thirteen.",
    ]


def test_a_sentence_longer_than_size_is_still_cut() -> None:
    assert chunks("a b c d e f g.", size=3, respect="sentence") == ["a b c", "d e f", "g."]


def test_chars_with_overlap_and_sentences_always_move_forward() -> None:
    result = chunks(TEXT, unit="chars", size=20, overlap=5, respect="sentence")
    assert all(len(chunk) <= 20 for chunk in result)
    assert result[0] == "One two three."
    assert result[-1].endswith("Thirteen.")
    assert len(result) == len(set(result))


def test_leftover_is_merged_or_dropped_and_counted() -> None:
    merged = Chunker(ChunkingSection(size=5, min_size=3))
    assert merged.chunks("a b c d e f") == ["a b c d e f"]
    assert merged.stats.leftovers_merged == 1
    dropped = Chunker(ChunkingSection(size=5, min_size=3, leftover="drop"))
    assert dropped.chunks("a b c d e f") == ["a b c d e"]
    assert dropped.stats.leftovers_dropped == 1 and dropped.stats.dropped_units == 1


def test_token_chunks_fit_the_size_in_tokens(tokenizer: Any) -> None:
    text = "the quick brown fox jumps over the lazy dog " * 6
    result = chunks(text, tokenizer, unit="tokens", size=12, overlap=2)
    assert len(result) > 3
    encoded = tokenizer(text.strip(), add_special_tokens=False, return_offsets_mapping=True)
    assert len(result[0]) == encoded["offset_mapping"][11][1]  # exactly the first 12 tokens
    lengths = [len(tokenizer(chunk, add_special_tokens=False)["input_ids"]) for chunk in result]
    assert max(lengths) <= 12 + 2  # a chunk re-tokenized alone may differ at its edges
    assert result[0].startswith("the quick") and result[-1].endswith("dog")


def test_schema_refuses_inconsistent_sizes() -> None:
    with pytest.raises(ValueError, match="overlap"):
        ChunkingSection(size=4, overlap=4)
    with pytest.raises(ValueError, match="min_size"):
        ChunkingSection(size=4, min_size=5)
