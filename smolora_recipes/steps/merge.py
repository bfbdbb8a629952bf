"""Step `merge`: fold the adapter into the base weights and prove the merge is faithful.

The merged model's logits must match the adapter model's (max abs difference within
`merge.tolerance`) and must differ from the base model's, on a few held-out inputs. When the
train step ran in this process, its model is merged directly (after checking that the adapter
saved on disk holds the same weights); otherwise base and adapter are loaded from disk. The
merged model is saved in `merge.dtype` (by default the base model's published dtype): when
that rounds the weights, the rounded model must still be closer to the merged model than the
base is. It is written around the page cache and handed to the sample step in memory, holding
the saved values, so the samples are the answers of the weights on disk.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from smolora_recipes.core.errors import SmoloraError
from smolora_recipes.data.splits import load_split, load_training_rows
from smolora_recipes.models.frozen_weights import restore_checkpoint_weights
from smolora_recipes.models.model_files import published_dtype
from smolora_recipes.models.runtime import load_model, materialize_weights
from smolora_recipes.recipe.builtin_models import BUILTIN_MODELS
from smolora_recipes.steps.context import StepContext
from smolora_recipes.steps.results import MergeResult
from smolora_recipes.store.direct_io import weights_written_directly

OUTPUT = "merged"
VERIFY_ROWS = 1  # every merged weight moves every logit: one short row suffices
VERIFY_TOKENS = 16
BASE_ROWS = "__base__"  # peft's name for "no adapter" in a batch of mixed adapters


class MergeVerificationError(SmoloraError):
    """The merged model does not reproduce the adapter model."""


def run(ctx: StepContext) -> MergeResult:
    """Merge, verify, and save a plain transformers model folder."""
    import torch

    recipe, runtime = ctx.recipe, ctx.runtime()
    tokenizer = ctx.tokenizer()
    tuned, source = adapter_model(ctx)
    inputs = verification_inputs(ctx.outputs["dataset"], tokenizer).to(runtime.device)
    adapter_logits, base_logits = adapter_and_base_logits(tuned, inputs)
    with torch.no_grad():
        merged = tuned.merge_and_unload()
    dtype = saved_dtype(ctx)
    if dtype == runtime.dtype:
        # written while the check's forward runs (the write mostly waits on the disk); a failed
        # check then fails the step, and the executor removes its folder
        with ThreadPoolExecutor(1, "save-merged") as saver:
            saved = saver.submit(save_merged, merged, tokenizer, ctx.output)
            merged_logits = logits_of(merged, inputs)
            saved.result()
        rounding = None
    else:
        merged_logits = logits_of(merged, inputs)
        save_merged(merged.to(getattr(torch, dtype)), tokenizer, ctx.output)
        merged.to(runtime.torch_dtype)  # the saved values, at the working precision again
        rounded_logits = logits_of(merged, inputs)
        rounding = float((rounded_logits - merged_logits).abs().max())
        rounded_vs_base = float((rounded_logits - base_logits).abs().max())
    vs_adapter = float((merged_logits - adapter_logits).abs().max())
    vs_base = float((merged_logits - base_logits).abs().max())
    tolerance = recipe.merge.tolerance or (1e-3 if runtime.dtype == "float32" else 5e-2)
    result = MergeResult(
        enabled=True,
        adapter_source=source,
        max_abs_diff_vs_adapter=vs_adapter,
        max_abs_diff_vs_base=vs_base,
        tolerance=tolerance,
        dtype=dtype,
        max_abs_diff_of_rounding=rounding,
    )
    if recipe.merge.verify:
        check_merge(vs_adapter, vs_base, tolerance)
        if rounding is not None:
            check_rounding(dtype, rounding, rounded_vs_base)
        result.verified = True
        ctx.log(
            f"merge verified: |merged - adapter| {vs_adapter:.2e}, |merged - base| {vs_base:.2e}"
            + ("" if rounding is None else f"; saved in {dtype}, rounding moved {rounding:.2e}")
        )
    ctx.handoffs.merged_model = merged  # sampling it saves reading the file back
    return result


def saved_dtype(ctx: StepContext) -> str:
    """The dtype the merged weights are saved in: `merge.dtype`, or for `auto` the base
    model's published dtype (a built-in model's upstream's, else its config's)."""
    configured = ctx.recipe.merge.dtype
    if configured != "auto":
        return configured
    builtin = BUILTIN_MODELS.get(ctx.loaded_model.base)
    if ctx.loaded_model.kind == "builtin" and builtin is not None:
        return builtin.dtype
    return published_dtype(ctx.model_folder())


def save_merged(merged: Any, tokenizer: Any, folder: Path) -> None:
    """Save the merged model (weights around the page cache) and its tokenizer to `folder`."""
    with weights_written_directly():
        merged.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def adapter_and_base_logits(tuned: Any, inputs: Any) -> tuple[Any, Any]:
    """Float logits of the adapter model and of its base, from one forward of a batch whose
    first half uses the adapter and second half does not (peft's mixed-adapter batches)."""
    rows = len(inputs)
    names = [tuned.active_adapter] * rows + [BASE_ROWS] * rows
    both = logits_of(tuned, inputs.repeat(2, 1), adapter_names=names)
    return both[:rows], both[rows:]


def logits_of(model: Any, inputs: Any, **kwargs: Any) -> Any:
    """A model's float logits for a batch of token ids, without gradients."""
    import torch

    with torch.no_grad():
        return model(input_ids=inputs, **kwargs).logits.float()


def adapter_model(ctx: StepContext) -> tuple[Any, str]:
    """The adapter model to merge (base weights in private memory, eval mode) and where it came
    from: `memory` (trained in this run) or `disk` (base and adapter loaded)."""
    from peft import PeftModel

    adapter_dir = ctx.outputs["train"]
    tuned, ctx.handoffs.trained_model = ctx.handoffs.trained_model, None
    source, recipe = "memory", ctx.recipe
    if tuned is not None:
        check_saved_adapter(tuned, adapter_dir)
        if ctx.runtime().frozen_dtype:  # training held frozen weights in bfloat16: the
            # merge adds to the checkpoint's own
            base = load_model(ctx.model_folder(), ctx.runtime(), recipe.model.trust_remote_code)
            restore_checkpoint_weights(tuned, base)
    else:
        source = "disk"
        base = load_model(ctx.model_folder(), ctx.runtime(), recipe.model.trust_remote_code)
        tuned = PeftModel.from_pretrained(base, adapter_dir)
    for module in tuned.modules():  # the weights the merge adds to: private copies first
        if hasattr(module, "base_layer"):
            materialize_weights(module.base_layer)
    return tuned.eval(), source


def check_saved_adapter(model: Any, adapter_dir: Path) -> None:
    """Raise MergeVerificationError unless the saved adapter holds the model's adapter weights."""
    import torch
    from peft import get_peft_model_state_dict
    from safetensors.torch import load_file

    saved = load_file(adapter_dir / "adapter_model.safetensors")
    live = get_peft_model_state_dict(model)
    differing = sorted(
        name
        for name in saved.keys() | live.keys()
        if name not in saved
        or name not in live
        or not torch.equal(saved[name], live[name].detach().to("cpu", saved[name].dtype))
    )
    if differing:
        raise MergeVerificationError(
            f"the adapter saved in {adapter_dir} differs from the trained model in "
            f"{len(differing)} tensors (first: {differing[0]}); the saved adapter is not the one "
            "that was trained"
        )


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


def check_rounding(dtype: str, rounding: float, rounded_vs_base: float) -> None:
    """Raise MergeVerificationError unless the weights rounded to `dtype` are closer to the
    merged model than the base model is (in logits): the rounding kept the fine-tune."""
    if not rounding < rounded_vs_base:  # also catches NaN
        raise MergeVerificationError(
            f"merge verification failed: rounding the merged weights to {dtype} moved the "
            f"logits by {rounding:.3g}, as far as the base model is from them "
            f"({rounded_vs_base:.3g}); the fine-tune does not survive {dtype}. Set "
            "`merge.dtype: float32`"
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
