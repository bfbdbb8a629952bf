"""Tokenization: loss masks on exactly the assistant turns, and the length policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smolora_recipes.data.examples import Example
from smolora_recipes.data.tokenize import chat_tokens, tokenize_examples

CHAT = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "hello"},
    {"role": "assistant", "content": "world"},
    {"role": "user", "content": "again"},
    {"role": "assistant", "content": "fox"},
]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def masked_text(tokenizer: Any, ids: list[int], mask: list[int]) -> str:
    return tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if m])


def test_chat_mask_covers_exactly_the_assistant_turns(tokenizer: Any) -> None:
    ids, mask = chat_tokens(CHAT, tokenizer, "assistant")
    assert masked_text(tokenizer, ids, mask) == "world<|im_end|>\nfox<|im_end|>\n"
    unmasked = tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if not m])
    assert "be brief" in unmasked and "hello" in unmasked and "again" in unmasked
    assert "world" not in unmasked


def test_train_on_all_masks_everything(tokenizer: Any) -> None:
    ids, mask = chat_tokens(CHAT, tokenizer, "all")
    assert mask == [1] * len(ids)


def test_long_chat_is_dropped_and_counted(tokenizer: Any) -> None:
    examples = [Example(None, CHAT, "a:1"), Example(None, CHAT[:3], "a:2")]
    full = len(chat_tokens(CHAT, tokenizer, "assistant")[0])
    rows, stats = tokenize_examples(
        examples, tokenizer, fmt="chat", train_on="assistant", max_length=full - 1
    )
    assert len(rows) == 1 and stats.dropped == 1 and stats.examples_in == 2
    assert stats.loss_tokens == sum(rows[0]["completion_mask"])


def test_long_text_is_split_into_windows_covering_every_token(tokenizer: Any) -> None:
    text = "the quick brown fox jumps over the lazy dog " * 4
    rows, stats = tokenize_examples(
        [Example(text, None, "a:1")], tokenizer, fmt="text", train_on="assistant", max_length=8
    )
    whole = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    assert [t for row in rows for t in row["input_ids"]] == whole
    assert all(len(row["input_ids"]) <= 8 for row in rows)
    assert stats.split == 1 and stats.rows_out == len(rows) > 1
    assert stats.loss_tokens == stats.total_tokens == len(whole)


def test_text_ends_with_eos(tokenizer: Any) -> None:
    rows, _ = tokenize_examples(
        [Example("hello", None, "a:1")], tokenizer, fmt="text", train_on="assistant", max_length=64
    )
    assert rows[0]["input_ids"][-1] == tokenizer.eos_token_id
