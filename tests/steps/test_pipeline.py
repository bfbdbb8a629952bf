"""The whole pipeline on the tiny model: files, report, training effect, merge, samples."""

from __future__ import annotations

import json
import os
from pathlib import Path

from smolora_recipes.core.permissions import current_umask
from smolora_recipes.models.runtime import Runtime, load_model
from smolora_recipes.run.state import RunState

EXPECTED_FILES = {
    "recipe.resolved.yaml",
    "plan.json",
    "model.json",
    "run.log",
    "train_log.jsonl",
    "samples.jsonl",
    "report.json",
    "report.md",
    "report.html",
}
EXPECTED_DIRS = {"dataset", "adapter", "merged"}


def test_run_directory_holds_exactly_the_expected_entries(tiny_run: RunState) -> None:
    entries = {p.name for p in tiny_run.run_dir.iterdir()}
    assert entries == EXPECTED_FILES | EXPECTED_DIRS
    assert tiny_run.run_dir.parent.name == "tiny"
    assert (tiny_run.run_dir.parent / "latest").resolve() == tiny_run.run_dir.resolve()
    adapter = {p.name for p in (tiny_run.run_dir / "adapter").iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} <= adapter
    merged = {p.name for p in (tiny_run.run_dir / "merged").iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "generation_config.json",
        "tokenizer.json",
    } <= merged
    assert {"train", "eval"} <= {p.name for p in (tiny_run.run_dir / "dataset").iterdir()}


def test_report_records_every_step_and_the_environment(tiny_run: RunState) -> None:
    report = json.loads((tiny_run.run_dir / "report.json").read_text())
    assert report["status"] == "ok" and report["error"] is None
    assert [s["name"] for s in report["steps"]] == [
        "load",
        "dataset",
        "train",
        "merge",
        "sample",
        "eval",
        "export",
        "report",
    ]
    statuses = [s["status"] for s in report["steps"]]
    assert statuses == ["ok"] * 5 + ["skipped", "skipped", "ok"]  # no eval, no export
    assert all(len(s["fingerprint"]) == 64 for s in report["steps"])
    env = report["environment"]
    assert env["device"] == "cpu" and env["torch"] and env["trl"] and env["seed"] == 42
    assert env["trust_remote_code"] is False


def test_report_has_data_train_merge_and_sample_sections(tiny_run: RunState) -> None:
    report = json.loads((tiny_run.run_dir / "report.json").read_text())
    data, train = report["data"], report["train"]
    assert data["train_rows"] + data["eval_rows"] == 12 and data["eval_rows"] == 3
    assert train["steps"] == 6 and train["trained_tokens"] > 0 and train["tokens_per_second"] > 0
    assert [entry["step"] for entry in train["loss_history"]] == [2, 4, 6]
    assert train["eval_loss_before"] is not None and train["eval_loss_after"] is not None
    assert train["peak_rss_mb"] > 0
    assert report["merge"]["verified"] is True
    assert (
        report["merge"]["max_abs_diff_vs_adapter"] <= 1e-3 < report["merge"]["max_abs_diff_vs_base"]
    )
    samples = report["samples"]
    assert [item["prompt"] for item in samples["items"]][1] == "Who built the widget?"
    scored = [item for item in samples["items"] if item["expect"] is not None]
    assert samples["scored"] == len(scored) == 1
    for which in ("base", "tuned"):
        ok = scored[0]["expect"].casefold() in scored[0][which].casefold()
        assert scored[0][f"{which}_ok"] is ok
        assert samples[f"{which}_accuracy"] == float(ok)
    artifacts = {a["path"]: a for a in report["artifacts"]}
    assert (
        "merged/model.safetensors" in artifacts and len(artifacts["samples.jsonl"]["sha256"]) == 64
    )


def test_training_lowers_eval_loss(tiny_run: RunState) -> None:
    train = tiny_run.results.train.to_json()
    assert train["eval_loss_after"] < train["eval_loss_before"]


