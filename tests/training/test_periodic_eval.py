"""`sft.eval_steps`: the eval loss measured during training too, a real curve in the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smolora_recipes.core.errors import RecipeError
from smolora_recipes.plan.build import build_plan
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.run.executor import execute
from tests.tiny_runs import write_tiny_recipe


def test_eval_loss_every_n_steps_makes_a_curve(tmp_path: Path, tiny_model_dir: Path) -> None:
    recipe = write_tiny_recipe(tmp_path, tiny_model_dir)
    lines: list[str] = []
    loaded = load_recipe(recipe, ("sft.eval_steps=2",))
    state = execute(loaded, build_plan(loaded), "test", lines.append)
    assert state.status == "ok", state.error
    train = state.results.train
    history = train.eval_history
    assert [entry["step"] for entry in history] == [0, 2, 4, 6]
    assert history[0]["eval_loss"] == pytest.approx(train.eval_loss_before, abs=1e-5)
    assert history[-1]["eval_loss"] == pytest.approx(train.eval_loss_after, abs=1e-5)
    assert [line.split("] ", 1)[1] for line in lines if "eval loss" in line and "/6" in line] == [
        f"train: step {step}/6 eval loss {entry['eval_loss']:.4f}"
        for step, entry in zip((2, 4), history[1:3], strict=True)
    ]
    logged = [json.loads(line) for line in (state.run_dir / "train_log.jsonl").open()]
    assert [entry["step"] for entry in logged if "eval_loss" in entry] == [0, 2, 4, 6]
    assert all("loss" in entry for entry in logged if "eval_loss" not in entry)
    html = (state.run_dir / "report.html").read_text()
    assert "eval loss" in html


def test_default_is_before_and_after_only(tiny_run: object) -> None:
    history = tiny_run.results.train.eval_history  # type: ignore[attr-defined]
    assert [entry["step"] for entry in history] == [0, 6]


def test_eval_steps_need_an_eval_split(minimal: Path) -> None:
    with pytest.raises(RecipeError, match=r"data\.eval_split is 0, so there is no eval split"):
        load_recipe(minimal, ("sft.eval_steps=5", "data.eval_split=0"), env={})


def test_load_best_keeps_the_adapter_with_the_lowest_eval_loss(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    recipe = write_tiny_recipe(tmp_path, tiny_model_dir)
    loaded = load_recipe(recipe, ("sft.eval_steps=2", "sft.load_best=true", "sft.max_steps=8"))
    state = execute(loaded, build_plan(loaded), "test", lambda line: None)
    assert state.status == "ok", state.error
    train = state.results.train
    during = {entry["step"]: entry["eval_loss"] for entry in train.eval_history if entry["step"]}
    best = min(during, key=during.__getitem__)
    assert best != 8, "this recipe's eval loss rises at the end, so the best is not the last"
    assert (train.best_step, train.best_eval_loss) == (best, during[best])
    assert train.eval_loss_after == pytest.approx(during[best], abs=1e-5)
    assert f"step {best} (eval loss" in (state.run_dir / "report.md").read_text()


def test_load_best_needs_eval_steps(minimal: Path) -> None:
    with pytest.raises(RecipeError, match=r"sft\.eval_steps is empty, so there is none"):
        load_recipe(minimal, ("sft.load_best=true",), env={})
