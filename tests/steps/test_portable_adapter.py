"""A run's adapter names its base model as it is known elsewhere, never by a path of this
machine, and neither `adapter/` nor `merged/` holds such a path (issue 20)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from smolora_recipes.run.state import RunState


def test_no_path_of_this_machine_is_in_the_adapter_or_the_merged_model(
    tiny_run: RunState, tiny_model_dir: Path
) -> None:
    machine_paths = [str(tiny_model_dir), str(tiny_model_dir.parent), str(Path.home())]
    for folder in ("adapter", "merged"):
        for file in (tiny_run.run_dir / folder).iterdir():
            if file.suffix in (".json", ".md", ".jinja", ".txt"):
                text = file.read_text(encoding="utf-8")
                assert not [path for path in machine_paths if path in text], file


def test_the_adapter_config_and_card_name_the_base_model(tiny_run: RunState) -> None:
    adapter = tiny_run.run_dir / "adapter"
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "tiny-llama"
    assert config["target_modules"] == sorted(config["target_modules"])
    card = (adapter / "README.md").read_text()
    metadata = yaml.safe_load(card.split("---\n")[1])
    assert metadata == {
        "base_model": "tiny-llama",
        "library_name": "peft",
        "pipeline_tag": "text-generation",
        "tags": ["smolora-recipes", "lora", "sft"],
    }
    assert "# tiny\n" in card and "| `lora.r` | 4 |" in card  # the run's card (report time)
    assert "More Information Needed" not in card  # peft's placeholder is gone
