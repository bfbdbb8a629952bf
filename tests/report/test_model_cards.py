"""The run's model cards: hub metadata naming the base by its published name, what the run
learned and how well (the grep for paths of this machine: tests/steps/test_portable_adapter.py)."""

from __future__ import annotations

import json

from huggingface_hub import ModelCard

from smolora_recipes.run.state import RunState


def test_both_cards_carry_hub_metadata_results_data_and_the_recipe(tiny_run: RunState) -> None:
    report = json.loads((tiny_run.run_dir / "report.json").read_text())
    for kind, library in (("merged", "transformers"), ("adapter", "peft")):
        card = ModelCard.load(tiny_run.run_dir / kind / "README.md")
        assert card.data.base_model == "tiny-llama"  # a local base: its folder's name
        assert card.data.library_name == library
        assert card.data.pipeline_tag == "text-generation"
        assert "smolora-recipes" in card.data.tags
        text = card.text
        assert text.lstrip().startswith("# tiny\n")
        before, after = report["train"]["eval_loss_before"], report["train"]["eval_loss_after"]
        assert f"eval loss {before:.4f} -> {after:.4f}" in text
        assert "of 1 (contains)" in text  # one sample prompt states an expectation
        sha = tiny_run.plan.step("dataset").inputs["data.sources.0.path"]["sha256"]
        assert f"| jsonl `data/train.jsonl` | 12 | {sha} |" in text
        assert "| `lora.r` | 4 |" in text
        assert "```yaml\nrecipe_version: 1\nname: tiny\n" in text
        assert "\noutput:" not in text  # where runs go on this machine is not the model's
        assert "## Data\n\n| source | rows used | sha256 |\n|---|---|---|\n" in text
        assert f"hf upload YOUR-NAME/tiny{'' if kind == 'merged' else '-lora'}" in text
