"""What `smolora plan` shows: the plan as text and JSON, and each step's status with reasons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smolora_recipes import __version__
from smolora_recipes.plan.build import build_plan, plan_inputs
from smolora_recipes.plan.status import StepStatus, last_plan, plan_status, record_plan
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.store.cache import StepCache


def test_plan_text_with_statuses_skips_notes_and_inputs(minimal: Path) -> None:
    loaded = load_recipe(minimal, ("merge.enabled=false", "distributed.num_processes=2"), env={})
    plan = build_plan(loaded)
    fp = {step.name: step.fingerprint[:12] for step in plan.steps}
    model_sha = plan.step("load").inputs["model.base"]["sha256"][:12]
    data_sha = plan.step("dataset").inputs["data.sources.0.path"]["sha256"][:12]
    statuses = {"load": "cached", "dataset": "x", "train": "y", "sample": "z", "report": "w"}
    assert plan.to_text(statuses) == "\n".join(
        [
            f"plan for {minimal} (recipe 'mini')",
            f"1. load     {fp['load']}  cached",
            "     resolve the base model and convert it to a local safetensors copy if needed",
            "     reads   model",
            f"     input   model.base = builtin:smollm2-135m-instruct (sha256 {model_sha})",
            f"2. dataset  {fp['dataset']}  x",
            "     read the sources, render, chunk, dedup, tokenize and split train/eval",
            "     reads   data, model.base, model.revision, model.trust_remote_code, "
            "sft.max_length, sft.over_length",
            f"     input   model.base = builtin:smollm2-135m-instruct (sha256 {model_sha})",
            f"     input   data.sources.0.path = data/train.jsonl (sha256 {data_sha})",
            f"3. train    {fp['train']}  y",
            "     train the LoRA adapter with trl's SFTTrainer",
            "     reads   lora, sft, distributed.num_processes",
            "     after   load, dataset",
            "     note    batch   1 per device step x 8 accumulated x 2 processes "
            "= 16 sequences per update",
            "4. merge    skip: merge.enabled is false",
            "     merge the adapter into the base weights and verify the logits",
            "     reads   merge",
            "     after   load, dataset, train",
            f"5. sample   {fp['sample']}  z",
            "     generate for every prompt from the base and the tuned model, and score "
            "expectations",
            "     reads   samples, data.format, data.system_prompt, data.completion_separator",
            "     after   load, train",
            "6. eval     skip: eval.tasks is empty",
            "     score the base and the tuned model on the lm-evaluation-harness tasks",
            "     reads   eval",
            "     after   load, train",
            "7. export   skip: export.gguf is empty",
            "     convert the merged model to GGUF with llama.cpp and check its answers to the "
            "prompts",
            "     reads   name, export, data.format, data.system_prompt, data.completion_separator",
            "     after   load, sample",
            f"8. report   {fp['report']}  w",
            "     write report.json, report.md and report.html",
            "     reads   name, description",
            "     after   load, dataset, train, sample",
        ]
    )
    assert plan.to_text().splitlines()[1] == f"1. load     {fp['load']}"


def test_plan_json_and_step_material(minimal: Path) -> None:
    plan = build_plan(load_recipe(minimal, ("samples.prompts=[]",), env={}))
    data = plan.to_json()
    assert (data["recipe"], data["file"]) == ("mini", str(minimal))
    sample = data["steps"][4]
    assert sample["name"] == "sample" and sample["enabled"] is False
    assert sample["skip_reason"] == "samples.prompts is empty"
    assert data["steps"][7]["after"] == ["load", "dataset", "train", "merge"]
    train = plan.step("train")
    assert train.notes == ["batch   1 per device step x 8 accumulated = 8 sequences per update"]
    assert train.smolora_version == __version__ and plan.step("load").notes == []
    assert train.material["step"] == "train"
    assert train.material["upstream"] == {
        "load": plan.step("load").fingerprint,
        "dataset": plan.step("dataset").fingerprint,
    }
    assert sorted(train.material["libraries"]) == sorted(
        ["torch", "transformers", "peft", "trl", "accelerate", "datasets"]
    )
    assert train.material["recipe"]["distributed.num_processes"] == 1
    assert sorted(train.material["recipe"]) == ["distributed.num_processes", "lora", "sft"]
    dataset = plan.step("dataset").material["recipe"]
    assert dataset["model.trust_remote_code"] is False and dataset["sft.max_length"] == 1024
    assert plan.step("sample").material["recipe"]["data.format"] == "text"
    assert "steps/train.py" in train.material["code"]
    assert set(plan_inputs(plan)) == {"model.base", "data.sources.0.path"}
    assert plan_inputs(plan)["data.sources.0.path"]["path"] == "data/train.jsonl"


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (StepStatus("load", "cached", ["from run r/1"]), "cached (from run r/1)"),
        (StepStatus("load", "cached", ["a", "b"]), "cached (a; b)"),
        (StepStatus("train", "will run", ["a", "b"]), "will run: a; b"),
        (StepStatus("train", "will run"), "will run"),
        (
            StepStatus("merge", "skipped", ["merge.enabled is false"]),
            "skipped: merge.enabled is false",
        ),
    ],
)
def test_status_description(status: StepStatus, text: str) -> None:
    assert status.describe() == text


def statuses(plan, cache, force=None) -> dict[str, str]:
    """Each step's described status."""
    return {s.step: s.describe() for s in plan_status(plan, cache, force)}


