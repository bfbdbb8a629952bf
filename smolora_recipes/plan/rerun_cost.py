"""What re-running a changed recipe costs, in one line: the steps to run and the optimizer
steps training takes (counted from the cached dataset when there is one)."""

from __future__ import annotations

import math

from smolora_recipes.plan.build import Plan
from smolora_recipes.recipe.loader import LoadedRecipe
from smolora_recipes.store.cache import StepCache


def rerun_cost(loaded: LoadedRecipe, plan: Plan, to_run: list[str], cache: StepCache | None) -> str:
    """`4 of 6 steps (train, merge, sample, report); train: 56 optimizer steps (...)`."""
    enabled = [step.name for step in plan.steps if step.enabled]
    if not to_run:
        return f"nothing: all {len(enabled)} steps are unchanged"
    line = f"{len(to_run)} of {len(enabled)} steps ({', '.join(to_run)})"
    if "train" in to_run:
        line += f"; train: {train_steps(loaded, plan, cache)}"
    return line


def train_steps(loaded: LoadedRecipe, plan: Plan, cache: StepCache | None) -> str:
    """How many optimizer steps training takes, and from what that is known."""
    sft = loaded.recipe.sft
    if sft.max_steps is not None:
        return f"{sft.max_steps} optimizer steps (sft.max_steps)"
    dataset = plan.step("dataset")
    entry = cache.lookup("dataset", dataset.fingerprint) if cache else None
    rows = entry.metrics().get("train_rows") if entry else None
    if not rows:
        return "optimizer steps known once the dataset is built (`smolora preview` builds it)"
    epochs = sft.epochs or 1
    per_epoch = math.ceil(math.ceil(rows / sft.batch_size) / sft.grad_accum)
    total = math.ceil(epochs * per_epoch)
    about = "about " if sft.packing else ""  # packing joins examples, so fewer rows
    return (
        f"{about}{total} optimizer steps ({epochs:g} epochs x {per_epoch}; "
        f"{rows} training examples in the cached dataset)"
    )
