"""What training needs, as one value: built by the train step, or by a worker process from the
launch file the step wrote (so training never depends on the step machinery)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smolora_recipes.models.runtime import Runtime, load_tokenizer
from smolora_recipes.recipe.schema import Recipe

TRAIN_LOG = "train_log.jsonl"  # the loss curve, one JSON line per logged step


@dataclass
class TrainingJob:
    """One training of an adapter: the recipe, where its inputs are, where to write."""

    recipe: Recipe
    base_dir: Path  # the recipe's folder: relative data paths (streaming) resolve against it
    model_folder: Path
    runtime: Runtime
    dataset_dir: Path
    output: Path  # the adapter folder
    side_dir: Path  # where the train log is kept beside the adapter
    scratch: Path  # checkpoints survive a crash here, to resume from
    log: Callable[[str], None]
    tokenizer: Any = field(default=None, repr=False)
    libraries: tuple[str, ...] = ()  # imported before training, as the executor does
    base_name: str = ""  # the base model's portable name, written into the adapter's config
    listener: Callable[[dict[str, Any]], None] | None = None  # each train log entry, here only

    def to_json(self) -> dict[str, Any]:
        """Plain data for a worker process's launch file (the tokenizer is loaded there)."""
        return {
            "recipe": self.recipe.model_dump(mode="json"),
            "base_dir": str(self.base_dir),
            "model_folder": str(self.model_folder),
            "runtime": self.runtime.to_json(),
            "dataset_dir": str(self.dataset_dir),
            "output": str(self.output),
            "side_dir": str(self.side_dir),
            "scratch": str(self.scratch),
            "libraries": list(self.libraries),
            "base_name": self.base_name,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], log: Callable[[str], None]) -> TrainingJob:
        """The job a launch file describes, with its tokenizer loaded in this process."""
        recipe = Recipe.model_validate(data["recipe"])
        folder = Path(data["model_folder"])
        tokenizer = load_tokenizer(
            folder, recipe.model.trust_remote_code, recipe.data.chat_template
        )
        return cls(
            recipe=recipe,
            base_dir=Path(data["base_dir"]),
            model_folder=folder,
            runtime=Runtime(**data["runtime"]),
            dataset_dir=Path(data["dataset_dir"]),
            output=Path(data["output"]),
            side_dir=Path(data["side_dir"]),
            scratch=Path(data["scratch"]),
            log=log,
            tokenizer=tokenizer,
            libraries=tuple(data["libraries"]),
            base_name=data["base_name"],
        )
