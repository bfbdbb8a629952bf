"""What the executor hands each step: the recipe, where to write, and upstream results."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smolora_recipes.recipe.loader import LoadedRecipe
from smolora_recipes.recipe.schema import Recipe
from smolora_recipes.runtime import Runtime


@dataclass
class StepContext:
    """Inputs of one step run. `output` is a temporary path renamed into place on success."""

    loaded: LoadedRecipe
    run_dir: Path
    output: Path
    side_dir: Path  # where the step's SIDE_FILES go (kept and cached with its output)
    scratch: Path  # per-fingerprint working folder that survives a crash (checkpoints)
    outputs: dict[str, Path]  # final output paths of the steps that already ran
    metrics: dict[str, dict[str, Any]]  # metrics of the steps that already ran
    log: Callable[[str], None]
    memory: dict[str, Any] = field(default_factory=dict)  # in-process hand-offs between steps

    @property
    def recipe(self) -> Recipe:
        """The validated recipe."""
        return self.loaded.recipe

    def model_info(self) -> dict[str, Any]:
        """What the load step resolved: model folder, kind and runtime."""
        return json.loads(self.outputs["load"].read_text())

    def tokenizer(self) -> Any:
        """The base model's tokenizer, with the recipe's chat template when it sets one."""
        from smolora_recipes.runtime import load_tokenizer

        recipe = self.recipe
        return load_tokenizer(
            self.model_folder(), recipe.model.trust_remote_code, recipe.data.chat_template
        )

    def model_folder(self) -> Path:
        """The local folder holding the base model's weights and tokenizer."""
        return Path(self.model_info()["folder"])

    def runtime(self) -> Runtime:
        """Device, dtype and autocast chosen by the load step."""
        return Runtime(**self.model_info()["runtime"])
