"""The trackers one run logs to (`sft.report_to`), opened before its first step and finished
with its report. A tracker that fails is dropped with a warning: the run and its report never
depend on a tracking server being reachable."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from smolora_recipes.tracking.metrics import (
    curve_entries,
    curve_point,
    run_params,
    run_tags,
    summary_metrics,
)

TENSORBOARD_FOLDER = "tensorboard"  # in the run folder
WANDB_FOLDER = "wandb"  # in the run folder: offline runs, until `wandb sync`


@dataclass(frozen=True)
class RunIdentity:
    """What names a run in a tracker, and where its local files go."""

    recipe: str
    run_dir: Path
    canonical: dict[str, Any]  # the resolved recipe: the run's parameters
    fingerprints: dict[str, str]  # per step: tags


class TrackerRun(Protocol):
    """One tracker's run: values per step while training, end results once."""

    name: str

    def log(self, metrics: dict[str, float], step: int) -> None: ...

    def finish(self, summary: dict[str, float], step: int, status: str) -> None: ...

    def location(self) -> dict[str, str]: ...


class TrackingSession:
    """The run's trackers: the curves as training logs them, then what the report holds."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        self.warn = warn
        self.runs: list[TrackerRun] = []
        self.logged: set[tuple[int, str]] = set()  # (step, metric) already sent

    @classmethod
    def open(
        cls,
        trackers: list[str],
        identity: RunIdentity,
        warn: Callable[[str], None],
    ) -> TrackingSession:
        """Start a run in each tracker named; one that cannot start is warned about."""
        session = cls(warn)
        for name in trackers:
            try:
                session.runs.append(_start(name, identity))
            except Exception as error:
                warn(f"{name}: not logged: {type(error).__name__}: {error}")
        return session

    def curve(self, entry: dict[str, Any]) -> None:
        """One train log entry (a training or eval loss), as training records it."""
        point = {
            name: value
            for name, value in curve_point(entry).items()
            if (entry["step"], name) not in self.logged
        }
        if not point:
            return
        self.logged.update((entry["step"], name) for name in point)
        self._each("log", point, entry["step"])

    def finish(self, report: dict[str, Any]) -> None:
        """Send the curves not yet sent (training came from the cache, ran on worker
        processes, or resumed), then the end results and the run's status."""
        train = report.get("train") or {}
        for entry in curve_entries(train):
            self.curve(entry)
        self._each("finish", summary_metrics(report), train.get("steps") or 0, report["status"])

    def locations(self) -> list[dict[str, str]]:
        """Where each tracker logged this run (report.json's `tracking`)."""
        return [{"tracker": run.name, **run.location()} for run in self.runs]

    def _each(self, method: str, *args: Any) -> None:
        for run in list(self.runs):
            try:
                getattr(run, method)(*args)
            except Exception as error:
                self.runs.remove(run)
                self.warn(f"{run.name}: logging stopped: {type(error).__name__}: {error}")


def _start(name: str, identity: RunIdentity) -> TrackerRun:
    params = run_params(identity.canonical)
    tags = run_tags(identity.recipe, identity.run_dir.name, identity.fingerprints)
    run_dir = identity.run_dir
    if name == "tensorboard":
        from smolora_recipes.tracking.tensorboard_run import TensorBoardRun

        return TensorBoardRun(run_dir / TENSORBOARD_FOLDER, params, tags)
    if name == "mlflow":
        from smolora_recipes.tracking.mlflow_run import MlflowRun, tracking_uri

        experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME") or identity.recipe
        return MlflowRun(tracking_uri(run_dir.parent), experiment, run_dir.name, params, tags)
    from smolora_recipes.tracking.wandb_run import WandbRun

    return WandbRun(identity.recipe, run_dir.name, run_dir / WANDB_FOLDER, params, tags)
