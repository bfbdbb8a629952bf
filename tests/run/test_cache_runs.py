"""Incremental runs: exactly the steps whose inputs changed are executed; the rest are reused."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from smolora_recipes.cli.main import main
from smolora_recipes.plan.build import build_plan
from smolora_recipes.plan.status import plan_status
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.run.executor import execute
from smolora_recipes.run.state import RunOptions, RunState
from smolora_recipes.steps.context import Handoffs
from smolora_recipes.store.cache import StepCache
from tests.tiny_runs import write_tiny_recipe

STEPS = ["load", "dataset", "train", "merge", "sample"]


@pytest.fixture
def executed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the steps whose code actually runs (spied on each step module)."""
    calls: list[str] = []
    for name in STEPS:
        module = importlib.import_module(f"smolora_recipes.steps.{name}")
        real = module.run

        def spy(ctx, _real=real, _name=name):  # type: ignore[no-untyped-def]
            calls.append(_name)
            return _real(ctx)

        monkeypatch.setattr(module, "run", spy)
    return calls


@pytest.fixture
def recipe(tmp_path: Path, tiny_model_dir: Path) -> Path:
    return write_tiny_recipe(tmp_path, tiny_model_dir)


def cached_run(recipe: Path, *overrides: str, force: str | None = None) -> RunState:
    loaded = load_recipe(recipe, overrides)
    cache = StepCache(recipe.parent / "cache")
    state = execute(
        loaded, build_plan(loaded), "test", lambda line: None, RunOptions(cache=cache, force=force)
    )
    assert state.status == "ok", state.error
    return state


def test_unchanged_rerun_executes_no_step_and_links_cached_outputs(
    recipe: Path, executed: list[str]
) -> None:
    first = cached_run(recipe)
    assert executed == STEPS
    executed.clear()
    second = cached_run(recipe)
    assert executed == []
    outcomes = {r.name: r.outcome for r in second.records}
    assert all(outcomes[s] == f"cached (from run tiny/{first.run_dir.name})" for s in STEPS)
    adapter = second.run_dir / "adapter"  # the run's own folder (its card), files linked
    weights = adapter / "adapter_model.safetensors"
    assert not adapter.is_symlink() and weights.is_symlink()
    assert not (adapter / "README.md").is_symlink()
    cached_card = (weights.resolve().parent / "README.md").read_text()
    assert "# tiny\n" in (adapter / "README.md").read_text() and "# tiny\n" not in cached_card
    assert (second.run_dir / "train_log.jsonl").is_file()
    assert second.results.sample.to_json() == first.results.sample.to_json()
    report = json.loads((second.run_dir / "report.json").read_text())
    assert report["status"] == "ok" and report["train"]["steps"] == 6
    first_report = json.loads((first.run_dir / "report.json").read_text())
    peaks = {s["name"]: s["peak_rss_mb"] for s in first_report["steps"] if s["name"] in STEPS}
    assert len(peaks) == len(STEPS) and all(peak > 100 for peak in peaks.values())
    assert first_report["run"]["peak_rss_mb"] >= max(peaks.values()) - 2
    assert "| peak memory (MiB) |" in (first.run_dir / "report.md").read_text()
    assert {a["path"] for a in report["artifacts"]} >= {
        "adapter/adapter_model.safetensors",
        "merged/model.safetensors",
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("samples.prompts=['Who built the widget?']", ["sample"]),
        ("lora.r=8", ["train", "merge", "sample"]),
        ("merge.tolerance=0.01", ["merge", "sample"]),
    ],
)
def test_a_change_reruns_exactly_what_it_invalidates(
    recipe: Path, executed: list[str], change: str, expected: list[str]
) -> None:
    cached_run(recipe)
    executed.clear()
    cached_run(recipe, change)
    assert executed == expected


def test_merge_uses_the_model_trained_in_this_run_else_loads_it(
    recipe: Path, executed: list[str]
) -> None:
    first = cached_run(recipe)
    assert first.results.merge.adapter_source == "memory"
    executed.clear()
    alone = cached_run(recipe, "merge.tolerance=0.01")  # train cached: base + adapter from disk
    assert executed == ["merge", "sample"]
    assert alone.results.merge.adapter_source == "disk"
    assert alone.results.merge.verified is True
    assert alone.results.merge.max_abs_diff_vs_adapter == pytest.approx(
        first.results.merge.max_abs_diff_vs_adapter, abs=1e-4
    )


