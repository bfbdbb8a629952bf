"""The base model's sample answers are remembered by their own fingerprint: a re-run that
changed only training does not generate them again (issue 22, item 10)."""

from __future__ import annotations

from pathlib import Path

from smolora_recipes.plan.build import build_plan
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.run.executor import execute
from smolora_recipes.run.state import RunState
from smolora_recipes.steps import base_answers
from tests.tiny_runs import write_tiny_recipe

REUSED = "sample: base answers: reused (the base model, prompts and settings are unchanged)"


def run(recipe: Path, *overrides: str) -> tuple[RunState, list[str]]:
    lines: list[str] = []
    loaded = load_recipe(recipe, overrides)
    return execute(loaded, build_plan(loaded), "test", lines.append), lines


def reused(lines: list[str]) -> bool:
    return any(line.endswith(REUSED) for line in lines)


def test_base_answers_are_generated_once_for_a_base_model_prompts_and_settings(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    recipe = write_tiny_recipe(tmp_path, tiny_model_dir)
    first, lines = run(recipe)
    assert first.status == "ok" and not reused(lines)
    retrained, lines = run(recipe, "lora.r=8")  # train, merge and sample run again
    assert retrained.status == "ok" and reused(lines)
    before, after = first.results.sample, retrained.results.sample
    assert [i.base for i in after.items] == [i.base for i in before.items]
    assert [i.base_ok for i in after.items] == [i.base_ok for i in before.items]
    longer, lines = run(recipe, "lora.r=8", "samples.max_new_tokens=9")  # other settings
    assert longer.status == "ok" and not reused(lines)


def test_a_damaged_memo_only_means_generating_again(isolated_home: Path) -> None:
    memo = isolated_home / "state" / base_answers.MEMO
    memo.parent.mkdir(parents=True)
    for text in ("[1, 2]", "{not json", '{"k": {"answers": [1]}}'):
        memo.write_text(text)
        assert base_answers.remembered("k", 1) is None
    base_answers.remember("k", ["an answer"])
    assert base_answers.remembered("k", 1) == ["an answer"]
    assert base_answers.remembered("k", 2) is None  # another number of prompts
