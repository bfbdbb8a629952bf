"""Step `merge`: fold the adapter into the base weights and prove the merge is faithful.

The merged model's logits must match the adapter model's (max abs difference within
`merge.tolerance`) and must differ from the base model's, on a few held-out inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smolora_recipes.data.splits import load_split, load_training_rows
from smolora_recipes.errors import SmoloraError
from smolora_recipes.runtime import load_model, materialize_weights
from smolora_recipes.steps.context import StepContext

OUTPUT = "merged"
VERIFY_ROWS = 2  # every merged weight moves every logit: two short rows suffice
VERIFY_TOKENS = 64


class MergeVerificationError(SmoloraError):
    """The merged model does not reproduce the adapter model."""


def run(ctx: StepContext) -> dict[str, Any]:
    """Merge, verify, and save a plain transformers model folder."""
    import torch
    from peft import PeftModel

    recipe, runtime, folder = ctx.recipe, ctx.runtime(), ctx.model_folder()
    trust = recipe.model.trust_remote_code
    tokenizer = ctx.tokenizer()
    base = materialize_weights(load_model(folder, runtime, trust))
    tuned = PeftModel.from_pretrained(base, ctx.outputs["train"])
    tuned.eval()
    inputs = verification_inputs(ctx.outputs["dataset"], tokenizer).to(runtime.device)
    with torch.no_grad():
        adapter_logits = tuned(input_ids=inputs).logits.float()
        with tuned.disable_adapter():
            base_logits = tuned(input_ids=inputs).logits.float()
        merged = tuned.merge_and_unload()
        merged_logits = merged(input_ids=inputs).logits.float()
    vs_adapter = float((merged_logits - adapter_logits).abs().max())
    vs_base = float((merged_logits - base_logits).abs().max())
    tolerance = recipe.merge.tolerance or (1e-3 if runtime.dtype == "float32" else 5e-2)
    result = {
        "enabled": True,
        "verified": None,
        "max_abs_diff_vs_adapter": vs_adapter,
        "max_abs_diff_vs_base": vs_base,
        "tolerance": tolerance,
    }
    if recipe.merge.verify:
        check_merge(vs_adapter, vs_base, tolerance)
        result["verified"] = True
        ctx.log(
            f"merge verified: |merged - adapter| {vs_adapter:.2e}, |merged - base| {vs_base:.2e}"
        )
    merged.save_pretrained(ctx.output)
    tokenizer.save_pretrained(ctx.output)
    return result


def check_merge(vs_adapter: float, vs_base: float, tolerance: float) -> None:
    """Raise MergeVerificationError unless merged == adapter and merged != base (in logits)."""
    if not vs_adapter <= tolerance:  # also catches NaN
        raise MergeVerificationError(
            f"merge verification failed: merged logits differ from the adapter model's by "
            f"{vs_adapter:.3g} (> merge.tolerance {tolerance:g}); the merged weights are wrong"
        )
    if not vs_base > tolerance:
        raise MergeVerificationError(
            f"merge verification failed: merged logits equal the base model's (max diff "
            f"{vs_base:.3g}); the adapter had no effect, so training did not change the model"
        )


def verification_inputs(dataset_dir: Path, tokenizer: Any) -> Any:
    """A small right-padded batch of eval (else train) token ids, truncated for speed."""
    import torch

    rows = load_split(dataset_dir, "eval")
    if rows is None:
        rows = load_training_rows(dataset_dir)
    sequences = [list(ids[:VERIFY_TOKENS]) for ids in rows[:VERIFY_ROWS]["input_ids"]]
    width = min(len(s) for s in sequences)  # equal lengths: no padding, so every logit counts
    return torch.tensor([s[:width] for s in sequences])
