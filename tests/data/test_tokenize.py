"""Tokenization: loss masks on exactly the assistant turns or the response; length policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smolora_recipes.core.errors import UserInputError
from smolora_recipes.data.chat_tokens import chat_tokens
from smolora_recipes.data.tokenize import (
    KEPT,
    SPLIT,
    SPLIT_PIECE,
    TRUNCATED,
    TokenizeOptions,
    resolve_over_length,
    tokenize_batch,
)

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


def options(**fields: Any) -> TokenizeOptions:
    return TokenizeOptions(
        **{
            "fmt": "text",
            "train_on": "assistant",
            "max_length": 64,
            "over_length": "split",
            **fields,
        }
    )


def tokenized(payloads: list[dict], tokenizer: Any, **fields: Any) -> dict[str, list]:
    batch = {
        "source": [0] * len(payloads),
        "origin": [f"a.jsonl:{i + 1}" for i in range(len(payloads))],
        "payload": [json.dumps(p) for p in payloads],
    }
    return tokenize_batch(batch, tokenizer, options(**fields))


def test_long_chat_is_dropped(tokenizer: Any) -> None:
    full = len(chat_tokens(CHAT, tokenizer, "assistant")[0])
    out = tokenized(
        [{"messages": CHAT}, {"messages": CHAT[:3]}],
        tokenizer,
        fmt="chat",
        max_length=full - 1,
        over_length="drop",
    )
    assert out["outcome"] == [KEPT] and out["origin"] == ["a.jsonl:2"]  # no row for the first


def test_long_text_is_split_into_windows_covering_every_token(tokenizer: Any) -> None:
    text = "the quick brown fox jumps over the lazy dog " * 4
    out = tokenized([{"text": text}], tokenizer, max_length=8)
    whole = tokenizer(text)["input_ids"] + [tokenizer.eos_token_id]
    assert [t for row in out["input_ids"] for t in row] == whole
    assert all(len(row) <= 8 for row in out["input_ids"])
    assert out["outcome"][0] == SPLIT and set(out["outcome"][1:]) == {SPLIT_PIECE}


def test_truncate_keeps_the_first_max_length_tokens(tokenizer: Any) -> None:
    text = "the quick brown fox jumps over the lazy dog " * 4
    out = tokenized([{"text": text}], tokenizer, max_length=8, over_length="truncate")
    assert out["outcome"] == [TRUNCATED] and out["input_ids"][0] == tokenizer(text)["input_ids"][:8]


def test_truncation_that_leaves_no_loss_drops_the_example(tokenizer: Any) -> None:
    long_prompt = {"prompt": "the quick brown fox jumps " * 4, "completion": "over"}
    short = {"prompt": "a", "completion": "the lazy dog"}
    out = tokenized(
        [long_prompt, short], tokenizer, fmt="completion", max_length=8, over_length="truncate"
    )
    assert out["origin"] == ["a.jsonl:2"] and out["outcome"] == [KEPT]
    chat = tokenized(
        [{"messages": CHAT}], tokenizer, fmt="chat", max_length=6, over_length="truncate"
    )
    assert chat["outcome"] == []


def test_fail_names_the_example_and_its_length(tokenizer: Any) -> None:
    with pytest.raises(UserInputError) as caught:
        tokenized(
            [{"text": "the quick brown fox " * 5}], tokenizer, max_length=8, over_length="fail"
        )
    text = caught.value.render()
    assert text.startswith("a.jsonl:1: sft.over_length: this example has")
    assert "more than sft.max_length (8)" in text


def test_completion_loss_is_on_the_response_only(tokenizer: Any) -> None:
    out = tokenized(
        [{"prompt": "what is quux?", "completion": " a blorp"}], tokenizer, fmt="completion"
    )
    ids, mask = out["input_ids"][0], out["completion_mask"][0]
    assert masked_text(tokenizer, ids, mask) == " a blorp" + tokenizer.eos_token
    everything = tokenized(
        [{"prompt": "what is quux?", "completion": " a blorp"}],
        tokenizer,
        fmt="completion",
        train_on="all",
    )
    assert set(everything["completion_mask"][0]) == {1}


def test_the_completion_separator_ends_the_prompt_without_loss(tokenizer: Any) -> None:
    pair = [{"prompt": "what is quux?", "completion": "a blorp"}]
    out = tokenized(pair, tokenizer, fmt="completion", separator="\nA: ")
    ids, mask = out["input_ids"][0], out["completion_mask"][0]
    assert tokenizer.decode(ids) == "what is quux?\nA: a blorp" + tokenizer.eos_token
    assert masked_text(tokenizer, ids, mask) == "a blorp" + tokenizer.eos_token


def test_a_recipe_separates_prompt_and_completion_by_a_line_break() -> None:
    from smolora_recipes.recipe.data_section import DataSection

    section = DataSection.model_validate(
        {"sources": [{"type": "jsonl", "path": "a.jsonl"}], "format": "completion"}
    )
    assert section.completion_separator == "\n"


def test_auto_length_policy_depends_on_the_format() -> None:
    assert resolve_over_length("auto", "text") == "split"
    assert resolve_over_length("auto", "chat") == "drop"
    assert resolve_over_length("auto", "completion") == "drop"
    assert resolve_over_length("truncate", "chat") == "truncate"


def test_text_ends_with_eos(tokenizer: Any) -> None:
    out = tokenized([{"text": "hello"}], tokenizer)
    assert out["input_ids"][0][-1] == tokenizer.eos_token_id


def test_a_recipe_chat_template_replaces_the_tokenizers(tiny_model_dir: Path) -> None:
    from smolora_recipes.models.runtime import load_tokenizer

    template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}</s>{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    custom = load_tokenizer(tiny_model_dir, False, template)
    ids, mask = chat_tokens(CHAT[1:3], custom, "assistant")
    assert custom.decode(ids).startswith("<user>hello</s><assistant>world")
    assert masked_text(custom, ids, mask) == "world</s>"
