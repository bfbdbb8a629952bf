"""Runs a plan: each step reused from the cache when its fingerprint is there, else computed
(timed, logged, under the entry's lock) and stored whole; a report is written whatever happens."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smolora_recipes.core.errors import UserInputError, error_text
from smolora_recipes.core.json_record import JsonRecord
from smolora_recipes.core.permissions import follow_umask
from smolora_recipes.models.memory import MemoryWatch
from smolora_recipes.models.runtime import import_libraries, quiet_libraries, release_free_memory
from smolora_recipes.plan.build import Plan, pinned
from smolora_recipes.plan.specs import STEP_SPEC_BY_NAME
from smolora_recipes.plan.status import record_plan
from smolora_recipes.recipe.canonical import canonical_data, canonical_yaml
from smolora_recipes.recipe.loader import LoadedRecipe
from smolora_recipes.recipe.yaml_source import path_text
from smolora_recipes.report.files import written_report
from smolora_recipes.run.state import RunOptions, RunState, StepRecord
from smolora_recipes.steps.context import StepContext
from smolora_recipes.steps.results import RESULT_TYPES
from smolora_recipes.store.cache import CacheEntry, StepCache
from smolora_recipes.store.hashing import cancel_background_hashing, hash_in_background
from smolora_recipes.tracking.session import RunIdentity, TrackingSession
from smolora_recipes.training.result import TrainResult

RUN_LOG = "run.log"
EXIT_CODES = {"ok": 0, "failed": 1, "interrupted": 130}


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
    """`latest` -> this run, swapped in one rename (a reader never finds it missing)."""
    latest = run_dir.parent / "latest"
    swap = run_dir.parent / f".latest-{os.getpid()}"
    try:
        swap.unlink(missing_ok=True)
        swap.symlink_to(run_dir.name, target_is_directory=True)
        os.replace(swap, latest)
    except OSError:
        pass  # symlinks may be unavailable (Windows without privilege); the run is still fine


def execute(
    loaded: LoadedRecipe,
    plan: Plan,
    command: str,
    echo: Callable[[str], None],
    options: RunOptions | None = None,
) -> RunState:
    """Run or reuse every enabled step of `plan`, then write the report; never raises for
    step failures."""
    started = datetime.now(UTC)
    loaded = pinned(loaded, plan)  # hub revisions as the commits the plan fingerprinted
    run_dir = new_run_dir(loaded.paths.recipe_runs(loaded.recipe.name), started)
    state = RunState(loaded, plan, run_dir, command, started, options or RunOptions())
    (run_dir / "recipe.resolved.yaml").write_text(canonical_yaml(loaded), encoding="utf-8")
    (run_dir / "plan.json").write_text(json.dumps(plan.to_json(), indent=2), encoding="utf-8")
    log = RunLog(run_dir / RUN_LOG, echo)
    log(f"run {run_dir}")
    for path, origin in loaded.origins.items():
        if origin.kind == "cleared":  # an exclusive field a `--set` replaced
            log(f"{path_text(path)}: {origin.describe()}")
    state.warnings = run_warnings(loaded)
    for warning in state.warnings:
        log(f"WARNING: {warning}")
    if loaded.recipe.sft.report_to and state.options.until is None:
        state.tracking = _open_tracking(state, log)
    forced = False
    try:
        for step in plan.steps:
            record = StepRecord(step.name, step.fingerprint)
            state.records.append(record)
            forced = forced or state.options.force == step.name
            if step.name == "report":
                continue
            if not step.enabled:
                record.status, record.outcome = "skipped", f"skipped: {step.skip_reason}"
            elif state.status == "ok" and not _past(state, step.name):
                _run_step(state, record, log, forced)
        _write_report(state, state.records[-1], log)
    finally:
        cancel_background_hashing()
        state.handoffs.clear()  # models handed between steps are not kept past the run
        if state.options.cache is not None:
            state.options.cache.release_all()
    if state.status == "ok" and state.options.cache is not None and state.options.until is None:
        record_plan(state.options.cache, plan)
    if state.status == "ok":  # `latest` is the newest run that worked, not a failed try
        _point_latest(run_dir)
    report = written_report(run_dir)
    log(f"{state.status}: " + (f"report at {report}" if report else "no report written"))
    return state


def run_warnings(loaded: LoadedRecipe) -> list[str]:
    """What the user must know before anything runs (repeated in the report)."""
    model = loaded.recipe.model
    if not model.trust_remote_code:
        return []
    origin = loaded.origin_of(("model", "trust_remote_code")).describe()
    return [
        f"model.trust_remote_code is true ({origin}): Python code shipped with {model.base} "
        "will run on this machine"
    ]


def _open_tracking(state: RunState, log: RunLog) -> TrackingSession:
    """A run in each tracker of `sft.report_to`, told each train log entry as training runs."""

    def warn(message: str) -> None:
        state.warnings.append(message)
        log(f"WARNING: {message}")

    identity = RunIdentity(
        recipe=state.loaded.recipe.name,
        run_dir=state.run_dir,
        canonical=canonical_data(state.loaded),
        fingerprints={step.name: step.fingerprint for step in state.plan.steps if step.enabled},
    )
    session = TrackingSession.open(state.loaded.recipe.sft.report_to, identity, warn)
    state.handoffs.train_curve = session.curve
    for where in session.locations():
        details = ", ".join(f"{key} {value}" for key, value in where.items() if key != "tracker")
        log(f"tracking: {where['tracker']}: {details}")
    return session


def _past(state: RunState, step: str) -> bool:
    """True for the steps after `options.until`."""
    until = state.options.until
    return until is not None and any(record.name == until for record in state.records[:-1])


def _run_step(state: RunState, record: StepRecord, log: RunLog, forced: bool) -> None:
    started, memory = time.perf_counter(), MemoryWatch()
    try:
        module = importlib.import_module(f"smolora_recipes.steps.{record.name}")
        names = [module.OUTPUT, *getattr(module, "SIDE_FILES", ())]
        cache = state.options.cache
        if cache is None:
            scratch = state.run_dir / f".{record.name}-scratch"
            try:
                folder, result = _compute(
                    state, module, record, log, state.run_dir / f".{record.name}", scratch
                )
            finally:
                _remove(scratch)
            for name in names:
                if (folder / name).exists():
                    (folder / name).rename(state.run_dir / name)
            _remove(folder)
            record.outcome = "ran"
        else:
            entry, record.outcome, result = _cached_or_computed(
                state, cache, module, record, log, forced
            )
            cache.record_use(entry, state.run_name)
            cache.hold(entry)
            for name in names:
                if (entry.path / name).exists():
                    _link(entry.path / name, state.run_dir / name, state.options.link)
        state.results.keep(record.name, result)
        state.outputs[record.name] = state.run_dir / module.OUTPUT
        record.status = "ok"
        judge = getattr(module, "verdict", None)  # a step whose result can fail the run
        failure = judge(result, state.loaded.recipe) if judge else None
        if failure:
            _record_verdict(state, record, log, failure)
        if isinstance(result, TrainResult):
            for warning in result.warnings():
                state.warnings.append(warning)
                log(f"WARNING: {warning}", record.name)
        if record.outcome.startswith("ran"):  # new files: hashed for the report meanwhile
            hash_in_background(_files_below(state.run_dir / name for name in names))
    except KeyboardInterrupt:
        record.status, record.outcome = "failed", "interrupted"
        state.status, state.exit_code = "interrupted", EXIT_CODES["interrupted"]
        state.error = {
            "step": record.name,
            "type": "KeyboardInterrupt",
            "message": "interrupted by the user"
            + (
                "; running the same recipe again reuses the finished steps and resumes training"
                " from its last checkpoint"
                if state.options.cache is not None
                else ""
            ),
            "log": str(log.path),
        }
    except Exception as error:  # any failure: recorded in the report, never half-written output
        _record_failure(state, record, log, error)
    finally:
        record.duration_s = round(time.perf_counter() - started - record.import_s, 3)
        peak = memory.peak()
        record.peak_rss_mb, record.peak_gpu_mb = peak.rss_mb, peak.gpu_mb
    if record.status == "ok":
        log(f"{record.outcome} in {record.duration_s:.1f}s", record.name)


def _record_verdict(state: RunState, record: StepRecord, log: RunLog, failure: str) -> None:
    """Fail the run on what a step's result says against the recipe (an eval gate), keeping
    the step's output and result: the numbers stay in the report and the cache."""
    record.status, record.outcome = "failed", f"{record.outcome}; gate failed"
    state.status, state.exit_code = "failed", 1
    state.error = {
        "step": record.name,
        "type": "GateFailed",
        "message": f"{record.name} gate: {failure}",
        "log": str(log.path),
    }
    log(f"failed: {record.name} gate: {failure}", record.name)


