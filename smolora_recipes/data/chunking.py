"""Split long texts into windows of words, tokens or characters, never dropping text silently.

A text is cut into pieces (a word with its trailing space, a token with the text up to the
next token, or a character) that concatenate back to the text. A chunk is a run of at most
`size` pieces; with `respect`, it ends after the last sentence or paragraph end that fits. A
last chunk shorter than `min_size` is merged into the one before it, or dropped and counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from smolora_recipes.data.long_text import encode
from smolora_recipes.recipe.data_section import ChunkingSection

_WORD = re.compile(r"\S+\s*")
_CLOSERS = "\"')]\u201d\u2019"  # quotes and brackets that may follow a sentence's end
_SENTENCE_END = re.compile(rf"[.!?\u2026][{re.escape(_CLOSERS)}]*(?=\s)|\n")
_PARAGRAPH_END = re.compile(r"\S(?=[ \t]*\r?\n[ \t]*\r?\n)")


@dataclass
class ChunkStats:
    """What chunking did: texts in, chunks out, leftovers merged or dropped."""

    texts: int = 0
    chunked: int = 0  # texts that became more than one chunk
    chunks: int = 0
    leftovers_merged: int = 0
    leftovers_dropped: int = 0
    dropped_units: int = 0


class Chunker:
    """`data.chunking` applied to texts; token units use the model's tokenizer."""

    def __init__(self, settings: ChunkingSection, tokenizer: Any = None) -> None:
        if settings.unit == "tokens" and tokenizer is None:
            raise ValueError("token chunking needs the tokenizer")
        self.settings = settings
        self.tokenizer = tokenizer
        self.stats = ChunkStats()

    def chunks(self, text: str) -> list[str]:
        """The chunks of one text, in order."""
        text = text.strip()
        self.stats.texts += 1
        starts = self._piece_starts(text)
        if not starts:
            return []
        bounds = [*starts, len(text)]
        spans = self._spans(len(starts), _boundaries(text, bounds, self.settings.respect))
        spans = self._handle_leftover(spans)
        self.stats.chunks += len(spans)
        self.stats.chunked += len(spans) > 1
        return [text[bounds[start] : bounds[end]].strip() for start, end in spans]

    def _piece_starts(self, text: str) -> list[int]:
        unit = self.settings.unit
        if unit == "chars":
            return list(range(len(text)))
        if unit == "words":
            return [match.start() for match in _WORD.finditer(text)]
        starts = sorted({start for start, end in encode(self.tokenizer, text)[1] if end > start})
        return [0, *starts[1:]] if starts else []

    def _spans(self, count: int, boundaries: list[set[int]]) -> list[tuple[int, int]]:
        size, overlap = self.settings.size, self.settings.overlap
        spans: list[tuple[int, int]] = []
        start = previous_end = 0
        while True:  # `count` > 0, and each chunk starts before `count`
            end = min(start + size, count)
            if end < count:  # every chunk must reach past the previous one
                end = _best_cut(max(start, previous_end), end, boundaries)
            previous_end = end
            spans.append((start, end))
            if end >= count:
                return spans
            start = max(end - overlap, start + 1)

    def _handle_leftover(self, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        if len(spans) < 2:
            return spans
        last_start, last_end = spans[-1]
        if last_end - last_start >= self.settings.min_size:
            return spans
        if self.settings.leftover == "merge":
            self.stats.leftovers_merged += 1
            return [*spans[:-2], (spans[-2][0], last_end)]
        self.stats.leftovers_dropped += 1
        self.stats.dropped_units += last_end - max(last_start, spans[-2][1])
        return spans[:-1]


def _boundaries(text: str, bounds: list[int], respect: str) -> list[set[int]]:
    """Per preference (paragraph first), the piece counts after which a chunk may end."""
    if respect == "none":
        return []
    patterns = [_PARAGRAPH_END, _SENTENCE_END] if respect == "paragraph" else [_SENTENCE_END]
    result = []
    for pattern in patterns:
        ends = sorted(match.end() for match in pattern.finditer(text))
        result.append(_pieces_ending_at(ends, bounds))
    return result


def _pieces_ending_at(offsets: list[int], bounds: list[int]) -> set[int]:
    """For each text offset, the number of pieces up to and including the piece holding it
    (offsets are sorted, and none is past the text's end, `bounds[-1]`)."""
    found: set[int] = set()
    piece = 0
    for offset in offsets:
        while bounds[piece + 1] < offset:
            piece += 1
        found.add(piece + 1)
    return found


def _best_cut(floor: int, end: int, boundaries: list[set[int]]) -> int:
    """The latest preferred boundary in (floor, end], else `end` (a hard cut)."""
    for allowed in boundaries:
        inside = [cut for cut in allowed if floor < cut <= end]
        if inside:
            return max(inside)
    return end
