"""Open the tuned model of a finished run directory (for `smolora generate`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from smolora_recipes.core.errors import Location, Problem, UserInputError
from smolora_recipes.models.runtime import Runtime, load_model, load_tokenizer, quiet_libraries


@dataclass
class FinishedRun:
    """A run's tuned model and tokenizer, and whether prompts go through the chat template."""

    model: Any
    tokenizer: Any
    chat: bool
    source: str


def open_finished_run(run_dir: Path) -> FinishedRun:
    """Load the merged model of `run_dir`, or base + adapter when the run did not merge."""
    resolved = run_dir / "recipe.resolved.yaml"
    model_json = run_dir / "model.json"
    if not resolved.is_file() or not model_json.is_file():
        raise UserInputError(
            Problem(
                "not a finished run folder (no recipe.resolved.yaml / model.json)",
                Location(str(run_dir)),
                hint="pass a folder such as runs/quickstart/latest",
            )
        )
    recipe = yaml.safe_load(resolved.read_text(encoding="utf-8"))
    info = json.loads(model_json.read_text(encoding="utf-8"))
    trust = bool(info.get("trust_remote_code"))
    runtime = Runtime(**info["runtime"])
    chat = recipe.get("data", {}).get("format") == "chat"
    merged, adapter = run_dir / "merged", run_dir / "adapter"
    import transformers  # noqa: F401  (imported here so its progress bars can be silenced)

    quiet_libraries()
    if merged.is_dir():
        return FinishedRun(
            load_model(merged, runtime, trust), load_tokenizer(merged, trust), chat, "merged"
        )
    if not adapter.is_dir():
        raise UserInputError(
            Problem(
                "the run has neither merged/ nor adapter/: it did not finish training",
                Location(str(run_dir)),
                hint="see its report.md for the failing step",
            )
        )
    from peft import PeftModel

    base = load_model(Path(info["folder"]), runtime, trust)
    model = PeftModel.from_pretrained(base, adapter).eval()
    return FinishedRun(model, load_tokenizer(adapter, trust), chat, "base + adapter")