def _record_failure(state: RunState, record: StepRecord, log: RunLog, error: Exception) -> None:
    """Mark the step and the run failed with `error`, its traceback in the run's log."""
    record.status, record.outcome = "failed", f"{type(error).__name__}"
    state.status = "failed"
    state.exit_code = error.exit_code if isinstance(error, UserInputError) else 1
    message = error_text(error)
    state.error = {
        "step": record.name,
        "type": type(error).__name__,
        "message": message,
        "log": str(log.path),
    }
    with log.path.open("a", encoding="utf-8") as handle:
        traceback.print_exc(file=handle)
    log(f"failed: {type(error).__name__}: {message}", record.name)


def _write_report(state: RunState, record: StepRecord, log: RunLog) -> None:
    """The report step: write report.json, .md and .html. When that fails the run fails with
    the report step named, and report.json alone is written to say so (where even that fails,
    the log and the terminal do); no report file is left half-written."""
    from smolora_recipes.plan.build import plan_inputs
    from smolora_recipes.report.files import write_report_files
    from smolora_recipes.report.model_cards import write_model_cards
    from smolora_recipes.run.report_builder import build_report

    record.status, record.outcome = "ok", "ran"
    try:
        report = build_report(state)
        if state.tracking is not None:  # its warnings join the report's (the same list)
            state.tracking.finish(report)
        if state.status == "ok":
            write_model_cards(state.run_dir, report, plan_inputs(state.plan))
        write_report_files(state.run_dir, report)
    except Exception as error:
        _record_failure(state, record, log, error)
        try:
            write_report_files(state.run_dir, build_report(state), names=("report.json",))
        except Exception as second:
            log(f"no report written: {type(second).__name__}: {error_text(second)}", "report")


