"""Frozen linear weights held in bf16 for training, and the checkpoint's weights restored
before merging, so the merge is float32 and exact."""

from __future__ import annotations

from pathlib import Path

import torch

from smolora_recipes.models.frozen_weights import hold_frozen_linears_in, restore_checkpoint_weights
from smolora_recipes.models.runtime import Runtime, load_model

CPU_FP32 = Runtime("cpu", "float32", None)


def _linears(model: torch.nn.Module) -> dict[str, torch.nn.Linear]:
    return {n: m for n, m in model.named_modules() if type(m) is torch.nn.Linear}


def test_only_frozen_linears_are_held_in_bf16(tiny_model_dir: Path) -> None:
    model = load_model(tiny_model_dir, CPU_FP32, False)
    cast = hold_frozen_linears_in(model, torch.bfloat16, keep=("o_proj",))
    dtypes = {name: module.weight.dtype for name, module in _linears(model).items()}
    assert dtypes["lm_head"] == torch.float32  # the output embeddings stay exact
    assert dtypes["model.layers.0.self_attn.q_proj"] == torch.bfloat16
    assert dtypes["model.layers.0.self_attn.o_proj"] == torch.float32  # kept: trained whole
    assert cast == sum(dtype == torch.bfloat16 for dtype in dtypes.values()) > 0
    assert model.get_input_embeddings().weight.dtype == torch.float32
    assert model.lm_head.weight is model.get_input_embeddings().weight  # still tied


def test_restore_gives_a_lora_model_the_checkpoints_weights(tiny_model_dir: Path) -> None:
    from peft import LoraConfig, get_peft_model

    model = load_model(tiny_model_dir, CPU_FP32, False)
    hold_frozen_linears_in(model, torch.bfloat16)
    tuned = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    assert {p.dtype for p in tuned.parameters() if p.requires_grad} == {torch.float32}
    base = load_model(tiny_model_dir, CPU_FP32, False)
    restored = restore_checkpoint_weights(tuned, base)
    assert restored == len(_linears(base)) - 1  # every linear layer but the untouched head
    inner = tuned.get_base_model()
    for name, original in _linears(base).items():
        layer = inner.get_submodule(name)
        weight = getattr(layer, "base_layer", layer).weight
        assert weight.dtype == torch.float32 and torch.equal(weight, original.weight)
    assert restore_checkpoint_weights(tuned, base) == 0  # nothing left to restore