def test_sample_uses_the_model_merged_in_this_run_else_loads_it(
    recipe: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smolora_recipes.steps import sample

    loaded_folders: list[str] = []
    real_load = sample.load_model

    def load_spy(folder, *args):  # type: ignore[no-untyped-def]
        loaded_folders.append(Path(folder).name)
        return real_load(folder, *args)

    monkeypatch.setattr(sample, "load_model", load_spy)
    first = cached_run(recipe)
    assert "merged" not in loaded_folders  # sampled the merged model still in memory
    assert first.handoffs == Handoffs()  # and nothing handed between steps outlives the run
    loaded_folders.clear()
    again = cached_run(recipe, force="sample")
    assert "merged" in loaded_folders  # merge came from the cache: read from its folder
    assert again.results.sample.items == first.results.sample.items


def test_editing_a_data_file_reruns_dataset_onward(recipe: Path, executed: list[str]) -> None:
    cached_run(recipe)
    executed.clear()
    data = recipe.parent / "data/train.jsonl"
    data.write_text(data.read_text().replace("Crater City", "Crater Town"))
    cached_run(recipe)
    assert executed == ["dataset", "train", "merge", "sample"]


def test_force_reruns_the_step_and_everything_after(recipe: Path, executed: list[str]) -> None:
    cached_run(recipe)
    executed.clear()
    state = cached_run(recipe, force="train")
    assert executed == ["train", "merge", "sample"]
    assert {r.name: r.outcome for r in state.records}["train"] == "ran (forced)"


def test_plan_says_cached_or_why_it_will_run(recipe: Path) -> None:
    cache = StepCache(recipe.parent / "cache")
    before = plan_status(build_plan(load_recipe(recipe)), cache)
    assert {s.state for s in before if s.step in STEPS} == {"will run"}
    cached_run(recipe)
    after = {s.step: s for s in plan_status(build_plan(load_recipe(recipe)), cache)}
    assert all(after[s].state == "cached" for s in STEPS)
    changed = {s.step: s for s in plan_status(build_plan(load_recipe(recipe, ["lora.r=8"])), cache)}
    assert changed["dataset"].state == "cached"
    assert changed["train"].reasons == ["lora.r changed 4 -> 8"]
    assert changed["merge"].reasons == ["upstream train changed"]


def test_a_failed_step_leaves_no_cache_entry(recipe: Path) -> None:
    (recipe.parent / "data/train.jsonl").write_text("not json\n")
    loaded = load_recipe(recipe)
    cache = StepCache(recipe.parent / "cache")
    state = execute(loaded, build_plan(loaded), "t", lambda line: None, RunOptions(cache=cache))
    assert state.status == "failed"
    assert [e.step for e in cache.entries()] == ["load"]
    assert not [p for p in (recipe.parent / "cache").rglob("*.tmp-*")]


def test_cli_plan_and_cache_commands(recipe: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(recipe.parent)
    monkeypatch.setenv("SMOLORA_HOME", str(recipe.parent / "home"))
    runner = CliRunner()
    assert runner.invoke(main, ["run", "recipe.yaml"]).exit_code == 0
    plan = runner.invoke(main, ["plan", "recipe.yaml", "--set", "samples.max_new_tokens=4"]).stdout
    assert "cached (from run tiny/" in plan
    assert "will run: samples.max_new_tokens changed 8 -> 4" in plan
    listing = runner.invoke(main, ["cache", "ls"])
    assert listing.exit_code == 0 and "5 entries" in listing.stdout
    gc = runner.invoke(main, ["cache", "gc", "--max-size", "0"])
    assert gc.exit_code == 0 and "5 entries removed" in gc.stdout
    assert "0 entries" in runner.invoke(main, ["cache", "ls"]).stdout
    no_cache = runner.invoke(main, ["run", "recipe.yaml", "--no-cache"])
    assert no_cache.exit_code == 0
    assert "0 entries" in runner.invoke(main, ["cache", "ls"]).stdout


def test_concurrent_runs_of_one_recipe_share_a_sound_cache(recipe: Path) -> None:
    env = {**os.environ, "SMOLORA_HOME": str(recipe.parent / "home"), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "smolora_recipes", "run", str(recipe)]
    workers = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    results = [worker.communicate(timeout=600) for worker in workers]
    assert [w.returncode for w in workers] == [0, 0], results
    entries = StepCache(recipe.parent / "home/cache").entries()
    assert sorted(e.step for e in entries) == sorted(STEPS)  # one entry per step, all valid
    runs = [
        json.loads((d / "report.json").read_text())
        for d in (recipe.parent / "runs/tiny").iterdir()
        if not d.is_symlink()
    ]
    assert [r["status"] for r in runs] == ["ok", "ok"]


def test_a_corrupted_cache_entry_is_rebuilt(recipe: Path, executed: list[str]) -> None:
    cached_run(recipe)
    (adapter,) = (recipe.parent / "cache/train").glob("*/adapter/adapter_model.safetensors")
    adapter.write_bytes(adapter.read_bytes()[:100])  # a disk error or a torn copy
    executed.clear()
    state = cached_run(recipe)
    assert executed == ["train"]
    assert {r.name: r.outcome for r in state.records}["train"] == "ran"
    assert (state.run_dir / "adapter/adapter_model.safetensors").stat().st_size > 100


def test_a_fully_cached_rerun_imports_neither_torch_nor_transformers(recipe: Path) -> None:
    env = {**os.environ, "SMOLORA_HOME": str(recipe.parent / "home"), "HF_HUB_OFFLINE": "1"}
    code = (
        "import sys\n"
        "from smolora_recipes.cli.main import main\n"
        "try:\n"
        f"    main(['run', {str(recipe)!r}])\n"
        "except SystemExit as done:\n"
        "    print(done.code, 'torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
        )
    assert result.stdout.splitlines()[-1] == "0 False False", result.stderr
