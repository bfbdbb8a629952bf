"""Frozen base weights held at the matmul precision for training, and the exact weights back for
merging.

With float32 weights under bfloat16 autocast (this project's CPU default), every forward casts
each frozen linear weight to bfloat16 and keeps the copy for the backward pass, while the
float32 weights stay mapped from the checkpoint. Holding the frozen linear weights in bfloat16
once removes both; embeddings, norms and the LM head stay float32, so the residual stream keeps
its precision, and the LoRA weights stay float32 (peft upcasts them). Merging into bfloat16
weights is what failed the merge check before (bench/NOTES.md), so the merge first restores
the checkpoint's weights: the merge is float32 and exact.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any


def hold_frozen_linears_in(model: Any, dtype: Any, keep: Collection[str] = ()) -> int:
    """Cast the weights of `model`'s linear layers to `dtype`, except the output embeddings and
    modules named in `keep` (trained whole, `lora.modules_to_save`); copy every other weight
    into private memory, so nothing holds the checkpoint's memory map any more. Returns how
    many layers were cast."""
    import torch

    head = model.get_output_embeddings()
    cast = 0
    with torch.no_grad():
        for name, module in model.named_modules():
            if (
                type(module) is torch.nn.Linear
                and module is not head
                and name.rsplit(".", 1)[-1] not in keep
            ):
                module.weight = torch.nn.Parameter(module.weight.to(dtype), requires_grad=False)
                cast += 1
        for tensor in (*model.parameters(), *model.buffers()):  # tied weights stay tied
            if tensor.dtype != dtype:
                tensor.data = tensor.data.clone()
    return cast


def restore_checkpoint_weights(model: Any, base: Any) -> int:
    """Give `model` (possibly wrapped by peft) the linear weights of `base`, the same
    architecture loaded from the same checkpoint, wherever `model` holds them in another dtype
    (after `hold_frozen_linears_in`). Returns how many layers were restored."""
    import torch

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    restored = 0
    for name, original in base.named_modules():
        if type(original) is not torch.nn.Linear:
            continue
        target = inner.get_submodule(name)
        target = getattr(target, "base_layer", target)  # a LoRA-wrapped layer's own weights
        if target.weight.dtype != original.weight.dtype:
            target.weight = original.weight
            restored += 1
    return restored
