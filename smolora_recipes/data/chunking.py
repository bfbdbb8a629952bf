"""Split long texts into overlapping windows (SmoLoRA's word chunking), never dropping text."""

from __future__ import annotations


def chunk_words(text: str, size: int, overlap: int) -> list[str]:
    """Windows of `size` whitespace-separated words, consecutive windows sharing `overlap`."""
    words = text.split()
    if len(words) <= size:
        return [" ".join(words)] if words else []
    step = size - overlap
    chunks = []
    for start in range(0, len(words), step):
        chunks.append(" ".join(words[start : start + size]))
        if start + size >= len(words):
            break
    return chunks
