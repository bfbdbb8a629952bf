"""Token ids of a text of any length, with memory that follows a window, not the text.

A fast tokenizer keeps about 700 bytes per token while it encodes (strings, offsets, masks), so
a 60 MB record line tokenized in one call needs gigabytes. A text longer than `WINDOW_CHARS` is
encoded window by window instead. The next window starts at a token boundary about `CUT_CHARS`
before the window's end, and a cut is used only where both windows give the same tokens from
the cut to `CONTEXT_CHARS` before the first one's end: the tokens there depend neither on the
text before the cut nor on where the first window ended. When no cut agrees (a tokenizer whose
tokens depend on where its input starts), the text is encoded whole, as before.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import Any

WINDOW_CHARS = 2**18  # characters encoded at once: about 60 MB of tokenizer state
CUT_CHARS = 2**13  # a cut is about this far before a window's end
CONTEXT_CHARS = 2**12  # after a cut, both windows must agree over this many characters
MAX_CUT_TRIES = 4
Encoded = tuple[list[int], list[tuple[int, int]]]  # token ids and their character offsets


def token_ids(tokenizer: Any, text: str, special_tokens: bool) -> list[int]:
    """`tokenizer(text)["input_ids"]`, with or without the tokenizer's special tokens."""
    if len(text) <= WINDOW_CHARS or not getattr(tokenizer, "is_fast", False):
        return list(tokenizer(text, add_special_tokens=special_tokens)["input_ids"])
    ids = encode(tokenizer, text, with_offsets=False)[0]
    if not special_tokens:
        return ids
    before, after = _special_tokens_around(tokenizer)
    return [*before, *ids, *after]


def encode(tokenizer: Any, text: str, with_offsets: bool = True) -> Encoded:
    """Token ids and character offsets of `text` (a fast tokenizer; no special tokens). Without
    offsets, a long text's offset list is left empty (it would take more memory than its ids)."""
    if len(text) <= WINDOW_CHARS:
        return _encode(tokenizer, text)
    return _windowed(tokenizer, text, with_offsets) or _encode(tokenizer, text)


def batch_token_ids(tokenizer: Any, texts: list[str], special_tokens: bool) -> list[list[int]]:
    """`token_ids` of each text: the short ones encoded in one call, the long ones by window."""
    short = [text for text in texts if len(text) <= WINDOW_CHARS]
    encoded = iter(
        tokenizer(short, add_special_tokens=special_tokens)["input_ids"] if short else []
    )
    return [
        list(next(encoded))
        if len(text) <= WINDOW_CHARS
        else token_ids(tokenizer, text, special_tokens)
        for text in texts
    ]


def _encode(tokenizer: Any, text: str) -> Encoded:
    """Token ids and character offsets of `text`, no special tokens."""
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return list(encoded["input_ids"]), [tuple(pair) for pair in encoded["offset_mapping"]]


def _windowed(tokenizer: Any, text: str, with_offsets: bool) -> Encoded | None:
    """The text encoded window by window; None when a window has no agreed cut."""
    ids: list[int] = []
    offsets: list[tuple[int, int]] = []
    start = 0
    window = _encode(tokenizer, text[start : start + WINDOW_CHARS])
    while len(text) - start > WINDOW_CHARS:
        agreed = _agreed_cut(tokenizer, text, start, *window)
        if agreed is None:
            return None
        count, cut, following = agreed
        ids.extend(window[0][:count])
        if with_offsets:
            offsets.extend((begin + start, end + start) for begin, end in window[1][:count])
        start, window = start + cut, following
    ids.extend(window[0])
    if with_offsets:
        offsets.extend((begin + start, end + start) for begin, end in window[1])
    return ids, offsets


def _agreed_cut(
    tokenizer: Any, text: str, start: int, ids: list[int], offsets: list[tuple[int, int]]
) -> tuple[int, int, Encoded] | None:
    """How many of the window's tokens come before a cut, the cut (a character offset in the
    window) and the next window, encoded from it; None when no candidate cut gives the same
    tokens in both windows."""
    starts = [begin for begin, _ in offsets]
    agreed_until = bisect.bisect_right([end for _, end in offsets], WINDOW_CHARS - CONTEXT_CHARS)
    for index in _cut_candidates(text, start, starts):
        cut = offsets[index - 1][1]
        next_ids, next_offsets = _encode(tokenizer, text[start + cut : start + cut + WINDOW_CHARS])
        count = agreed_until - index
        shifted = [(begin + cut, end + cut) for begin, end in next_offsets[:count]]
        agreed = (
            next_ids[:count] == ids[index:agreed_until] and shifted == offsets[index:agreed_until]
        )
        if agreed:
            return index, cut, (next_ids, next_offsets)
    return None


def _cut_candidates(text: str, start: int, starts: list[int]) -> Iterator[int]:
    """Up to `MAX_CUT_TRIES` tokens starting about `CUT_CHARS` before the window's end, those
    at a word's start (whitespace on or just before it) first: tokenizers split there."""
    first = max(bisect.bisect_left(starts, WINDOW_CHARS - CUT_CHARS), 1)
    last = bisect.bisect_right(starts, WINDOW_CHARS - CUT_CHARS + CONTEXT_CHARS // 2)
    indexes = range(first, last)
    at_word = [
        index
        for index in indexes
        if text[start + starts[index]].isspace() or text[start + starts[index] - 1].isspace()
    ]
    chosen = set(at_word)
    yield from (at_word + [index for index in indexes if index not in chosen])[:MAX_CUT_TRIES]


def _special_tokens_around(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The special tokens the tokenizer puts before and after a text (e.g. bos, eos)."""
    plain = list(tokenizer("a", add_special_tokens=False)["input_ids"])
    marked = list(tokenizer("a", add_special_tokens=True)["input_ids"])
    for at in range(len(marked) - len(plain) + 1):
        if marked[at : at + len(plain)] == plain:
            return marked[:at], marked[at + len(plain) :]
    return [], []
