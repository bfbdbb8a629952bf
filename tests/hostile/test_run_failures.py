"""Failures during a run: a crash in any step, a full disk, a folder we may not write, damaged
model files. Each leaves a failed report naming the step, error and log; the cache stays intact;
nothing half-written looks complete; files get the user's umask."""

from __future__ import annotations

import errno
import importlib
import json
import os
import shutil
from pathlib import Path

import pytest

from smolora_recipes.core.errors import UserInputError, problem_at
from smolora_recipes.plan.build import build_plan
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.report import files as report_files
from smolora_recipes.report.files import REPORT_FILES
from smolora_recipes.run import report_builder
from smolora_recipes.run.executor import execute
from smolora_recipes.run.state import RunOptions, RunState
from smolora_recipes.store.cache import MANIFEST, METRICS, StepCache
from tests.conftest import invoke
from tests.tiny_runs import write_tiny_recipe


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One step cache for the module, so each crash test recomputes only its own step."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def recipe(tmp_path: Path, tiny_model_dir: Path) -> Path:
    return write_tiny_recipe(tmp_path, tiny_model_dir, "r.yaml")


def run(
    recipe: Path, cache: Path, until: str | None = None, *overrides: str, force: str | None = None
) -> RunState:
    """Execute `recipe` with a step cache, up to `until`, recomputing `force` and after."""
    loaded = load_recipe(recipe, overrides)
    options = RunOptions(cache=StepCache(cache), until=until, force=force)
    return execute(loaded, build_plan(loaded), "test", lambda line: None, options)


def assert_failed_report(state: RunState, step: str, kind: str, code: int) -> dict:
    """The run failed at `step`, and its report.json says so with the error and log path."""
    assert state.status == "failed" and state.exit_code == code
    report = json.loads((state.run_dir / "report.json").read_text())
    assert report["status"] == "failed"
    assert report["error"]["step"] == step and report["error"]["type"] == kind
    assert Path(report["error"]["log"]).is_file()
    assert [s["status"] for s in report["steps"] if s["name"] == step] == ["failed"]
    return report["error"]


@pytest.mark.parametrize("step", ["load", "dataset", "train", "merge", "sample"])
@pytest.mark.parametrize(
    ("error", "code"),
    [(RuntimeError("boom inside"), 1), (UserInputError(problem_at("x.jsonl", "bad input")), 2)],
)
def test_a_crash_in_any_step_leaves_a_failed_report(
    recipe: Path,
    shared_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
    error: Exception,
    code: int,
) -> None:
    def crash(ctx: object) -> None:
        raise error

    assert run(recipe, shared_cache, until=step).status == "ok"  # an entry to keep intact
    fingerprint = build_plan(load_recipe(recipe)).step(step).fingerprint
    before = StepCache(shared_cache).lookup(step, fingerprint)
    assert before is not None
    files_before = sorted(p.relative_to(before.path) for p in before.path.rglob("*"))
    module = importlib.import_module(f"smolora_recipes.steps.{step}")
    monkeypatch.setattr(module, "run", crash)
    state = run(recipe, shared_cache, force=step)
    message = assert_failed_report(state, step, type(error).__name__, code)["message"]
    assert ("boom inside" if code == 1 else "x.jsonl: bad input") in message
    after = StepCache(shared_cache).lookup(step, fingerprint)
    assert after is not None and after.manifest == before.manifest  # intact, not replaced
    assert sorted(p.relative_to(after.path) for p in after.path.rglob("*")) == files_before
    assert not (state.run_dir / module.OUTPUT).exists()


