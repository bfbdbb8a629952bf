"""The causal LM training loss computed from the last hidden states, chunk by chunk, without the
logits tensor (tokens x vocabulary) that the model's own forward builds.

A padding-free row of 4 documents holds ~3,000 tokens; with SmolLM2's 49,152-token vocabulary
its logits take 600 MB in float32, written, read and copied several times per step. Here each
chunk of rows gets its logits, loss and logit gradient at once (softmax minus one-hot), the
gradient is folded back through the LM head into a hidden-state gradient, and the chunk's logits
are dropped: the backward pass only scales the stored hidden-state gradient. The value equals
transformers' `ForCausalLMLoss` (the same matmul in the same dtype, float32 softmax); the LM
head must be frozen (LoRA), since its weight gets no gradient here. Measured in bench/NOTES.md.
"""

from __future__ import annotations

import functools
from typing import Any

IGNORE_INDEX = -100
CHUNK_BYTES = 64 << 20  # float32 logits per chunk of rows
# causal LMs whose forward is decoder -> plain linear LM head -> ForCausalLMLoss (no logit
# scaling or soft-capping, no auxiliary losses)
PLAIN_HEAD_MODELS = frozenset(
    {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"}
)


def fused_loss_applies(model: Any) -> bool:
    """Whether `causal_lm_loss` computes this (possibly peft-wrapped) model's loss: a known
    plain-head architecture whose LM head is a frozen, bias-free linear layer."""
    import torch

    causal_lm = _causal_lm(model)
    kind = type(causal_lm)
    if kind.__name__ not in PLAIN_HEAD_MODELS or not kind.__module__.startswith(
        "transformers.models."
    ):  # not one of transformers' own (remote code may reuse a name)
        return False
    head = causal_lm.get_output_embeddings()
    return type(head) is torch.nn.Linear and head.bias is None and not head.weight.requires_grad


# batch keys the decoder does not take: the targets, and the flag Trainer adds when Liger runs
NOT_MODEL_INPUTS = ("labels", "shift_labels", "skip_logits")


def causal_lm_loss(model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> Any:
    """The model's training loss for a batch with `labels` (or `shift_labels`), as its forward
    would return it: summed over predicted tokens and divided by `num_items_in_batch`, or their
    mean when that is None."""
    import torch

    causal_lm = _causal_lm(model)
    model_inputs = {key: value for key, value in inputs.items() if key not in NOT_MODEL_INPUTS}
    hidden = causal_lm.get_decoder()(**model_inputs, use_cache=False).last_hidden_state
    targets = inputs.get("shift_labels")
    if targets is None:
        labels = torch.nn.functional.pad(inputs["labels"], (0, 1), value=IGNORE_INDEX)
        targets = labels[..., 1:]
    targets = targets.reshape(-1).to(hidden.device)
    if num_items_in_batch is None:
        divisor = (targets != IGNORE_INDEX).sum()
    else:
        divisor = torch.as_tensor(num_items_in_batch, device=hidden.device)
    weight = causal_lm.get_output_embeddings().weight
    device = hidden.device.type
    dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else weight.dtype
    hidden = hidden.reshape(-1, hidden.shape[-1])
    if not (torch.is_grad_enabled() and hidden.requires_grad):  # evaluation: the loss alone
        return _chunked_loss(hidden, weight, targets, dtype, with_grads=False)[0] / divisor
    return _linear_cross_entropy()(hidden, weight, targets, divisor, dtype)


def _causal_lm(model: Any) -> Any:
    """The transformers model inside peft's wrappers."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _chunked_loss(
    hidden: Any, weight: Any, targets: Any, dtype: Any, with_grads: bool
) -> tuple[Any, Any]:
    """The summed cross-entropy of `hidden @ weight.T` against `targets` (rows whose target is
    IGNORE_INDEX left out), computed in `dtype` chunk by chunk, and, `with_grads`, its gradient
    with respect to `hidden` (else None)."""
    import torch

    with torch.no_grad(), torch.autocast(hidden.device.type, enabled=False):
        rows = (targets != IGNORE_INDEX).nonzero().squeeze(1)
        inputs = hidden.index_select(0, rows).to(dtype)
        wanted = targets.index_select(0, rows)
        head = weight.to(dtype)
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        input_grads = torch.empty_like(inputs) if with_grads else None
        chunk = max(1, CHUNK_BYTES // (4 * head.shape[0]))
        for start in range(0, len(rows), chunk):
            logits = (inputs[start : start + chunk] @ head.T).float()
            chosen = wanted[start : start + chunk]
            norm = torch.logsumexp(logits, dim=-1)
            total += (norm - logits.gather(1, chosen[:, None]).squeeze(1)).sum()
            if input_grads is not None:
                probabilities = logits.sub_(norm[:, None]).exp_()  # in place: no new copy
                probabilities[torch.arange(len(chosen)), chosen] -= 1.0
                input_grads[start : start + chunk] = probabilities.to(dtype) @ head
        if input_grads is None:
            return total, None
        grads = torch.zeros_like(hidden)
        grads.index_copy_(0, rows, input_grads.to(hidden.dtype))
    return total, grads


@functools.cache
def _linear_cross_entropy() -> Any:
    """The autograd function (built on first use, so that importing this module needs no torch)."""
    import torch

    class LinearCrossEntropy(torch.autograd.Function):
        """sum over rows of cross_entropy(hidden @ weight.T, targets) / divisor; the hidden-state
        gradient is computed in the forward pass, chunk by chunk."""

        @staticmethod
        def forward(  # type: ignore[override]
            ctx: Any, hidden: Any, weight: Any, targets: Any, divisor: Any, dtype: Any
        ) -> Any:
            """The loss, keeping its hidden-state gradient for the backward pass."""
            total, grads = _chunked_loss(hidden, weight, targets, dtype, with_grads=True)
            ctx.save_for_backward(grads, divisor)
            return total / divisor

        @staticmethod
        def backward(ctx: Any, upstream: Any) -> Any:  # type: ignore[override]
            """The saved gradient scaled by the upstream one (none for the other inputs)."""
            grads, divisor = ctx.saved_tensors
            return grads * (upstream / divisor).to(grads.dtype), None, None, None, None

    return LinearCrossEntropy.apply
