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


def test_stats_add_up_over_texts() -> None:
    chunker = Chunker(ChunkingSection(size=5, min_size=3, leftover="drop"))
    assert chunker.chunks("a b c d e f") == ["a b c d e"]
    assert chunker.chunks("a b") == ["a b"]
    assert chunker.chunks("a b c d e f g h i j k l") == ["a b c d e", "f g h i j"]
    assert chunker.chunks("a b c d e f g h i") == ["a b c d e", "f g h i"]
    stats = chunker.stats
    assert (stats.texts, stats.chunked, stats.chunks) == (4, 2, 6)
    assert (stats.leftovers_dropped, stats.dropped_units) == (2, 3)
    merging = Chunker(ChunkingSection(size=5, min_size=3))
    merging.chunks("a b c d e f")
    merging.chunks("a b c d e f g")
    assert (merging.stats.leftovers_merged, merging.stats.chunks) == (2, 2)


def test_a_leftover_after_several_chunks_joins_the_last_or_goes() -> None:
    text = "a b c d e f g h i j k"
    assert chunks(text, size=5, min_size=3) == ["a b c d e", "f g h i j k"]
    assert chunks(text, size=5, min_size=3, leftover="drop") == ["a b c d e", "f g h i j"]


def test_a_chunk_cut_short_by_a_sentence_still_moves_on_with_overlap() -> None:
    assert chunks("a. b. c. d. e.", size=4, overlap=3, respect="sentence") == [
        "a. b. c. d.",
        "b. c. d. e.",
    ]
    assert chunks("a b. c d e f", size=4, overlap=3, respect="sentence") == [
        "a b.",
        "b. c d e",
        "c d e f",
    ]


def test_paragraph_ends_come_before_later_sentence_ends() -> None:
    text = "A b.\n\nC d. E f. G h."
    assert chunks(text, size=5, respect="sentence") == ["A b.\n\nC d.", "E f. G h."]
    assert chunks(text, size=5, respect="paragraph") == ["A b.", "C d. E f.", "G h."]


def test_characters_are_cut_after_sentence_ends_exactly() -> None:
    assert chunks("Ab. Cd. Efgh. Ij.", unit="chars", size=9, respect="sentence") == [
        "Ab. Cd.",
        "Efgh.",  # the space after "Cd." is a character of the second chunk
        "Ij.",
    ]
    assert chunks("Ab. Cd. Ef.", unit="chars", size=4, respect="sentence") == [
        "Ab.",
        "Cd.",
        "Ef.",
    ]


def test_token_chunking_needs_a_tokenizer_and_an_empty_text_has_no_chunks(
    tokenizer: Any,
) -> None:
    with pytest.raises(ValueError, match=r"^token chunking needs the tokenizer$"):
        Chunker(ChunkingSection(unit="tokens", size=8))
    assert chunks(" \n ", tokenizer, unit="tokens", size=8) == []


def test_a_sentence_ending_inside_the_first_piece_can_end_the_first_chunk() -> None:
    assert chunks("A. b c d e. f g", size=3, respect="sentence") == ["A.", "b c d", "e. f g"]