def test_lora_weights_changed_and_base_weights_did_not(
    tiny_run: RunState, tiny_model_dir: Path
) -> None:
    from peft import PeftModel
    from safetensors.torch import load_file

    adapter = load_file(tiny_run.run_dir / "adapter" / "adapter_model.safetensors")
    lora_b = [tensor for name, tensor in adapter.items() if "lora_B" in name]
    assert lora_b and all(tensor.abs().sum() > 0 for tensor in lora_b)  # B starts at zero
    runtime = Runtime("cpu", "float32", None)
    base = load_model(tiny_model_dir, runtime, False)
    original = {k: v.clone() for k, v in base.state_dict().items()}
    tuned = PeftModel.from_pretrained(base, tiny_run.run_dir / "adapter")
    for name, value in tuned.get_base_model().state_dict().items():
        clean = name.replace(".base_layer", "")
        if "lora_" not in name and clean in original:
            assert (value == original[clean]).all(), name
    merged = load_model(tiny_run.run_dir / "merged", runtime, False)
    q_proj = "model.layers.0.self_attn.q_proj.weight"
    assert not (merged.state_dict()[q_proj] == original[q_proj]).all()


def test_merged_model_loads_with_plain_transformers(tiny_run: RunState) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tiny_run.run_dir / "merged"
    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert model.config.model_type == "llama"
    assert not hasattr(model, "peft_config")
    assert tokenizer.chat_template


def test_samples_file_matches_the_report(tiny_run: RunState) -> None:
    lines = (tiny_run.run_dir / "samples.jsonl").read_text().splitlines()
    items = [json.loads(line) for line in lines]
    assert items == [item.to_json() for item in tiny_run.results.sample.items]
    assert all(
        set(item) == {"prompt", "expect", "base", "tuned", "base_ok", "tuned_ok"} for item in items
    )


def test_train_log_has_timestamped_losses(tiny_run: RunState) -> None:
    entries = [
        json.loads(x) for x in (tiny_run.run_dir / "train_log.jsonl").read_text().splitlines()
    ]
    losses = [e for e in entries if "loss" in e]
    assert [e["step"] for e in losses] == [2, 4, 6]
    assert all("time" in e and e["loss"] > 0 for e in losses)
    evals = [e for e in entries if "eval_loss" in e]  # before and after training
    assert [e["step"] for e in evals] == [0, 6] and all("time" in e for e in evals)


def test_report_markdown_and_html_are_rendered(tiny_run: RunState) -> None:
    markdown = (tiny_run.run_dir / "report.md").read_text()
    assert "tiny" in markdown and "What is the capital of the moon?" in markdown
    html = (tiny_run.run_dir / "report.html").read_text()
    assert "<svg" in html and "<figcaption>Loss by optimizer step</figcaption>" in html
    assert "<figcaption>Example lengths</figcaption>" in html


def test_run_leaves_no_partial_outputs(tiny_run: RunState) -> None:
    assert not [p for p in tiny_run.run_dir.iterdir() if p.name.startswith(".")]


def test_generate_streams_from_the_merged_model(tiny_run: RunState) -> None:
    from smolora_recipes.inference.finished_run import open_finished_run
    from smolora_recipes.inference.generation import GenerationSettings, format_prompt, stream

    finished = open_finished_run(tiny_run.run_dir)
    assert finished.chat and finished.source == "merged"
    pieces: list[str] = []
    text = format_prompt(finished.tokenizer, "Who built the widget?", finished.chat)
    full = stream(
        finished.model,
        finished.tokenizer,
        text,
        GenerationSettings(max_new_tokens=5),
        pieces.append,
    )
    assert full.text == "".join(pieces)
    assert 0 < full.completion_tokens <= 5 and full.prompt_tokens > 5


def test_generate_answers_several_prompts_in_batches_in_order(tiny_run: RunState) -> None:
    from click.testing import CliRunner

    from smolora_recipes.cli.main import main

    prompts = ["Who built the widget?", "What is quux?", "What colour is the fox?"]
    arguments = ["generate", str(tiny_run.run_dir), "--max-new-tokens", "4", "--batch-size", "2"]
    for prompt in prompts:
        arguments += ["-p", prompt]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    shown = [line[4:] for line in result.output.splitlines() if line.startswith(">>> ")]
    assert shown == prompts


def test_run_artifacts_follow_the_umask_and_are_never_world_writable(tiny_run: RunState) -> None:
    file_mode, dir_mode = 0o666 & ~current_umask(), 0o777 & ~current_umask()
    for folder, dirs, files in os.walk(tiny_run.run_dir, followlinks=True):
        for name in dirs:
            assert os.stat(Path(folder, name)).st_mode & 0o777 == dir_mode, (folder, name)
        for name in files:
            mode = os.stat(Path(folder, name)).st_mode & 0o777
            assert mode == file_mode and not mode & 0o002, (folder, name, oct(mode))