def commit(cache: StepCache, step, run: str) -> None:
    """Put an entry for a planned step in the cache."""
    staging = cache.staging_dir(step.name, step.fingerprint)
    cache.commit(step.name, step.fingerprint, staging, {}, run)


def test_status_of_every_kind_of_step(minimal: Path, tmp_path: Path) -> None:
    cache = StepCache(tmp_path / "cache")
    plan = build_plan(load_recipe(minimal, ("merge.enabled=false",), env={}))
    assert statuses(plan, None) == {
        "load": "will run: --no-cache",
        "dataset": "will run: --no-cache",
        "train": "will run: --no-cache",
        "merge": "skipped: merge.enabled is false",
        "sample": "will run: --no-cache",
        "eval": "skipped: eval.tasks is empty",
        "export": "skipped: export.gguf is empty",
        "report": "will run: written by every run",
    }
    first = "will run: no earlier run of this recipe"
    assert set(statuses(plan, cache).values()) == {
        first,
        "skipped: merge.enabled is false",
        "skipped: eval.tasks is empty",
        "skipped: export.gguf is empty",
        "will run: written by every run",
    }
    commit(cache, plan.step("load"), "mini/1")
    commit(cache, plan.step("dataset"), "mini/1")
    record_plan(cache, plan)
    assert statuses(plan, cache) == {
        "load": "cached (from run mini/1)",
        "dataset": "cached (from run mini/1)",
        "train": "will run: its cache entry is gone (removed by cache gc?)",
        "merge": "skipped: merge.enabled is false",
        "sample": "will run: its cache entry is gone (removed by cache gc?)",
        "eval": "skipped: eval.tasks is empty",
        "export": "skipped: export.gguf is empty",
        "report": "will run: written by every run",
    }
    forced = statuses(plan, cache, force="dataset")
    assert forced["load"] == "cached (from run mini/1)"
    assert [forced[name] for name in ("dataset", "train", "sample")] == 3 * [
        "will run: --force dataset"
    ]
    changed = build_plan(load_recipe(minimal, ("merge.enabled=false", "lora.r=8"), env={}))
    assert statuses(changed, cache)["train"] == "will run: lora.r changed 16 -> 8"


def test_recorded_plan_round_trips_per_recipe(minimal: Path, tmp_path: Path) -> None:
    cache = StepCache(tmp_path / "cache")
    assert last_plan(cache, "mini") == {}
    plan = build_plan(load_recipe(minimal, env={}))
    record_plan(cache, plan)
    record_plan(cache, plan)  # a second run overwrites the record
    index = tmp_path / "cache" / ".index"
    assert sorted(p.name for p in index.iterdir()) == ["mini.json"]
    assert last_plan(cache, "mini") == {step.name: step for step in plan.steps}
    assert last_plan(cache, "other") == {}
    (index / "mini.json").write_text("{broken")
    assert last_plan(cache, "mini") == {}
    assert json.loads(json.dumps(plan.to_json()))["steps"][0]["name"] == "load"


def test_a_plan_recorded_by_an_older_version_still_loads(tmp_path: Path) -> None:
    cache = StepCache(tmp_path / "cache")
    (tmp_path / "cache" / ".index").mkdir(parents=True)
    old = {"name": "train", "summary": "s", "fingerprint": "f", "after": [], "reads": ["lora"]}
    (tmp_path / "cache" / ".index" / "mini.json").write_text(json.dumps({"train": old}))
    (step,) = last_plan(cache, "mini").values()
    assert (step.inputs, step.enabled, step.skip_reason) == ({}, True, "")
    assert (step.material, step.smolora_version, step.notes) == ({}, "", [])
