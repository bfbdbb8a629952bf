"""The eval step: lm-evaluation-harness scores for the base and the tuned model from a local
task file, the base scores remembered, and a gate that fails the run but keeps the numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smolora_recipes.core.errors import UserInputError
from smolora_recipes.plan.build import build_plan
from smolora_recipes.plan.environment_check import Machine, environment_problems
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.run.executor import execute
from smolora_recipes.run.state import RunOptions, RunState
from smolora_recipes.steps.eval import table, verdict
from smolora_recipes.steps.results import EvalResult, EvalScore
from smolora_recipes.store.cache import StepCache
from tests.tiny_runs import write_task, write_tiny_recipe

EVAL = "eval:\n  tasks: [tasks/facts.yaml]\n  batch_size: 4\n"


def run(recipe: Path, *overrides: str) -> tuple[RunState, list[str]]:
    lines: list[str] = []
    loaded = load_recipe(recipe, overrides)
    cache = StepCache(recipe.parent / "cache")
    return execute(loaded, build_plan(loaded), "test", lines.append, RunOptions(cache=cache)), lines


@pytest.fixture
def recipe(tmp_path: Path, tiny_model_dir: Path) -> Path:
    write_task(tmp_path)
    return write_tiny_recipe(tmp_path, tiny_model_dir, eval=EVAL)


def test_both_models_are_scored_and_the_base_scores_remembered(recipe: Path) -> None:
    first, lines = run(recipe)
    assert first.status == "ok", first.error
    (score,) = first.results.eval.scores
    assert (score.task, score.metric, score.higher_is_better) == ("tiny_facts", "acc", True)
    assert 0 <= score.base <= 1 and 0 <= score.tuned <= 1 and score.tuned_stderr is not None
    saved = json.loads((first.run_dir / "eval.json").read_text())
    assert saved["scores"][0]["tuned"] == score.tuned
    report = json.loads((first.run_dir / "report.json").read_text())
    assert report["eval"]["scores"][0]["base"] == score.base
    assert "## Evaluation" in (first.run_dir / "report.md").read_text()
    assert not [line for line in lines if "base scores: reused" in line]
    retrained, lines = run(recipe, "lora.r=8")
    assert retrained.status == "ok"
    assert [line for line in lines if "eval: base scores: reused" in line]
    assert retrained.results.eval.scores[0].base == score.base


def test_a_gate_fails_the_run_keeps_the_scores_and_is_judged_again_from_the_cache(
    recipe: Path,
) -> None:
    strict = "eval.gate.tuned_min={tiny_facts/acc: 1.01}"
    failed, lines = run(recipe, strict)
    assert failed.status == "failed" and failed.exit_code == 1
    assert failed.error["step"] == "eval" and failed.error["type"] == "GateFailed"
    message = failed.error["message"]
    assert (
        message.startswith("eval gate: tiny_facts/acc is") and "below the minimum 1.01" in message
    )
    assert any(line.endswith(f"eval: failed: {message}") for line in lines)
    report = json.loads((failed.run_dir / "report.json").read_text())
    assert report["status"] == "failed" and report["eval"]["scores"]
    assert (failed.run_dir / "eval.json").is_file() and (failed.run_dir / "merged").is_dir()
    passed, _ = run(recipe)  # the gate is not in the fingerprint: the scores are reused
    assert passed.status == "ok"
    outcome = {record.name: record.outcome for record in passed.records}["eval"]
    assert outcome.startswith("cached")


def test_the_gate_rules() -> None:
    result = EvalResult(
        [
            EvalScore("mc", "acc", True, base=0.70, tuned=0.95),
            EvalScore("general", "acc", True, base=0.80, tuned=0.70),
            EvalScore("lm", "perplexity", False, base=10.0, tuned=10.5),
        ],
        1.0,
    )

    def judged(**gate: object) -> str | None:
        recipe = load_recipe_with_gate(gate)
        return verdict(result, recipe)

    assert judged() is None
    assert judged(tuned_min={"mc/acc": 0.9}) is None
    assert "mc/acc is 0.950, 0.050 below the minimum 1" in judged(tuned_min={"mc/acc": 1.0})
    assert "no tuned score (scored: mc/acc" in judged(tuned_min={"nope/acc": 0.1})
    missed = judged(max_regression=0.05)
    assert "general/acc fell from 0.800 to 0.700 (-0.100" in missed
    assert "lm/perplexity fell from 10.000 to 10.500 (-0.500" in missed  # lower is better
    assert "mc/acc" not in missed
    assert judged(max_regression=0.6) is None


def load_recipe_with_gate(gate: dict[str, object]) -> object:
    from smolora_recipes.recipe.schema import Recipe

    data = {"name": "g", "data": {"sources": [{"type": "jsonl", "path": "x.jsonl"}]}}
    return Recipe.model_validate({**data, "eval": {"gate": gate}})


def test_table_puts_base_and_tuned_side_by_side() -> None:
    measured = {"value": 0.5, "stderr": 0.1, "higher_is_better": True}
    rows = table(
        {"base": {"t": {"acc": measured}}, "tuned": {"t": {"acc": {**measured, "value": 0.9}}}}
    )
    assert rows == [EvalScore("t", "acc", True, 0.5, 0.1, 0.9, 0.1)]


def test_plan_refuses_a_task_file_it_cannot_read_and_a_machine_without_lm_eval(
    recipe: Path,
) -> None:
    loaded = load_recipe(recipe)
    without = Machine(cuda_devices=0, has_module=lambda name: name != "lm_eval")
    (problem,) = environment_problems(loaded, without)
    assert "lm-eval" in problem.render() and "smolora-recipes[eval]" in problem.render()
    (recipe.parent / "tasks/facts.jsonl").unlink()
    with pytest.raises(UserInputError) as caught:
        build_plan(load_recipe(recipe))
    text = caught.value.render()
    assert "facts.yaml" in text and "facts.jsonl is not a file beside the task file" in text
    (recipe.parent / "tasks/facts.yaml").write_text("- not a task\n")
    with pytest.raises(UserInputError, match="a mapping with a `task` name"):
        build_plan(load_recipe(recipe))


@pytest.mark.parametrize(("name", "questions"), [("zembria_mc", 24), ("general_mc", 20)])
def test_the_shipped_tasks_read_offline_with_their_data_beside_them(
    name: str, questions: int
) -> None:
    from smolora_recipes.recipe.eval_section import task_config
    from tests.conftest import REPO_ROOT

    config = task_config(REPO_ROOT / "recipes/eval" / f"{name}.yaml")
    assert config["task"] == name and config["dataset_path"] == "json"
    data = Path(config["dataset_kwargs"]["data_files"]["test"])
    assert data.is_absolute() and len(data.read_text().splitlines()) == questions
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    assert all(0 <= row["answer"] < len(row["choices"]) == 4 for row in rows)


def test_damaged_remembered_base_scores_are_not_used() -> None:
    from smolora_recipes.steps.eval import well_formed

    good = {"t": {"acc": {"value": 0.5, "stderr": None, "higher_is_better": True}}}
    assert well_formed(good)
    for damaged in (None, [], {"t": []}, {"t": {"acc": 0.5}}, {"t": {"acc": {"value": "x"}}}):
        assert not well_formed(damaged)


def test_without_a_merge_the_base_and_adapter_are_scored(recipe: Path) -> None:
    state, _ = run(recipe, "merge.enabled=false", "eval.models=[tuned]")
    assert state.status == "ok", state.error
    (score,) = state.results.eval.scores
    assert score.base is None and 0 <= score.tuned <= 1
