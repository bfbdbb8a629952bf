"""Runs that differ from the happy path: failures, a broken merge, no merge, text format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smolora_recipes.steps import merge as merge_step
from smolora_recipes.steps.merge import MergeVerificationError, check_merge
from tests.tiny_runs import run_recipe, tiny_recipe, write_tiny_recipe


@pytest.fixture
def recipe_dir(tmp_path: Path, tiny_model_dir: Path) -> Path:
    return write_tiny_recipe(tmp_path, tiny_model_dir).parent


def report_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "report.json").read_text())


def test_a_failing_step_leaves_a_failed_report_and_no_complete_looking_output(
    recipe_dir: Path,
) -> None:
    (recipe_dir / "data/train.jsonl").write_text('{"text": "no messages here"}\n' * 4)
    state = run_recipe(recipe_dir / "recipe.yaml")
    assert state.status == "failed" and state.exit_code == 2  # bad data is user input
    report = report_of(state.run_dir)
    assert report["status"] == "failed"
    assert report["error"]["step"] == "dataset"
    assert "messages" in report["error"]["message"]
    assert report["error"]["log"].endswith("run.log")
    statuses = {s["name"]: s["status"] for s in report["steps"]}
    assert statuses == {
        "load": "ok",
        "dataset": "failed",
        "train": "not run",
        "merge": "not run",
        "sample": "not run",
        "eval": "skipped",
        "export": "skipped",
        "report": "ok",
    }
    names = {p.name for p in state.run_dir.iterdir()}
    assert not names & {"dataset", "adapter", "merged", "samples.jsonl"}
    assert not [n for n in names if n.startswith(".")]
    assert "failed" in (state.run_dir / "report.md").read_text().lower()


def test_a_deliberately_broken_merge_is_caught(
    recipe_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from peft.tuners.lora import LoraModel

    real = LoraModel.merge_and_unload

    def corrupt(self: LoraModel, *args: object, **kwargs: object) -> object:
        merged = real(self, *args, **kwargs)
        weight = merged.model.layers[0].self_attn.q_proj.weight
        weight.data += 0.5  # what a wrong scaling or a dropped adapter would look like
        return merged

    monkeypatch.setattr(LoraModel, "merge_and_unload", corrupt)
    state = run_recipe(recipe_dir / "recipe.yaml")
    assert state.status == "failed" and state.exit_code == 1
    report = report_of(state.run_dir)
    assert report["error"]["step"] == "merge"
    assert report["error"]["type"] == "MergeVerificationError"
    assert "differ from the adapter model" in report["error"]["message"]
    assert not (state.run_dir / "merged").exists()


def test_a_saved_adapter_that_differs_from_the_trained_one_is_caught(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    tuned = get_peft_model(
        model, LoraConfig(r=2, target_modules=["q_proj"], init_lora_weights=False)
    )
    tuned.save_pretrained(tmp_path)
    merge_step.check_saved_adapter(tuned, tmp_path)  # equal: passes
    with torch.no_grad():
        next(p for n, p in tuned.named_parameters() if "lora_B" in n).add_(1.0)
    with pytest.raises(MergeVerificationError, match="differs from the trained model in 1 tensors"):
        merge_step.check_saved_adapter(tuned, tmp_path)


def test_check_merge_rules() -> None:
    check_merge(1e-5, 0.3, 1e-3)
    with pytest.raises(MergeVerificationError, match="differ from the adapter"):
        check_merge(0.1, 0.3, 1e-3)
    with pytest.raises(MergeVerificationError, match="differ from the adapter"):
        check_merge(float("nan"), 0.3, 1e-3)
    with pytest.raises(MergeVerificationError, match="no effect"):
        check_merge(0.0, 1e-6, 1e-3)


def test_without_merge_samples_and_generate_use_the_adapter(recipe_dir: Path) -> None:
    from smolora_recipes.inference.finished_run import open_finished_run

    state = run_recipe(
        recipe_dir / "recipe.yaml", "merge.enabled=false", "samples.compare_base=false"
    )
    assert state.status == "ok", state.error
    report = report_of(state.run_dir)
    statuses = {s["name"]: s["status"] for s in report["steps"]}
    assert statuses["merge"] == "skipped"
    assert report["merge"] == {"enabled": False}
    assert not (state.run_dir / "merged").exists()
    assert all(item["base"] is None for item in report["samples"]["items"])
    assert open_finished_run(state.run_dir).source == "base + adapter"


def test_text_format_run(recipe_dir: Path, tiny_model_dir: Path) -> None:
    lines = [
        json.dumps({"text": f"the quick brown fox {i} jumps over the lazy dog"}) for i in range(8)
    ]
    (recipe_dir / "data/text.jsonl").write_text("\n".join(lines) + "\n")
    data = "data:\n  sources: [{type: jsonl, path: data/text.jsonl}]\n  eval_split: 0.25\n"
    (recipe_dir / "text.yaml").write_text(tiny_recipe(tiny_model_dir, data=data))
    state = run_recipe(recipe_dir / "text.yaml")
    assert state.status == "ok", state.error
    assert state.results.dataset.loss_token_share == 1.0
