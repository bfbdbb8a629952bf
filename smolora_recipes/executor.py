"""Runs a plan: one step after another, timed and logged, each output renamed into place only
when its step succeeds, and a report written whatever happens."""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smolora_recipes.errors import UserInputError
from smolora_recipes.plan import Plan
from smolora_recipes.recipe.canonical import canonical_yaml
from smolora_recipes.recipe.loader import LoadedRecipe
from smolora_recipes.runtime import quiet_libraries
from smolora_recipes.steps.context import StepContext

RUN_LOG = "run.log"
EXIT_CODES = {"ok": 0, "failed": 1, "interrupted": 130}


@dataclass
class StepRecord:
    """What happened to one step."""

    name: str
    fingerprint: str
    status: str = "not run"  # ok | failed | skipped | not run
    outcome: str = ""
    duration_s: float | None = None


@dataclass
class RunState:
    """Everything a run accumulates; the report is assembled from it."""

    loaded: LoadedRecipe
    plan: Plan
    run_dir: Path
    command: str
    started: datetime
    records: list[StepRecord] = field(default_factory=list)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)
    status: str = "ok"
    error: dict[str, str] | None = None
    exit_code: int = 0


class RunLog:
    """Timestamped progress lines, to the terminal and to run.log."""

    def __init__(self, path: Path, echo: Callable[[str], None]) -> None:
        self.path = path
        self.echo = echo

    def __call__(self, message: str, step: str = "") -> None:
        line = f"[{datetime.now().strftime('%H:%M:%S')}] {step + ': ' if step else ''}{message}"
        self.echo(line)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def for_step(self, step: str) -> Callable[[str], None]:
        """A logger that prefixes the step name."""
        return lambda message: self(message, step)


def new_run_dir(parent: Path, started: datetime) -> Path:
    """A fresh `<parent>/<timestamp>` folder (suffixed when two runs start in one second)."""
    parent.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, 1000):
        candidate = parent / (stamp if attempt == 1 else f"{stamp}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RuntimeError(f"cannot create a run folder under {parent}")


def _point_latest(run_dir: Path) -> None:
    latest = run_dir.parent / "latest"
    try:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(run_dir.name, target_is_directory=True)
    except OSError:
        pass  # symlinks may be unavailable (Windows without privilege); the run is still fine


def execute(
    loaded: LoadedRecipe, plan: Plan, command: str, echo: Callable[[str], None]
) -> RunState:
    """Run every enabled step of `plan`, then write the report; never raises for step failures."""
    from smolora_recipes.report import write_report_files
    from smolora_recipes.report_builder import build_report

    started = datetime.now(UTC)
    run_dir = new_run_dir(loaded.recipe.output.dir / loaded.recipe.name, started)
    state = RunState(loaded, plan, run_dir, command, started)
    (run_dir / "recipe.resolved.yaml").write_text(canonical_yaml(loaded), encoding="utf-8")
    (run_dir / "plan.json").write_text(json.dumps(plan.to_json(), indent=2), encoding="utf-8")
    log = RunLog(run_dir / RUN_LOG, echo)
    log(f"run {run_dir}")
    quiet_libraries()
    for step in plan.steps:
        record = StepRecord(step.name, step.fingerprint)
        state.records.append(record)
        if step.name == "report":
            continue
        if not step.enabled:
            record.status, record.outcome = "skipped", f"skipped: {step.skip_reason}"
        elif state.status == "ok":
            _run_step(state, record, log)
    report_record = state.records[-1]
    report_record.status, report_record.outcome = "ok", "ran"
    write_report_files(run_dir, build_report(state))
    _point_latest(run_dir)
    log(f"{state.status}: report at {run_dir / 'report.md'}")
    return state


def _run_step(state: RunState, record: StepRecord, log: RunLog) -> None:
    module = importlib.import_module(f"smolora_recipes.steps.{record.name}")
    final = state.run_dir / module.OUTPUT
    partial = state.run_dir / f".{module.OUTPUT}.partial"
    if "." not in module.OUTPUT:
        partial.mkdir()
    ctx = StepContext(
        loaded=state.loaded,
        run_dir=state.run_dir,
        output=partial,
        outputs=state.outputs,
        metrics=state.metrics,
        log=log.for_step(record.name),
    )
    log("start", record.name)
    started = time.perf_counter()
    try:
        state.metrics[record.name] = module.run(ctx)
        partial.rename(final)
        state.outputs[record.name] = final
        record.status, record.outcome = "ok", "ran"
    except KeyboardInterrupt:
        record.status, record.outcome = "failed", "interrupted"
        state.status, state.exit_code = "interrupted", EXIT_CODES["interrupted"]
        state.error = {
            "step": record.name,
            "type": "KeyboardInterrupt",
            "message": "interrupted by the user",
            "log": str(log.path),
        }
    except Exception as error:  # any failure: recorded in the report, never half-written output
        record.status, record.outcome = "failed", f"{type(error).__name__}"
        state.status = "failed"
        state.exit_code = error.exit_code if isinstance(error, UserInputError) else 1
        message = error.render() if isinstance(error, UserInputError) else str(error)
        state.error = {
            "step": record.name,
            "type": type(error).__name__,
            "message": message,
            "log": str(log.path),
        }
        with log.path.open("a", encoding="utf-8") as handle:
            traceback.print_exc(file=handle)
        log(f"failed: {type(error).__name__}: {message}", record.name)
    finally:
        record.duration_s = round(time.perf_counter() - started, 3)
        _remove(partial)
    if record.status == "ok":
        log(f"done in {record.duration_s:.1f}s", record.name)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def stderr_echo(line: str) -> None:
    """Default progress output: stderr, so stdout stays clean for machine output."""
    print(line, file=sys.stderr, flush=True)
