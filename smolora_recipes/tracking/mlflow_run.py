"""An MLflow run, logged through MLflow's client: to MLFLOW_TRACKING_URI, else to a SQLite
store beside the recipe's runs (MLflow's file store is in maintenance mode)."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

STORE_NAME = "mlflow.db"
BATCH = 100  # MLflow's most parameters, or tags, in one log_batch call
STATUSES = {"ok": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
_UNSAFE_KEY = re.compile(r"[^\w\-. /:]")  # what MLflow refuses in a key


def tracking_uri(runs_folder: Path) -> str:
    """MLFLOW_TRACKING_URI, else a SQLite store in the folder holding the recipe's runs."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{runs_folder / STORE_NAME}"


class MlflowRun:
    """One run in an MLflow experiment; metrics carry the optimizer step."""

    name = "mlflow"

    def __init__(
        self, uri: str, experiment: str, run_name: str, params: dict[str, str], tags: dict[str, str]
    ) -> None:
        from mlflow.tracking import MlflowClient

        for noisy in ("mlflow", "alembic"):  # "creating initial database tables" and the like
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self.uri, self.experiment = uri, experiment
        self.client = MlflowClient(tracking_uri=uri)
        self.run_id = self.client.create_run(
            self._experiment_id(experiment), run_name=run_name
        ).info.run_id
        self._log_pairs(params, tags)

    def _experiment_id(self, name: str) -> str:
        """The experiment's id, created when it is new (by this run or by one beside it)."""
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return self.client.create_experiment(name)
        except MlflowException:  # another run created it meanwhile
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    def _log_pairs(self, params: dict[str, str], tags: dict[str, str]) -> None:
        from mlflow.entities import Param, RunTag

        for chunk in _chunks(params.items(), BATCH):
            self.client.log_batch(self.run_id, params=[Param(_key(k), v) for k, v in chunk])
        for chunk in _chunks(tags.items(), BATCH):
            self.client.log_batch(self.run_id, tags=[RunTag(_key(k), v) for k, v in chunk])

    def log(self, metrics: dict[str, float], step: int) -> None:
        """Metric values at an optimizer step."""
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        values = [Metric(_key(name), value, stamp, step) for name, value in metrics.items()]
        for chunk in _chunks(values, BATCH * 10):  # 1000 metrics per call at most
            self.client.log_batch(self.run_id, metrics=list(chunk))

    def finish(self, summary: dict[str, float], step: int, status: str) -> None:
        """The end results at the last step; the run ends FINISHED, FAILED or KILLED."""
        self.log(summary, step)
        self._log_pairs({}, {"smolora.status": status})
        self.client.set_terminated(self.run_id, STATUSES.get(status, "FAILED"))

    def location(self) -> dict[str, str]:
        """The store, the experiment and the run's id, and how to browse them (the `mlflow`
        package has the UI; `mlflow-skinny` logs only)."""
        where = {"uri": self.uri, "experiment": self.experiment, "run_id": self.run_id}
        return {**where, "open": f"mlflow ui --backend-store-uri {self.uri}"}


T = TypeVar("T")


def _chunks(items: Iterable[T], size: int) -> list[list[T]]:
    """`items` in lists of `size` (itertools.batched arrives with Python 3.12)."""
    listed = list(items)
    return [listed[start : start + size] for start in range(0, len(listed), size)]


def _key(name: str) -> str:
    return _UNSAFE_KEY.sub("_", name)
