"""`eval.registry_tasks`: lm-evaluation-harness's own tasks by name, checked by `plan` (a name it
does not know, a dataset not cached while offline) and handed to the harness by the eval step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smolora_recipes.core.errors import UserInputError
from smolora_recipes.plan import registry_tasks
from smolora_recipes.plan.build import build_plan
from smolora_recipes.plan.environment_check import check_environment
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.run.executor import execute
from smolora_recipes.steps import eval as eval_step
from tests.tiny_runs import write_tiny_recipe


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "is_offline_mode", lambda: True)


def problems_for(recipe: Path, names: str) -> list[str]:
    loaded = load_recipe(recipe, (f"eval.registry_tasks={names}",), env={})
    with pytest.raises(UserInputError) as raised:
        check_environment(loaded)
    return [problem.render() for problem in raised.value.problems]


def test_offline_a_task_whose_dataset_is_not_cached_is_refused(
    minimal: Path, offline: None
) -> None:
    (problem,) = problems_for(minimal, "[hellaswag]")
    assert "eval.registry_tasks: task 'hellaswag' reads Rowan/hellaswag from the" in problem
    assert "not in the local datasets cache, and HF_HUB_OFFLINE forbids" in problem
    assert "dataset_path: json" in problem  # the hint: a local task file instead


def test_an_unknown_task_name_is_refused_with_the_closest_names(minimal: Path) -> None:
    (problem,) = problems_for(minimal, "[hellaswg]")
    assert "lm-evaluation-harness has no task 'hellaswg'" in problem
    assert "did you mean hellaswag" in problem


def test_a_cached_dataset_passes_offline(
    minimal: Path, offline: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[tuple[str, str | None]] = []
    monkeypatch.setattr(
        registry_tasks, "cached", lambda *dataset: looked_up.append(dataset) or True
    )
    loaded = load_recipe(minimal, ("eval.registry_tasks=[arc_easy]",), env={})
    check_environment(loaded)
    assert looked_up == [("allenai/ai2_arc", "ARC-Easy")]


def test_groups_and_tags_stand_for_the_datasets_of_their_tasks() -> None:
    manager = registry_tasks.task_manager()
    assert ("cais/mmlu", "anatomy") in set(registry_tasks.task_datasets(manager, "mmlu"))
    arc = set(registry_tasks.task_datasets(manager, "ai2_arc"))  # a tag
    assert {("allenai/ai2_arc", "ARC-Easy"), ("allenai/ai2_arc", "ARC-Challenge")} <= arc


def test_the_eval_step_hands_the_names_to_the_harness(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given: list[Any] = []

    def harness(model: Any, tokenizer: Any, tasks: list[Any], settings: Any) -> Any:
        given.append(tasks)
        return {"arc_easy": {"acc": {"value": 0.5, "stderr": 0.1, "higher_is_better": True}}}

    monkeypatch.setattr(eval_step, "harness_scores", harness)
    recipe = write_tiny_recipe(
        tmp_path, tiny_model_dir, eval="eval: {registry_tasks: [arc_easy]}\n"
    )
    loaded = load_recipe(recipe)
    state = execute(loaded, build_plan(loaded), "test", lambda line: None)
    assert state.status == "ok", state.error
    assert given == [["arc_easy"], ["arc_easy"]]  # tuned, then base
    (score,) = state.results.eval.scores
    assert (score.task, score.metric, score.base, score.tuned) == ("arc_easy", "acc", 0.5, 0.5)
