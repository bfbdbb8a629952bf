"""Examples -> token ids with a loss mask, under the length policy.

Text: every token carries loss, eos is appended, and a text longer than `max_length` is split
into consecutive windows. Chat: rendered with the tokenizer's chat template; with
`train_on: assistant` only assistant turns (with their end-of-turn tokens) carry loss; a
conversation longer than `max_length` is dropped, and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from smolora_recipes.data.examples import Example
from smolora_recipes.errors import Problem, UserInputError


@dataclass
class LengthStats:
    """What the length policy did, and how many tokens carry loss."""

    examples_in: int = 0
    rows_out: int = 0
    split: int = 0
    dropped: int = 0
    total_tokens: int = 0
    loss_tokens: int = 0


def tokenize_examples(
    examples: Sequence[Example], tokenizer: Any, *, fmt: str, train_on: str, max_length: int
) -> tuple[list[dict[str, list[int]]], LengthStats]:
    """Rows of `input_ids` and `completion_mask` (1 = the token carries loss)."""
    stats = LengthStats(examples_in=len(examples))
    rows: list[dict[str, list[int]]] = []
    for example in examples:
        if fmt == "chat":
            assert example.messages is not None
            ids, mask = chat_tokens(example.messages, tokenizer, train_on)
            if len(ids) > max_length:
                stats.dropped += 1
                continue
            pieces = [(ids, mask)]
        else:
            assert example.text is not None
            ids = text_tokens(example.text, tokenizer)
            pieces = [
                (ids[start : start + max_length], [1] * len(ids[start : start + max_length]))
                for start in range(0, len(ids), max_length)
            ]
            stats.split += len(pieces) > 1  # examples that became several rows
        for ids, mask in pieces:
            rows.append({"input_ids": ids, "completion_mask": mask})
            stats.total_tokens += len(ids)
            stats.loss_tokens += sum(mask)
    stats.rows_out = len(rows)
    return rows, stats


def text_tokens(text: str, tokenizer: Any) -> list[int]:
    """Token ids of a plain text, ending with the eos token when the tokenizer has one."""
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    eos = tokenizer.eos_token_id
    return [*ids, eos] if eos is not None else ids


def _template_ids(tokenizer: Any, messages: list[dict[str, str]], generation: bool) -> list[int]:
    rendered = tokenizer.apply_chat_template(
        messages, tokenize=True, add_generation_prompt=generation
    )
    if isinstance(rendered, dict) or hasattr(rendered, "keys"):  # transformers 5: BatchEncoding
        rendered = rendered["input_ids"]
    return list(rendered)


def chat_tokens(
    messages: list[dict[str, str]], tokenizer: Any, train_on: str
) -> tuple[list[int], list[int]]:
    """Token ids of a conversation and its loss mask."""
    full = _template_ids(tokenizer, messages, generation=False)
    if train_on == "all":
        return full, [1] * len(full)
    mask = [0] * len(full)
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = _template_ids(tokenizer, messages[:index], generation=True) if index else []
        through = _template_ids(tokenizer, messages[: index + 1], generation=False)
        if full[: len(before)] != before or full[: len(through)] != through:
            raise UserInputError(
                Problem(
                    "the chat template renders a conversation differently from its beginning, "
                    "so assistant turns cannot be located for the loss mask",
                    field="data.train_on",
                    hint="set `data.train_on: all`, or use a model whose chat template is "
                    "prefix-consistent (ChatML templates are)",
                )
            )
        for position in range(len(before), len(through)):
            mask[position] = 1
    return full, mask
