"""The merged weights are saved in the base model's published dtype (or `merge.dtype`), and the
merge verification checks that the rounding kept the fine-tune."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors import safe_open

from smolora_recipes.models.model_files import published_dtype
from smolora_recipes.report.rows import merge_line
from smolora_recipes.steps.merge import MergeVerificationError, check_rounding
from tests.tiny_runs import run_recipe, write_tiny_recipe


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"dtype": "bfloat16"}, "bfloat16"),
        ({"torch_dtype": "float16"}, "float16"),  # as transformers 4 wrote it
        ({"dtype": "int8"}, "float32"),
        ({}, "float32"),
        ([], "float32"),
    ],
)
def test_the_published_dtype_is_read_from_the_config(
    tmp_path: Path, config: object, expected: str
) -> None:
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert published_dtype(tmp_path) == expected
    assert published_dtype(tmp_path / "missing") == "float32"


def saved_dtypes(folder: Path) -> set[str]:
    with safe_open(folder / "model.safetensors", "pt") as weights:
        return {str(weights.get_slice(name).get_dtype()) for name in weights.keys()}  # noqa: SIM118 (not a dict)


def test_a_bfloat16_merge_is_saved_rounded_and_sampled_as_saved(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    recipe = write_tiny_recipe(tmp_path, tiny_model_dir, merge="merge: {dtype: bfloat16}\n")
    state = run_recipe(recipe)
    assert state.status == "ok", state.error
    merge = state.results.merge
    assert merge.dtype == "bfloat16" and merge.verified
    assert 0 < merge.max_abs_diff_of_rounding < merge.max_abs_diff_vs_base
    assert saved_dtypes(state.run_dir / "merged") == {"BF16"}
    assert "saved in bfloat16, rounding moved logits" in merge_line(merge.to_json())

    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(state.run_dir / "merged", dtype="auto")
    assert model.dtype == torch.bfloat16


def test_auto_keeps_a_float32_base_in_float32(tiny_run: object) -> None:
    merge = tiny_run.results.merge  # type: ignore[attr-defined]
    assert merge.dtype == "float32" and merge.max_abs_diff_of_rounding is None
    assert saved_dtypes(tiny_run.run_dir / "merged") == {"F32"}  # type: ignore[attr-defined]


def test_rounding_as_far_as_the_base_fails_the_merge() -> None:
    check_rounding("float16", 0.5, 0.6)
    with pytest.raises(MergeVerificationError, match="does not survive float16"):
        check_rounding("float16", 0.6, 0.6)
    with pytest.raises(MergeVerificationError):
        check_rounding("float16", float("nan"), 1.0)