def fail_report_writes(names: set[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing any report file named in `names` fails as on a full disk."""
    real_write = report_files.write_atomic

    def write_atomic(path: Path, text: str) -> Path:
        if path.name in names:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_write(path, text)

    monkeypatch.setattr(report_files, "write_atomic", write_atomic)


def broken(module: object, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `module.name` raise when called."""

    def crash(*args: object) -> None:
        raise RuntimeError(f"{name} broke")

    monkeypatch.setattr(module, name, crash)


REPORT_FAILURES = {
    # failure: (how to cause it, report.json left to say so)
    "building the report": (lambda mp: broken(report_builder, "build_report", mp), False),
    "rendering report.md": (lambda mp: broken(report_files, "render_markdown", mp), True),
    "rendering report.html": (lambda mp: broken(report_files, "render_html", mp), True),
    "a full disk at report.html": (lambda mp: fail_report_writes({"report.html"}, mp), True),
    "a full disk for every file": (lambda mp: fail_report_writes(set(REPORT_FILES), mp), False),
}


@pytest.mark.parametrize("failure", sorted(REPORT_FAILURES))
def test_a_crash_in_the_report_step_fails_the_run_and_leaves_no_partial_report(
    recipe: Path, shared_cache: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    assert run(recipe, shared_cache).status == "ok"  # every other step cached
    cause, json_written = REPORT_FAILURES[failure]
    cause(monkeypatch)
    lines: list[str] = []
    loaded = load_recipe(recipe)
    options = RunOptions(cache=StepCache(shared_cache))
    state = execute(loaded, build_plan(loaded), "test", lines.append, options)
    assert state.status == "failed" and state.exit_code == 1
    assert state.error is not None and state.error["step"] == "report"
    assert [r.status for r in state.records] == ["ok"] * 5 + ["skipped", "skipped", "failed"]
    left = sorted(p.name for p in state.run_dir.iterdir() if p.name.startswith(("report", ".")))
    assert left == (["report.json"] if json_written else [])  # no .md/.html, no temporary files
    shown = [line.split("] ", 1)[1] for line in lines]  # without the time
    if json_written:
        report = json.loads((state.run_dir / "report.json").read_text())
        assert report["status"] == "failed" and report["error"]["step"] == "report"
        assert report["steps"][-1]["status"] == "failed"
        assert shown[-1] == f"failed: report at {state.run_dir / 'report.json'}"
    else:
        assert shown[-2].startswith("report: no report written: ")
        assert shown[-1] == "failed: no report written"
    log = (state.run_dir / "run.log").read_text()
    assert "Traceback" in log and "] report: failed: " in log
    monkeypatch.undo()
    again = run(recipe, shared_cache)  # the cache kept every step: the report alone is redone
    assert again.status == "ok" and (again.run_dir / "report.md").is_file()
    assert [r.outcome.split(" ")[0] for r in again.records[:5]] == ["cached"] * 5


@pytest.mark.parametrize("full_at", ["model.json", METRICS, MANIFEST])
def test_a_full_disk_mid_step_fails_clearly_and_keeps_the_cache_intact(
    recipe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, full_at: str
) -> None:
    cache = tmp_path / "cache"
    real_write = Path.write_text

    def write_text(self: Path, *args: object, **kwargs: object) -> int:
        if self.name == full_at:
            real_write(self, "{", encoding="utf-8")  # a partial write, as a full disk leaves
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    state = run(recipe, cache, "load")
    error = assert_failed_report(state, "load", "OSError", 1)
    assert error["message"].startswith("No space left on device: ") and full_at in error["message"]
    fingerprint = build_plan(state.loaded).step("load").fingerprint
    assert StepCache(cache).lookup("load", fingerprint) is None
    assert not (state.run_dir / "model.json").exists()
    leftovers = [p for p in cache.rglob("*") if p.name == full_at]
    assert leftovers == []  # the half-written file went with its staging folder
    monkeypatch.undo()
    assert run(recipe, cache, "load").status == "ok"  # the cache is usable afterwards
    assert StepCache(cache).lookup("load", fingerprint) is not None


def refuse_mkdir_below(blocked: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make creating `blocked` or anything below it fail as on a folder we may not write."""
    real_mkdir = Path.mkdir

    def mkdir(self: Path, *args: object, **kwargs: object) -> None:
        if self == blocked or blocked in self.parents:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)


def test_an_unwritable_output_folder_is_a_clear_error_naming_it(
    recipe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_mkdir_below(tmp_path / "runs", monkeypatch)
    code, _, err = invoke("run", str(recipe), "--set", f"output.cache_dir={tmp_path / 'c'}")
    assert code == 1 and "Traceback" not in err
    assert f"error: Permission denied: {tmp_path / 'runs'}" in err
    assert "hint: check free space and permissions there" in err


def test_an_unwritable_cache_fails_the_step_with_the_folder_named(
    recipe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_mkdir_below(tmp_path / "cache", monkeypatch)
    state = run(recipe, tmp_path / "cache", "load")
    error = assert_failed_report(state, "load", "PermissionError", 1)
    assert error["message"].startswith(f"Permission denied: {tmp_path / 'cache'}")


def test_trust_remote_code_is_warned_at_run_start_and_in_the_report(
    recipe: Path, tmp_path: Path
) -> None:
    loaded = load_recipe(recipe, ["model.trust_remote_code=true"])
    lines: list[str] = []
    state = execute(loaded, build_plan(loaded), "test", lines.append, RunOptions(until="load"))
    assert (
        "WARNING: model.trust_remote_code is true (--set model.trust_remote_code=true)"
        in (lines[1])
    )
    report = json.loads((state.run_dir / "report.json").read_text())
    assert report["warnings"] and "Python code shipped with" in report["warnings"][0]
    assert "> **Warning:** model.trust_remote_code is true" in (
        (state.run_dir / "report.md").read_text()
    )


def damaged_copy(model: Path, target: Path, damage: str) -> Path:
    """A copy of the tiny model with its weights truncated or its tokenizer removed."""
    shutil.copytree(model, target)
    if damage == "truncated weights":
        weights = target / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:-100])
    else:
        for name in ("tokenizer.json", "tokenizer_config.json"):
            (target / name).unlink()
    return target


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("truncated weights", "model.safetensors: model.base: damaged weights file: "),
        ("no tokenizer", "model.base: no usable tokenizer in this model folder"),
    ],
)
def test_damaged_model_folders_fail_at_load_with_the_file_named(
    recipe: Path, tmp_path: Path, tiny_model_dir: Path, damage: str, expected: str
) -> None:
    model = damaged_copy(tiny_model_dir, tmp_path / "model", damage)
    state = run(recipe, tmp_path / "cache", "load", f"model.base={model}")
    error = assert_failed_report(state, "load", "UserInputError", 2)
    assert expected in error["message"] and str(model) in error["message"]


def test_a_gguf_file_that_is_not_gguf_fails_at_load(recipe: Path, tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 a zip file wearing a .gguf name" * 4)
    state = run(recipe, tmp_path / "cache", "load", f"model.base={fake}")
    error = assert_failed_report(state, "load", "UserInputError", 2)
    assert "does not start with the GGUF magic bytes" in error["message"]
