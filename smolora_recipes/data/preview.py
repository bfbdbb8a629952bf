"""Tokenized examples shown as the model sees them, with the tokens that carry loss marked.

A preview is a list of segments `[text, carries_loss]`: decoded runs of tokens with the same
mask. It renders as terminal text (no-loss spans dimmed, or `[[...]]` around loss spans when
colour is off), Markdown (`[[...]]`) or HTML (`<mark>`).
"""

from __future__ import annotations

from html import escape
from typing import Any

LEGEND = (
    "[[...]]: tokens that carry the loss; the rest is context the model reads but is not taught"
)


def preview_row(row: dict[str, Any], tokenizer: Any) -> dict[str, Any]:
    """One tokenized row as decoded segments, with its provenance and token counts."""
    segments: list[list[Any]] = []
    span: list[int] = []
    current = None
    for token, mask in zip(row["input_ids"], row["completion_mask"], strict=True):
        if mask != current and span:
            segments.append([tokenizer.decode(span), bool(current)])
            span = []
        current = mask
        span.append(token)
    if span:
        segments.append([tokenizer.decode(span), bool(current)])
    return {
        "origin": row.get("origin", ""),
        "tokens": len(row["input_ids"]),
        "loss_tokens": int(sum(row["completion_mask"])),
        "segments": segments,
    }


def bracketed(preview: dict[str, Any]) -> str:
    """The example with `[[...]]` around the spans that carry loss."""
    return "".join(f"[[{text}]]" if loss else text for text, loss in preview["segments"])


def dimmed(preview: dict[str, Any]) -> str:
    """The example for a colour terminal: spans without loss dimmed, loss spans bold."""
    return "".join(
        f"\x1b[1m{text}\x1b[0m" if loss else f"\x1b[2m{text}\x1b[0m"
        for text, loss in preview["segments"]
    )


def highlighted_html(preview: dict[str, Any]) -> str:
    """The example as HTML with `<mark>` around the spans that carry loss."""
    return "".join(
        f"<mark>{escape(text)}</mark>" if loss else escape(text)
        for text, loss in preview["segments"]
    )


def heading(preview: dict[str, Any]) -> str:
    """`data/train.jsonl:12 · 58 tokens, 21 carry loss`."""
    return (
        f"{preview['origin'] or 'example'} · {preview['tokens']} tokens, "
        f"{preview['loss_tokens']} carry loss"
    )
