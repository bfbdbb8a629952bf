"""Where a loaded recipe's runs and step cache go: resolved once, when the recipe is loaded."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from smolora_recipes.core.paths import step_cache_dir
from smolora_recipes.recipe.artifact_sections import OutputSection


@dataclass(frozen=True)
class RunPaths:
    """The folder runs go to (`<runs_dir>/<name>/<run-id>/`) and the step cache folder."""

    runs_dir: Path
    cache_dir: Path

    @classmethod
    def resolve(cls, output: OutputSection, top_dir: Path) -> RunPaths:
        """`output.dir` against `top_dir` (the top recipe's folder, or the working folder for
        a shared recipe); `output.cache_dir`, else the shared cache under SMOLORA_HOME.
        A value written in a recipe or with `--set` is already absolute here (the loader
        resolved it against the file that wrote it); only defaults are relative."""
        runs = output.dir
        if not runs.is_absolute():
            runs = Path(os.path.normpath(top_dir / runs))
        return cls(runs, step_cache_dir(output.cache_dir))

    def recipe_runs(self, name: str) -> Path:
        """The folder holding the runs of the recipe called `name` (and its `latest` link)."""
        return self.runs_dir / name
