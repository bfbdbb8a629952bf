"""Example rows -> token ids with a loss mask, under the length policy (`sft.over_length`).

Text: every token carries loss and eos is appended. Completion: the prompt and its separator,
then the response and eos; only the response carries loss (unless `train_on: all`). Chat:
rendered with the chat template (the recipe's or the tokenizer's); with `train_on: assistant`
only assistant turns, with their end-of-turn tokens, carry loss. An example longer than
`max_length` is split, truncated, dropped (it yields no row; the caller counts examples in and
first rows out) or fails, naming it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError

from smolora_recipes.core.errors import Location, Problem, UserInputError
from smolora_recipes.core.sandbox import RENDER_SECONDS, RenderTimeout, time_limit
from smolora_recipes.data.chat_tokens import chat_tokens
from smolora_recipes.data.long_text import batch_token_ids
from smolora_recipes.recipe.schema import Recipe

KEPT, SPLIT, SPLIT_PIECE, TRUNCATED = range(4)
OUTCOME_NAMES = {KEPT: "kept", SPLIT: "split", SPLIT_PIECE: "split piece", TRUNCATED: "truncated"}
FIRST_ROWS = (KEPT, SPLIT, TRUNCATED)  # one per example that was not dropped


@dataclass(frozen=True)
class TokenizeOptions:
    """How examples become tokens: format, where the loss goes, length and its policy."""

    fmt: str
    train_on: str
    max_length: int
    over_length: str  # split | truncate | drop | fail (never auto)
    separator: str = ""  # completion: ends each prompt
    train_on_reasoning: bool = True  # chat: reasoning tokens carry loss

    @classmethod
    def of(cls, recipe: Recipe) -> TokenizeOptions:
        """The options a recipe's `data` and `sft` sections describe."""
        data, sft = recipe.data, recipe.sft
        return cls(
            fmt=data.format,
            train_on=data.train_on,
            max_length=sft.max_length,
            over_length=resolve_over_length(sft.over_length, data.format),
            separator=data.completion_separator,
            train_on_reasoning=data.train_on_reasoning,
        )


def resolve_over_length(over_length: str, fmt: str) -> str:
    """`auto` -> split for text, drop for chat and completion."""
    if over_length != "auto":
        return over_length
    return "split" if fmt == "text" else "drop"


def tokenize_batch(batch: dict[str, list[Any]], tokenizer: Any, options: TokenizeOptions) -> dict:
    """`datasets.map` function: rows of `input_ids`, `completion_mask`, `outcome`, provenance."""
    out: dict[str, list[Any]] = {
        "input_ids": [],
        "completion_mask": [],
        "source": [],
        "origin": [],
        "outcome": [],
    }
    contents = [json.loads(payload) for payload in batch["payload"]]
    tokens = batch_tokens(contents, batch["origin"], tokenizer, options)
    for source, origin, (ids, mask) in zip(batch["source"], batch["origin"], tokens, strict=True):
        for piece_ids, piece_mask, outcome in apply_length_policy(ids, mask, origin, options):
            out["input_ids"].append(piece_ids)
            out["completion_mask"].append(piece_mask)
            out["source"].append(source)
            out["origin"].append(origin)
            out["outcome"].append(outcome)
    return out


def batch_tokens(
    contents: list[dict[str, Any]], origins: list[str], tokenizer: Any, options: TokenizeOptions
) -> list[tuple[list[int], list[int]]]:
    """Token ids and loss masks of a batch of examples (texts are tokenized in one call)."""
    if options.fmt == "chat":
        return [
            _conversation_tokens(c, origin, tokenizer, options)
            for c, origin in zip(contents, origins, strict=True)
        ]
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    if options.fmt == "completion":
        prompts = batch_token_ids(
            tokenizer, [c["prompt"] + options.separator for c in contents], True
        )
        responses = batch_token_ids(tokenizer, [c["completion"] for c in contents], False)
        prompt_loss = 1 if options.train_on == "all" else 0
        return [
            (
                [*prompt, *response, *eos],
                [prompt_loss] * len(prompt) + [1] * (len(response) + len(eos)),
            )
            for prompt, response in zip(prompts, responses, strict=True)
        ]
    texts = batch_token_ids(tokenizer, [c["text"] for c in contents], True)
    return [([*ids, *eos], [1] * (len(ids) + len(eos))) for ids in texts]


def apply_length_policy(
    ids: list[int], mask: list[int], origin: str, options: TokenizeOptions
) -> list[tuple[list[int], list[int], int]]:
    """(ids, mask, outcome) rows for one example under `options.over_length`."""
    limit = options.max_length
    if len(ids) <= limit:
        return [(ids, mask, KEPT)]
    if options.over_length == "split":
        starts = range(0, len(ids), limit)
        return [
            (
                ids[start : start + limit],
                mask[start : start + limit],
                SPLIT if start == 0 else SPLIT_PIECE,
            )
            for start in starts
        ]
    if options.over_length == "truncate":
        if not any(mask[:limit]):  # the loss-carrying part was cut off: nothing to learn
            return []  # dropped, and counted as such
        return [(ids[:limit], mask[:limit], TRUNCATED)]
    if options.over_length == "drop":
        return []
    raise UserInputError(
        Problem(
            f"this example has {len(ids)} tokens, more than sft.max_length ({limit})",
            _location(origin),
            "sft.over_length",
            "raise sft.max_length, or set sft.over_length to split (text), truncate or drop",
        )
    )


def _location(origin: str) -> Location:
    """Where an example came from (`data/train.jsonl:12`), as a problem location."""
    file, _, line = origin.rpartition(":")
    return Location(file, int(line)) if line.isdecimal() else Location(origin, literal=True)


def _conversation_tokens(
    content: dict[str, Any], origin: str, tokenizer: Any, options: TokenizeOptions
) -> tuple[list[int], list[int]]:
    """`chat_tokens`, with a chat template's failure (its sandbox refusing, an error it raises)
    located at the conversation it failed on."""
    try:
        with time_limit(RENDER_SECONDS):
            return chat_tokens(
                content["messages"],
                tokenizer,
                options.train_on,
                tools=content.get("tools"),
                train_on_reasoning=options.train_on_reasoning,
            )
    except (TemplateError, RenderTimeout) as error:
        reason = (
            f"took longer than {RENDER_SECONDS:g} s" if isinstance(error, RenderTimeout) else error
        )
        raise UserInputError(
            Problem(
                f"the chat template failed on this conversation: {reason}",
                _location(origin),
                "data.chat_template",
                "a chat template reads `messages` (role, content, tool_calls), `tools` and "
                "may not touch Python internals; check `data.chat_template`, or the model's own",
            )
        ) from None
