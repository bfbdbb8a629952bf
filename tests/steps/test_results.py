"""Typed step results: each step returns its dataclass, the cache stores its JSON, and a run
served from the cache reports exactly what the run that computed it reported."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from smolora_recipes.core.json_record import JsonRecord
from smolora_recipes.plan.build import build_plan
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.run.executor import execute
from smolora_recipes.run.state import RunOptions, RunState
from smolora_recipes.steps.results import RESULT_TYPES, SampleItem, StepResults
from smolora_recipes.store.cache import StepCache
from smolora_recipes.training.result import TrainResult
from tests.tiny_runs import write_tiny_recipe

# report.json version 1 as runs wrote it before the results were typed: each section's keys, in
# order (readers may rely on any of them, and the files are compared across versions)
VERSION_1_KEYS = {
    "model": ["base", "kind", "path", "parameters", "trainable_parameters"],
    "data": [
        "sources",
        "rows_total",
        "examples",
        "duplicates_removed",
        "chunking",
        "over_length",
        "streaming",
        "train_rows",
        "eval_rows",
        "train_tokens",
        "eval_tokens",
        "split",
        "split_rows",
        "truncated",
        "dropped",
        "loss_token_share",
        "max_tokens",
        "token_lengths_histogram",
        "examples_preview",
    ],
    "train": [
        "steps",
        "epochs",
        "loss_history",
        "eval_history",
        "eval_loss_before",
        "eval_loss_after",
        "final_train_loss",
        "trained_tokens",
        "world_size",
        "sequences_per_update",
        "rows_per_process",
        "resumed_from_step",
        "tokens_per_second",
        "wall_time_s",
        "peak_rss_mb",
        "peak_gpu_mb",
        "target_modules",
        "best_step",  # added in version 1 (new keys only ever come last)
        "best_eval_loss",
        "compiled",
    ],
    "merge": [
        "enabled",
        "adapter_source",
        "verified",
        "max_abs_diff_vs_adapter",
        "max_abs_diff_vs_base",
        "tolerance",
        "dtype",  # added in version 1 (new keys only ever come last)
        "max_abs_diff_of_rounding",
    ],
    "samples": ["match", "items", "scored", "base_accuracy", "tuned_accuracy", "tokens_per_second"],
}
MODEL_JSON_KEYS = ["base", "kind", "folder", "converted_now", "runtime", "trust_remote_code"]


def test_every_step_returns_its_type_and_round_trips(tiny_run: RunState) -> None:
    results: StepResults = tiny_run.results
    for step, kind in RESULT_TYPES.items():
        if step in ("eval", "export"):  # tests/steps/test_eval_step.py, tests/e2e
            continue
        result = getattr(results, step)
        assert type(result) is kind, step
        data = json.loads(json.dumps(result.to_json()))  # as the cache stores it
        assert kind.from_json(data) == result, step
    assert results.load is not None and results.load.folder_path.is_dir()
    assert results.sample is not None and isinstance(results.sample.items[0], SampleItem)


def test_a_run_served_from_the_cache_reports_what_the_computing_run_did(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    recipe = write_tiny_recipe(tmp_path, tiny_model_dir)
    cache = StepCache(tmp_path / "cache")

    def report_of_a_run() -> dict[str, Any]:
        loaded = load_recipe(recipe)
        state = execute(loaded, build_plan(loaded), "t", lambda line: None, RunOptions(cache))
        assert state.status == "ok", state.error
        return json.loads((state.run_dir / "report.json").read_text())

    fresh, cached = report_of_a_run(), report_of_a_run()
    assert [step["outcome"].split()[0] for step in cached["steps"]][:5] == ["cached"] * 5
    for section in ("model", "data", "train", "merge", "samples"):
        assert cached[section] == fresh[section], section
    assert fresh["train"]["steps"] == 6 and fresh["samples"]["items"]


def test_report_sections_and_model_json_keep_their_version_1_keys(tiny_run: RunState) -> None:
    report = json.loads((tiny_run.run_dir / "report.json").read_text())
    assert report["report_version"] == 1
    for section, keys in VERSION_1_KEYS.items():
        assert list(report[section]) == keys, section
    model_json = json.loads((tiny_run.run_dir / "model.json").read_text())
    assert list(model_json) == MODEL_JSON_KEYS
    assert list(model_json["runtime"]) == ["device", "dtype", "autocast"]


def test_a_helper_machines_train_result_keeps_its_rank_through_json() -> None:
    helper = TrainResult(world_size=2, machine_rank=1)
    data = json.loads(json.dumps(helper.to_json()))
    assert data["world_size"] == 2 and data["machine_rank"] == 1
    assert TrainResult.from_json(data) == helper
    assert "machine_rank" not in TrainResult(world_size=2).to_json()  # machine 0 and one machine


@dataclass
class _Inner(JsonRecord):
    value: int


@dataclass
class _Outer(JsonRecord):
    inner: _Inner
    many: list[_Inner] = field(default_factory=list)
    maybe: _Inner | None = None


def test_nested_records_come_back_typed_and_unknown_fields_are_refused() -> None:
    outer = _Outer(_Inner(1), [_Inner(2)], _Inner(3))
    assert _Outer.from_json(outer.to_json()) == outer
    assert _Outer.from_json({"inner": {"value": 1}}) == _Outer(_Inner(1))
    with pytest.raises(ValueError, match="_Outer has no field extra"):
        _Outer.from_json({"inner": {"value": 1}, "extra": 0})
