"""Training never hides a NaN: a damaged base model or a blown-up loss fails the train step at
once, naming the optimizer step, with nothing cached; a run whose eval loss rose is flagged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from smolora_recipes.plan.build import build_plan
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.run.executor import execute
from smolora_recipes.run.state import RunOptions
from smolora_recipes.store.cache import StepCache
from smolora_recipes.training import result as train_result
from smolora_recipes.training.finite import HINT, NonFiniteTraining, StopOnNonFiniteGradients
from smolora_recipes.training.result import TrainResult
from tests.tiny_runs import run_recipe, write_tiny_recipe


@pytest.fixture(scope="module")
def nan_model(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with one weight matrix full of NaN (as a damaged file gives)."""
    from safetensors.torch import load_file, save_file

    folder = tmp_path_factory.mktemp("nan-model") / "model"
    shutil.copytree(tiny_model_dir, folder)
    weights = load_file(folder / "model.safetensors")
    weights["model.layers.0.mlp.down_proj.weight"].fill_(float("nan"))
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


@pytest.mark.parametrize(
    ("data", "failure"),
    [
        ("", "the eval loss before training is nan at optimizer step 0"),
        ("  eval_split: 0.0\n", "the training loss is nan at optimizer step 1"),
    ],
)
def test_a_nan_base_model_fails_training_at_once_and_caches_nothing(
    tmp_path: Path, nan_model: Path, data: str, failure: str
) -> None:
    sources = "data:\n  sources: [{type: jsonl, path: data/train.jsonl}]\n  format: chat\n"
    recipe = write_tiny_recipe(tmp_path, nan_model, data=sources + (data or "  eval_split: 0.25\n"))
    loaded = load_recipe(recipe)
    cache = StepCache(tmp_path / "cache")
    state = execute(loaded, build_plan(loaded), "test", print, RunOptions(cache=cache))
    assert state.status == "failed" and state.exit_code == 1
    assert state.error is not None and state.error["step"] == "train"
    assert state.error["message"] == f"{failure}; nothing was saved. {HINT}"
    assert not (state.run_dir / "adapter").exists()
    log = (state.run_dir / "run.log").read_text()
    assert "loss 0.0000" not in log and "loss nan" not in log
    assert [entry.step for entry in cache.entries()] == ["dataset", "load"]  # no NaN adapter


def test_a_non_finite_gradient_stops_before_the_optimizer_step() -> None:
    import torch

    layer = torch.nn.Linear(2, 2)
    layer.weight.grad = torch.tensor([[1.0, float("inf")], [0.0, 0.0]])
    state = SimpleNamespace(global_step=6)
    with pytest.raises(NonFiniteTraining, match=r"^the gradient norm is inf at optimizer step 7;"):
        StopOnNonFiniteGradients().on_pre_optimizer_step(None, state, None, model=layer)
    layer.weight.grad = torch.ones(2, 2)
    StopOnNonFiniteGradients().on_pre_optimizer_step(None, state, None, model=layer)


@pytest.mark.parametrize(
    ("before", "after", "flagged"),
    [
        (2.87, 18.0, True),
        (2.87, 3.5, False),
        (2.87, 3.6, True),
        (2.87, 1.0, False),
        (None, 9, False),
    ],
)
def test_an_eval_loss_that_rose_markedly_is_flagged(
    before: float | None, after: float, flagged: bool
) -> None:
    warnings = TrainResult(eval_loss_before=before, eval_loss_after=after).warnings()
    assert bool(warnings) == flagged
    if flagged:
        assert warnings[0].startswith(
            f"eval loss rose during training ({before:.4f} -> {after:.4f})"
        )


def test_a_diverged_run_ends_with_a_warning_in_the_report(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(train_result, "DIVERGED", 0.5)  # any run of the tiny model "diverges"
    state = run_recipe(write_tiny_recipe(tmp_path, tiny_model_dir))
    assert state.status == "ok"
    report = json.loads((state.run_dir / "report.json").read_text())
    assert [w.split(" (")[0] for w in report["warnings"]] == ["eval loss rose during training"]
    assert "eval loss rose during training" in (state.run_dir / "report.md").read_text()
    assert "] train: WARNING: eval loss rose" in (state.run_dir / "run.log").read_text()
