"""Fingerprints: stable across runs and checkout locations, and changing exactly where inputs do."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from smolora_recipes import __version__
from smolora_recipes.plan import build as plan_module
from smolora_recipes.plan.build import build_plan
from smolora_recipes.plan.code_digest import CodeIndex
from smolora_recipes.plan.diff import explain
from smolora_recipes.plan.specs import STEP_SPECS
from smolora_recipes.recipe.loader import load_recipe

ALL_STEPS = [spec.name for spec in STEP_SPECS]


def fingerprints(recipe: Path, *overrides: str) -> dict[str, str]:
    """The fingerprints of the steps that run (a skipped step's would be computed, not used)."""
    plan = build_plan(load_recipe(recipe, overrides, env={}))
    return {s.name: s.fingerprint for s in plan.steps if s.enabled}


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [name for name in ALL_STEPS if before.get(name) != after.get(name)]


def test_steps_are_ordered_and_stable_across_runs(minimal: Path) -> None:
    first = build_plan(load_recipe(minimal, env={}))
    assert [s.name for s in first.steps] == [
        "load",
        "dataset",
        "train",
        "merge",
        "sample",
        "eval",
        "export",
        "report",
    ]
    assert fingerprints(minimal) == {s.name: s.fingerprint for s in first.steps if s.enabled}
    assert all(len(s.fingerprint) == 64 for s in first.steps)


def test_same_fingerprints_in_another_checkout_location(minimal: Path, tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere" / "deeper"
    shutil.copytree(minimal.parent, copy, ignore=shutil.ignore_patterns("elsewhere"))
    assert fingerprints(copy / "recipe.yaml") == fingerprints(minimal)


def test_renaming_a_data_file_with_same_content_keeps_fingerprints(minimal: Path) -> None:
    before = fingerprints(minimal)
    os.rename(minimal.parent / "data/train.jsonl", minimal.parent / "data/renamed.jsonl")
    minimal.write_text(minimal.read_text().replace("train.jsonl", "renamed.jsonl"))
    assert fingerprints(minimal) == before


def test_touching_a_data_file_changes_nothing(minimal: Path) -> None:
    before = fingerprints(minimal)
    data = minimal.parent / "data/train.jsonl"
    later = time.time() + 100
    os.utime(data, (later, later))
    assert fingerprints(minimal) == before


def test_editing_one_byte_of_data_invalidates_dataset_and_downstream(minimal: Path) -> None:
    before = fingerprints(minimal)
    data = minimal.parent / "data/train.jsonl"
    data.write_bytes(data.read_bytes().replace(b"one", b"onE"))
    assert changed(before, fingerprints(minimal)) == [
        "dataset",
        "train",
        "merge",
        "sample",
        "report",
    ]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("samples.prompts=[other]", ["sample", "report"]),
        ("samples.max_new_tokens=5", ["sample", "report"]),
        ("lora.r=8", ["train", "merge", "sample", "report"]),
        ("sft.learning_rate=1e-3", ["train", "merge", "sample", "report"]),
        ("sft.max_length=128", ["dataset", "train", "merge", "sample", "report"]),
        ("data.eval_split=0.2", ["dataset", "train", "merge", "sample", "report"]),
        ("merge.tolerance=0.01", ["merge", "sample", "report"]),
        ("model.dtype=float32", ["load", "train", "merge", "sample", "report"]),
        ("description=hello", ["report"]),
        ("output.dir=elsewhere", []),
    ],
)
def test_a_change_invalidates_exactly_the_steps_that_read_it(
    minimal: Path, override: str, expected: list[str]
) -> None:
    assert changed(fingerprints(minimal), fingerprints(minimal, override)) == expected


def test_disabled_merge_is_skipped_and_sample_stops_depending_on_it(minimal: Path) -> None:
    compiled = build_plan(load_recipe(minimal, ("merge.enabled=false",), env={}))
    assert not compiled.step("merge").enabled
    assert compiled.step("merge").skip_reason == "merge.enabled is false"
    assert compiled.step("sample").after == ["load", "train"]


def test_step_code_change_invalidates_that_step_and_downstream(
    minimal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = fingerprints(minimal)
    old_plan = build_plan(load_recipe(minimal, env={}))
    real = CodeIndex.code_digests
    monkeypatch.setattr(
        CodeIndex,
        "code_digests",
        lambda self, module: {
            k: (v if k != "steps/train.py" else "x") for k, v in real(self, module).items()
        },
    )
    monkeypatch.setattr(plan_module, "__version__", "9.9")
    new_plan = build_plan(load_recipe(minimal, env={}))
    assert changed(before, fingerprints(minimal)) == ["train", "merge", "sample", "report"]
    assert explain(old_plan.step("train"), new_plan.step("train")) == [
        f"smolora_recipes {__version__} -> 9.9 changed step code (1 module: steps/train.py)"
    ]


def test_library_upgrade_invalidates_only_steps_that_call_it(
    minimal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = fingerprints(minimal)
    real = plan_module.library_versions
    monkeypatch.setattr(
        plan_module,
        "library_versions",
        lambda names: {k: ("9.9" if k == "peft" else v) for k, v in real(names).items()},
    )
    # peft is called by train, merge and sample; report follows them
    assert changed(before, fingerprints(minimal)) == ["train", "merge", "sample", "report"]


def test_inputs_are_listed_with_content_hashes(minimal: Path) -> None:
    dataset = build_plan(load_recipe(minimal, env={})).step("dataset")
    assert dataset.inputs["data.sources.0.path"]["path"] == "data/train.jsonl"
    assert len(dataset.inputs["data.sources.0.path"]["sha256"]) == 64
    assert dataset.inputs["model.base"]["path"] == "builtin:smollm2-135m-instruct"


def test_text_files_folder_hash_covers_only_matching_files(write, tmp_path: Path) -> None:
    recipe = write(
        "r.yaml",
        "data:\n  sources: [{type: text_files, path: notes, glob: '*.txt'}]\n",
        "notes/a.txt",
        "alpha\n",
    )
    before = fingerprints(recipe)
    (tmp_path / "notes/ignored.md").write_text("not read")
    assert fingerprints(recipe) == before
    (tmp_path / "notes/b.txt").write_text("beta\n")
    assert changed(before, fingerprints(recipe))[0] == "dataset"
