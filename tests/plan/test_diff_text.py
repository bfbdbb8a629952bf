"""`smolora diff` output: fields with their origins, input changes, and why each step re-runs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from smolora_recipes.core.shared_paths import BUILTIN_RECIPES_DIR
from smolora_recipes.plan.build import Plan, PlannedStep
from smolora_recipes.plan.diff import InputChange, compare_inputs, diff_recipes, explain
from smolora_recipes.recipe.loader import load_recipe

FIELDS = [
    ("description", "null", "hi there", "default", "--set description=hi there"),
    ("lora.r", "16", "8", "default", "--set lora.r=8"),
    ("merge.enabled", "false", "true", "--set merge.enabled=false", "default"),
    ("samples.prompts.0.prompt", "hello", "a", "recipe.yaml:7:13", "--set samples.prompts=[a, b]"),
    ("samples.prompts.1.prompt", "(absent)", "b", "default", "--set samples.prompts=[a, b]"),
    ("samples.prompts.1.expect", "(absent)", "null", "default", "default"),
]
STEPS = [
    ("train", "lora.r changed 16 -> 8"),
    ("merge", "was skipped (merge.enabled is false)"),
    (
        "sample",
        "samples.prompts.0.prompt changed hello -> a; samples.prompts.1.expect changed "
        "(absent) -> null; samples.prompts.1.prompt changed (absent) -> b; upstream merge "
        "changed; upstream train changed",
    ),
    (
        "report",
        "description changed null -> hi there; upstream merge changed; upstream sample "
        "changed; upstream train changed",
    ),
]
COST = (
    "4 of 6 steps (train, merge, sample, report); train: optimizer steps known once the "
    "dataset is built (`smolora preview` builds it)"
)


@pytest.fixture
def changed_diff(minimal: Path, in_tmp_dir: Path):
    """The diff from a recipe with merge off to one with lora.r, prompts and description set."""
    old = load_recipe(Path("recipe.yaml"), ("merge.enabled=false",), env={})
    overrides = ("lora.r=8", "samples.prompts=[a, b]", "description=hi there")
    return diff_recipes(old, load_recipe(Path("recipe.yaml"), overrides, env={}))


def test_diff_as_text(changed_diff) -> None:
    assert changed_diff.to_text() == "\n".join(
        [
            "--- recipe.yaml",
            "+++ recipe.yaml",
            *(f"  {f}: {old} -> {new}    ({a} -> {b})" for f, old, new, a, b in FIELDS),
            "steps to re-run:",
            *(f"  {step}: {reasons}" for step, reasons in STEPS),
            "unchanged steps: load, dataset",
            f"re-running: {COST}",
        ]
    )


def test_diff_as_markdown_and_json(changed_diff) -> None:
    assert changed_diff.to_markdown() == "\n".join(
        [
            "#### Recipe change: `recipe.yaml` → `recipe.yaml`",
            "",
            "| field | old | new | old value from | new value from |",
            "|---|---|---|---|---|",
            *(f"| `{f}` | `{old}` | `{new}` | {a} | {b} |" for f, old, new, a, b in FIELDS),
            "",
            "**Steps invalidated:**",
            *(f"- `{step}`: {reasons}" for step, reasons in STEPS),
            "",
            "Unchanged steps: `load`, `dataset`",
            "",
            f"**Re-running costs:** {COST}",
            "",
        ]
    )
    data = changed_diff.to_json()
    assert data["fields"][0] == {
        "field": "description",
        "old": None,
        "new": "hi there",
        "old_origin": "default",
        "new_origin": "--set description=hi there",
    }
    assert data["steps"][0] == {"step": "train", "reasons": ["lora.r changed 16 -> 8"]}
    assert (data["old_file"], data["new_file"], data["inputs"]) == ("recipe.yaml",) * 2 + ([],)


def test_diff_of_identical_recipes(minimal: Path, in_tmp_dir: Path) -> None:
    same = load_recipe(Path("recipe.yaml"), env={})
    result = diff_recipes(same, same)
    everything = "load, dataset, train, merge, sample, report"
    assert result.to_text() == (
        "--- recipe.yaml\n+++ recipe.yaml\nno field differs\n"
        f"unchanged steps: {everything}\nre-running: nothing: all 6 steps are unchanged"
    )
    assert result.to_markdown() == (
        "#### Recipe change: `recipe.yaml` → `recipe.yaml`\n\nNo field differs.\n\n"
        "**No step is invalidated.**\n\n"
        f"Unchanged steps: {', '.join(f'`{name}`' for name in everything.split(', '))}\n\n"
        "**Re-running costs:** nothing: all 6 steps are unchanged\n"
    )


def test_an_edited_data_file_is_an_input_line(minimal: Path, in_tmp_dir: Path) -> None:
    (in_tmp_dir / "v2/data").mkdir(parents=True)
    (in_tmp_dir / "v2/recipe.yaml").write_text(minimal.read_text())
    (in_tmp_dir / "v2/data/train.jsonl").write_text('{"text": "edited"}\n')
    old = load_recipe(Path("recipe.yaml"), env={})
    result = diff_recipes(old, load_recipe(Path("v2/recipe.yaml"), env={}))
    (change,) = result.inputs
    assert change.field == "data.sources.0.path"
    line = f"  input data.sources.0.path: data/train.jsonl: {change.describe_sha256()}"
    assert line in result.to_text().splitlines()
    assert result.to_text().splitlines()[2] == "no field differs"
    assert result.unchanged_steps == ["load"]
    assert (
        "\n\n| input | old | new | sha256 |\n|---|---|---|---|\n| `data.sources.0.path` | "
        f"`data/train.jsonl` | `data/train.jsonl` | {change.describe_sha256()} |\n\n"
    ) in result.to_markdown()


@pytest.mark.parametrize(
    ("change", "text"),
    [
        (InputChange("f", "a", "a", "1" * 64, "2" * 64), f"a: sha256 {'1' * 12} -> {'2' * 12}"),
        (
            InputChange("f", "a", "b", "1" * 64, "1" * 64),
            f"a -> b: sha256 {'1' * 12} -> {'1' * 12}",
        ),
        (
            InputChange("f", None, "b", None, "3" * 64),
            f"(absent) -> b: sha256 (absent) -> {'3' * 12}",
        ),
        (
            InputChange("f", "a", None, "4" * 64, None),
            f"a -> (absent): sha256 {'4' * 12} -> (absent)",
        ),
    ],
)
def test_input_change_description(change: InputChange, text: str) -> None:
    assert change.describe() == text


def step(
    version: str = "1.0", enabled: bool = True, data: str | None = "data/a.jsonl", **material: Any
) -> PlannedStep:
    """A planned `train` step built from `material` (recipe, upstream, libraries, code), reading
    the data file `data`."""
    full = {"recipe": {}, "upstream": {}, "libraries": {}, "code": {}, **material}
    inputs = {"data.sources.0.path": {"path": data, "sha256": "1"}} if data else {}
    return PlannedStep(
        "train", "", "fp", [], [], inputs, enabled, "" if enabled else "off", full, version
    )


@pytest.mark.parametrize(
    ("old", "new", "reasons"),
    [
        (step(), step(), ["fingerprint changed"]),
        (step(enabled=False), step(), ["was skipped (off)"]),
        (
            step(recipe={"data": {"sources": [{"path": {"sha256": "1"}}]}}),
            step(recipe={"data": {"sources": [{"path": {"sha256": "2"}}]}}),
            ["data/a.jsonl content changed"],
        ),
        (
            step(recipe={"data": {"sources": [{"path": {"sha256": "1"}}]}}),
            step(data="data/b.jsonl", recipe={"data": {"sources": [{"path": {"sha256": "2"}}]}}),
            ["data/b.jsonl content changed"],
        ),
        (
            step(recipe={"data": {"sources": [{"path": {"sha256": "1"}}]}}),
            step(data=None, recipe={"data": {"sources": [{"path": {"sha256": "2"}}]}}),
            ["data/a.jsonl content changed"],
        ),
        (
            step(recipe={"x": {"a": 1, "b": 2}}),
            step(recipe={"x": {"b": 2}}),
            ["x.a changed 1 -> (absent)"],
        ),
        (
            step(recipe={"model": {"sha256": "1"}}),
            step(recipe={"model": {"sha256": "2"}}),
            ["model content changed"],
        ),
        (
            step(recipe={"x": {2: "a", 10: "b"}}),
            step(recipe={"x": {2: "c", 10: "d"}}),
            ["x.2 changed a -> c", "x.10 changed b -> d"],
        ),
        (
            step(upstream={"load": "1", "dataset": "2"}),
            step(upstream={"load": "1", "dataset": "3", "merge": "4"}),
            ["upstream dataset changed", "upstream merge changed"],
        ),
        (
            step(libraries={"torch": "2.0", "peft": "0.1"}),
            step(libraries={"torch": "2.0", "peft": "0.2", "trl": "1.0"}),
            ["peft 0.1 -> 0.2", "trl None -> 1.0"],
        ),
        (
            step(code={"a.py": "1"}),
            step(code={"a.py": "2"}),
            ["step code changed (1 module: a.py)"],
        ),
        (
            step(code={name: "1" for name in "abcde"}),
            step("1.1", code={**{name: "2" for name in "abcd"}, "e": "1"}),
            ["smolora_recipes 1.0 -> 1.1 changed step code (4 modules: a, b, c, ...)"],
        ),
        (
            step(code={name: "1" for name in "abc"}),
            step(code={name: "2" for name in "abc"}),
            ["step code changed (3 modules: a, b, c)"],
        ),
        (step(code="old digest"), step(code={"a.py": "2"}), ["step code changed"]),
        (
            step(code={"a.py": "1", "gone.py": "1"}),
            step(code={"a.py": "1", "new.py": "1"}),
            ["step code changed (2 modules: gone.py, new.py)"],
        ),
    ],
)
def test_why_a_step_reruns(old: PlannedStep, new: PlannedStep, reasons: list[str]) -> None:
    assert explain(old, new) == reasons


def test_a_field_only_the_old_recipe_has_and_no_step_unchanged(
    minimal: Path, in_tmp_dir: Path
) -> None:
    overrides = (
        "samples.prompts=[a, b]",
        "model.base=org/other-model",
        f"model.revision={'e' * 40}",
    )
    old = load_recipe(Path("recipe.yaml"), overrides, env={})
    result = diff_recipes(old, load_recipe(Path("recipe.yaml"), ("merge.enabled=false",), env={}))
    assert [change.step for change in result.steps] == [
        "load",
        "dataset",
        "train",
        "sample",
        "report",
    ]
    lines = result.to_text().splitlines()
    assert (
        "  samples.prompts.1.prompt: b -> (absent)    (--set samples.prompts=[a, b] -> default)"
        in lines
    )
    assert "unchanged steps: none" in lines
    assert "\nUnchanged steps: none\n" in result.to_markdown()
    assert "| `samples.prompts.1.expect` | `null` | `(absent)` | default | default |" in (
        result.to_markdown()
    )


def test_a_shared_recipes_output_path_is_not_compared(in_tmp_dir: Path) -> None:
    shutil.copytree(BUILTIN_RECIPES_DIR, in_tmp_dir / "copy")
    shared = load_recipe(BUILTIN_RECIPES_DIR / "quickstart.yaml", env={})
    local = load_recipe(Path("copy/quickstart.yaml"), ("output.dir=elsewhere",), env={})
    for old, new in [(shared, local), (local, shared)]:
        assert diff_recipes(old, new).to_text().splitlines()[2] == "no field differs"


def plan_reading(**inputs: dict[str, str]) -> Plan:
    """A one-step plan whose step reads `inputs` (dotted field -> path and sha256)."""
    read = PlannedStep(
        "dataset", "", "fp", [], [], {k.replace("_", "."): v for k, v in inputs.items()}
    )
    return Plan("r", "r.yaml", [read])


def test_inputs_added_removed_or_changed_are_listed_by_field() -> None:
    a, b = {"path": "a.jsonl", "sha256": "1"}, {"path": "b.jsonl", "sha256": "2"}
    old = plan_reading(data_x=a, model_base=a, same=a)
    new = plan_reading(data_x=b, extra=b, same=a)
    assert compare_inputs(old, new) == [
        InputChange("data.x", "a.jsonl", "b.jsonl", "1", "2"),
        InputChange("extra", None, "b.jsonl", None, "2"),
        InputChange("model.base", "a.jsonl", None, "1", None),
    ]
