"""Attention for padding-free batches that costs what each document costs, on any device.

A padding-free batch is one row of concatenated documents. transformers keeps them apart
with a block-diagonal mask, so SDPA computes attention over the whole row, quadratic in its
length, and loses its fast causal path. Where flash-attention's variable-length kernels are
missing (CPU, MPS), this implementation runs causal SDPA on each document's slice instead
(sequence bounds from the collator's `cu_seq_lens_q`). Anything else (a padded batch,
generation, sliding-window or non-causal attention) goes to plain SDPA unchanged.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

NAME = "smolora_varlen_sdpa"


def varlen_sdpa_forward(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    cu_seq_lens_q: Any = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """Per-document causal SDPA for a packed row; plain SDPA for everything else."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    per_document = (
        cu_seq_lens_q is not None
        and query.shape[0] == 1
        and getattr(module, "is_causal", True)
        and getattr(module, "sliding_window", None) is None
        and kwargs.get("position_bias") is None
    )
    if not per_document:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    kwargs.pop("is_causal", None)
    pieces = [
        _single_tokens(query, value, start, end)
        if single
        else sdpa_attention_forward(
            module,
            query[:, :, start:end],
            key[:, :, start:end],
            value[:, :, start:end],
            None,
            is_causal=True,
            **kwargs,
        )[0]
        for start, end, single in _slices(cu_seq_lens_q.tolist(), not kwargs.get("dropout"))
    ]
    return torch.cat(pieces, dim=1), None  # (batch, length, heads, head_dim), as SDPA returns


def _slices(bounds: list[int], merge_singles: bool) -> list[tuple[int, int, bool]]:
    """(start, end, single) per document; runs of one-token documents (the padding that
    `pad_to_multiple_of` adds is one) become one slice marked single."""
    slices: list[tuple[int, int, bool]] = []
    for start, end in pairwise(bounds):
        single = merge_singles and end - start == 1
        if single and slices and slices[-1][2] and slices[-1][1] == start:
            slices[-1] = (slices[-1][0], end, True)
        elif end > start:
            slices.append((start, end, single))
    return slices


def _single_tokens(query: Any, value: Any, start: int, end: int) -> Any:
    """Attention of one-token documents: each token attends only to itself, so its output is
    its own value (softmax over one score is 1), with key/value heads shared as in GQA."""
    repeats = query.shape[1] // value.shape[1]
    return value[:, :, start:end].repeat_interleave(repeats, dim=1).transpose(1, 2)


def use_varlen_attention(model: Any) -> None:
    """Switch a model that uses SDPA to the per-document implementation (registered once)."""
    if getattr(model.config, "_attn_implementation", None) != "sdpa":
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(NAME, varlen_sdpa_forward)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, sdpa_mask)  # the fallback still gets SDPA's mask
    model.set_attn_implementation(NAME)


def restore_sdpa_attention(model: Any) -> None:
    """Undo `use_varlen_attention`, so a model saved or handed on names plain SDPA."""
    if getattr(model.config, "_attn_implementation", None) == NAME:
        model.set_attn_implementation("sdpa")
