"""What the executor hands each step: the recipe, where to write, and upstream results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smolora_recipes.models.runtime import Runtime, load_tokenizer
from smolora_recipes.plan.build import PlannedStep
from smolora_recipes.recipe.loader import LoadedRecipe
from smolora_recipes.recipe.schema import Recipe
from smolora_recipes.steps.results import LoadResult, StepResults


@dataclass
class Handoffs:
    """Objects a step passes to a later step of the same run in memory (never cached).

    Each saves reloading from disk what this process already holds; a step that finds a
    field empty (its upstream came from the cache, or ran on other processes) reads the disk.
    """

    tokenizers: dict[tuple[Path, str | None], Any] = field(default_factory=dict)
    trained_model: Any = None  # the adapter model `train` leaves for `merge`
    merged_model: Any = None  # the merged model `merge` leaves for `sample`
    train_curve: Callable[[dict[str, Any]], None] | None = None  # gets each train log entry

    def clear(self) -> None:
        """Drop everything held, so no model outlives the run."""
        self.tokenizers.clear()
        self.trained_model = self.merged_model = self.train_curve = None


@dataclass
class StepContext:
    """Inputs of one step run. `output` is a temporary path renamed into place on success."""

    loaded: LoadedRecipe
    run_dir: Path
    output: Path
    side_dir: Path  # where the step's SIDE_FILES go (kept and cached with its output)
    scratch: Path  # per-fingerprint working folder that survives a crash (checkpoints)
    outputs: dict[str, Path]  # final output paths of the steps that already ran
    results: StepResults  # results of the steps that already ran
    log: Callable[[str], None]
    handoffs: Handoffs = field(default_factory=Handoffs)
    planned: PlannedStep | None = None  # this step in the plan (its fingerprint material)

    @property
    def recipe(self) -> Recipe:
        """The validated recipe."""
        return self.loaded.recipe

    @property
    def loaded_model(self) -> LoadResult:
        """What the load step resolved: model folder, kind and runtime."""
        assert self.results.load is not None, "the load step runs first"
        return self.results.load

    def tokenizer(self, folder: Path | None = None) -> Any:
        """The base model's tokenizer (in `folder`, else the loaded model's), with the recipe's
        chat template when it sets one.

        Loaded once per run and shared by its steps; steps must not change its settings.
        """
        recipe = self.recipe
        folder = folder or self.model_folder()
        key = (folder, recipe.data.chat_template)
        if key not in self.handoffs.tokenizers:
            self.handoffs.tokenizers[key] = load_tokenizer(
                folder, recipe.model.trust_remote_code, recipe.data.chat_template
            )
        return self.handoffs.tokenizers[key]

    def model_folder(self) -> Path:
        """The local folder holding the base model's weights and tokenizer."""
        return self.loaded_model.folder_path

    def runtime(self) -> Runtime:
        """Device, dtype and autocast chosen by the load step."""
        return self.loaded_model.runtime
