"""The export section's rules: what validation refuses, what the plan skips or refuses on a
machine without llama.cpp, and when a GGUF's answers fail the step."""

from __future__ import annotations

from pathlib import Path

import pytest

from smolora_recipes.core.errors import RecipeError
from smolora_recipes.plan.build import build_plan
from smolora_recipes.plan.environment_check import Machine, environment_problems
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.steps.export import ExportVerificationError, check_faithful, compared, describe
from smolora_recipes.steps.results import GgufCheck, SampleItem, SampleResult


def refusal(recipe: Path, *overrides: str) -> str:
    with pytest.raises(RecipeError) as caught:
        load_recipe(recipe, overrides, env={})
    return caught.value.render()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (("export.ollama=true",), "a Modelfile points at a GGUF file, and export.gguf is empty"),
        (("export.gguf=[q8_0, q8_0]",), "q8_0 listed more than once"),
        (("export.gguf=[q3_k]",), "q3_k"),
        (("export.gguf=[q8_0]", "merge.enabled=false"), "merge.enabled is false"),
        (("export.gguf=[q8_0]", "samples.prompts=[]"), "samples.prompts, which is empty"),
        (("export.gguf=[q8_0]", "samples.temperature=0.7"), "samples.temperature is 0.7"),
    ],
)
def test_export_sections_that_cannot_work_are_refused(
    minimal: Path, overrides: tuple[str, ...], expected: str
) -> None:
    text = refusal(minimal, *overrides)
    assert expected in text and "export" in text


def test_an_absent_export_section_is_a_skipped_step(minimal: Path) -> None:
    plan = build_plan(load_recipe(minimal, env={}))
    assert plan.step("export").skip_reason == "export.gguf is empty"
    assert "export" not in plan.step("report").material["upstream"]


def test_the_export_fingerprint_builds_on_merge_and_sample(minimal: Path) -> None:
    plan = build_plan(load_recipe(minimal, ("export.gguf=[q8_0]",), env={}))
    export = plan.step("export")
    assert export.enabled and set(export.after) == {"load", "merge", "sample"}
    other = build_plan(load_recipe(minimal, ("export.gguf=[q8_0, f16]",), env={}))
    assert other.step("export").fingerprint != export.fingerprint
    assert other.step("sample").fingerprint == plan.step("sample").fingerprint


def test_the_plan_refuses_export_on_a_machine_without_llama_cpp(minimal: Path) -> None:
    loaded = load_recipe(minimal, ("export.gguf=[q8_0]",), env={})
    without = Machine(cuda_devices=0, has_module=lambda name: name != "llama_cpp")
    (problem,) = environment_problems(loaded, without)
    text = problem.render()
    assert "export.gguf" in text and "llama-cpp-python" in text
    assert "smolora-recipes[export]" in text
    assert not environment_problems(loaded, Machine(0, lambda name: True))


def sample_result(tuned: list[str], base: list[str] | None) -> SampleResult:
    items = [
        SampleItem(
            f"q{i}", "yes" if i == 0 else None, base[i] if base else None, answer, None, None
        )
        for i, answer in enumerate(tuned)
    ]
    return SampleResult("contains", items, 1, None, None, None)


def test_answers_are_compared_with_the_merged_and_the_base_model() -> None:
    sample = sample_result(["yes sir", "b", "c"], ["no", "b", "x"])
    check = compared("q8_0", "run-q8_0.gguf", 2_000_000, 1.5, ["yes", "b", "z"], sample)
    assert (check.identical, check.base_identical, check.expected, check.scored) == (1, 1, 1, 1)
    assert describe(check) == (
        "q8_0: 1/1 expected, 1/3 identical to merged (base 1/3); 2 MB in 1.5 s"
    )


@pytest.mark.parametrize(
    ("identical", "base_identical", "fails"),
    [(3, 3, False), (2, 1, False), (1, 1, True), (0, 2, True), (1, None, False), (0, None, True)],
)
def test_a_gguf_no_closer_to_the_merged_model_than_the_base_fails(
    identical: int, base_identical: int | None, fails: bool
) -> None:
    check = GgufCheck("q4_k_m", "run-q4_k_m.gguf", 1, 1.0, 3, identical, base_identical, None, 0)
    if fails:
        with pytest.raises(ExportVerificationError, match=f"{identical}/3 of its llama.cpp"):
            check_faithful(check)
    else:
        check_faithful(check)