def _cached_or_computed(
    state: RunState, cache: StepCache, module: Any, record: StepRecord, log: RunLog, forced: bool
) -> tuple[CacheEntry, str, JsonRecord]:
    """The step's cache entry, outcome and typed result, computing it (under the entry's lock)
    only when missing."""
    warn = log.for_step(record.name)
    reusable = getattr(module, "reusable", lambda result, warn: True)  # what a step checks
    entry = None if forced else cache.lookup(record.name, record.fingerprint, warn=warn)
    stale = False  # the entry is whole, but what it relies on outside the cache is not
    if entry is not None:
        result = _cached_result(entry)
        if reusable(result, warn):
            return entry, f"cached (from run {entry.manifest['run']})", result
        stale = True
    with cache.lock(record.name, record.fingerprint):
        skip = forced or stale
        entry = None if skip else cache.lookup(record.name, record.fingerprint, warn=warn)
        if entry is not None:  # another run finished it while we waited for the lock
            return entry, f"cached (from run {entry.manifest['run']})", _cached_result(entry)
        staging = cache.staging_dir(record.name, record.fingerprint)
        scratch = cache.scratch_dir(record.name, record.fingerprint)
        if forced:
            _remove(scratch)  # a forced step starts afresh, not from old checkpoints
        try:
            _, result = _compute(state, module, record, log, staging, scratch)
            entry = cache.commit(
                record.name, record.fingerprint, staging, result.to_json(), state.run_name
            )
            _remove(scratch)  # kept only while the step is unfinished, to resume from
        finally:
            _remove(staging)
    return entry, "ran (forced)" if forced else "ran", result


def _cached_result(entry: CacheEntry) -> JsonRecord:
    """A cached step's typed result, rebuilt from the JSON its entry stores."""
    return RESULT_TYPES[entry.step].from_json(entry.metrics())


def _compute(
    state: RunState, module: Any, record: StepRecord, log: RunLog, folder: Path, scratch: Path
) -> tuple[Path, JsonRecord]:
    """Run one step into `folder`; on failure nothing of it is left."""
    record.import_s = import_libraries(STEP_SPEC_BY_NAME[record.name].libraries)
    quiet_libraries()
    folder.mkdir(parents=True, exist_ok=True)
    output = folder / module.OUTPUT
    if "." not in module.OUTPUT:
        output.mkdir()
    ctx = StepContext(
        loaded=state.loaded,
        run_dir=state.run_dir,
        output=output,
        side_dir=folder,
        scratch=scratch,
        outputs=state.outputs,
        results=state.results,
        log=log.for_step(record.name),
        handoffs=state.handoffs,
        planned=state.plan.step(record.name),
    )
    log("start", record.name)
    try:
        result = module.run(ctx)
        release_free_memory()
        follow_umask(folder)
        return folder, result
    except BaseException:
        _remove(folder)
        raise


def _link(source: Path, target: Path, mode: str) -> None:
    """Make `target` in the run folder refer to a cached output: a symlink, or a copy."""
    if mode == "symlink":
        try:
            target.symlink_to(source, target_is_directory=source.is_dir())
            return
        except OSError:
            pass  # no symlinks here (e.g. Windows without privilege): copy instead
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy2(source, target)


def _files_below(paths: Iterable[Path]) -> list[Path]:
    """The files among `paths` and below those that are folders (following links)."""
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            found.append(path)
    return found


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def stderr_echo(line: str) -> None:
    """Default progress output: stderr, so stdout stays clean for machine output."""
    print(line, file=sys.stderr, flush=True)
