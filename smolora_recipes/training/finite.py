"""Training stops at the first non-finite loss or gradient, naming the optimizer step, instead
of logging NaN as 0 and caching an adapter full of NaN."""

from __future__ import annotations

import math
from typing import Any

from transformers import TrainerCallback

HINT = (
    "lower `sft.learning_rate` (or raise `sft.warmup_steps`); check the base model's weights "
    "(a damaged file gives NaN from the first step: `smolora run --force load`) and the data"
)


class NonFiniteTraining(RuntimeError):
    """Training produced a NaN or infinite loss, gradient norm or eval loss."""

    def __init__(self, what: str, value: float, step: int) -> None:
        super().__init__(f"{what} is {value} at optimizer step {step}; nothing was saved. {HINT}")


def check_loss(loss: Any, step: int) -> None:
    """Raise NonFiniteTraining when a training loss (a tensor) is NaN or infinite."""
    value = float(loss.detach())
    if not math.isfinite(value):
        raise NonFiniteTraining("the training loss", value, step)


def check_eval_loss(loss: float, when: str, step: int) -> None:
    """Raise NonFiniteTraining when the eval loss measured `when` training is not finite."""
    if not math.isfinite(loss):
        raise NonFiniteTraining(f"the eval loss {when} training", loss, step)


class StopOnNonFiniteGradients(TrainerCallback):
    """Before each optimizer step, fail when the accumulated gradients' norm is not finite.

    Not used with float16 mixed precision, where the loss scaler skips such steps by design.
    """

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Check the trainable parameters' gradients (one sum of norms, one device sync)."""
        import torch

        grads = [p.grad for p in kwargs["model"].parameters() if p.grad is not None]
        if not grads:
            return
        norms = [torch.linalg.vector_norm(grad.detach().float()) for grad in grads]
        norm = float(torch.stack(norms).sum())
        if not math.isfinite(norm):
            raise NonFiniteTraining("the gradient norm", norm, state.global_step + 1)
