"""What a run accumulates as it goes: its options, each step's record, results and hand-offs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from smolora_recipes.plan.build import Plan
from smolora_recipes.recipe.loader import LoadedRecipe
from smolora_recipes.steps.context import Handoffs
from smolora_recipes.steps.results import StepResults
from smolora_recipes.store.cache import StepCache
from smolora_recipes.tracking.session import TrackingSession


@dataclass
class RunOptions:
    """How to execute: the cache (None: --no-cache), a step to force, how runs link outputs."""

    cache: StepCache | None = None
    force: str | None = None
    link: str = "symlink"
    until: str | None = None  # stop after this step (`preview` needs load and dataset only)


@dataclass
class StepRecord:
    """What happened to one step."""

    name: str
    fingerprint: str
    status: str = "not run"  # ok | failed | skipped | not run
    outcome: str = ""
    duration_s: float | None = None  # the step's own work; library imports are counted apart
    import_s: float = 0.0  # importing the libraries the step needs (first step to need them)
    peak_rss_mb: float | None = None  # resident memory (CPU) while the step ran
    peak_gpu_mb: float | None = None  # torch's allocated CUDA memory while the step ran


@dataclass
class RunState:
    """Everything a run accumulates; the report is assembled from it."""

    loaded: LoadedRecipe
    plan: Plan
    run_dir: Path
    command: str
    started: datetime
    options: RunOptions = field(default_factory=RunOptions)
    records: list[StepRecord] = field(default_factory=list)
    results: StepResults = field(default_factory=StepResults)
    outputs: dict[str, Path] = field(default_factory=dict)
    status: str = "ok"
    error: dict[str, str] | None = None
    warnings: list[str] = field(default_factory=list)
    exit_code: int = 0
    handoffs: Handoffs = field(default_factory=Handoffs)  # in memory, between steps of this run
    tracking: TrackingSession | None = None  # the trackers of `sft.report_to`

    @property
    def run_name(self) -> str:
        """`<recipe name>/<run id>`: how cache entries name the run that made them."""
        return f"{self.loaded.recipe.name}/{self.run_dir.name}"
