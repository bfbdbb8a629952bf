"""Crash safety: a killed run resumes training from its last checkpoint; Ctrl-C stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from smolora_recipes.cli.main import main
from smolora_recipes.plan.build import build_plan
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.run.executor import execute
from smolora_recipes.run.state import RunOptions, RunState
from smolora_recipes.store.cache import StepCache
from smolora_recipes.training.checkpoints import last_complete_checkpoint
from tests.tiny_runs import write_tiny_recipe

SFT = "sft: {max_steps: 12, save_steps: 4, learning_rate: 5e-2, batch_size: 4, max_length: 64, "
SFT += "logging_steps: 1}\n"

# Runs the CLI with one signal sent to itself at the end of a chosen training step.
HARNESS = """
import os, signal, sys
from smolora_recipes.training.callbacks import StopOnInterrupt
from smolora_recipes.cli.main import main

step, signame = int(sys.argv[1]), sys.argv[2]
original = StopOnInterrupt.on_step_end
sent = []

def on_step_end(self, args, state, control, **kwargs):
    if state.global_step == step and not sent:
        sent.append(signame)
        os.kill(os.getpid(), getattr(signal, signame))
    return original(self, args, state, control, **kwargs)

StopOnInterrupt.on_step_end = on_step_end
main(sys.argv[3:])
"""


@pytest.fixture
def recipe(tmp_path: Path, tiny_model_dir: Path) -> Path:
    (tmp_path / "harness.py").write_text(HARNESS)
    return write_tiny_recipe(tmp_path, tiny_model_dir, sft=SFT)


def signalled_run(recipe: Path, step: int, signame: str) -> subprocess.CompletedProcess[str]:
    """`smolora run recipe` in a subprocess that receives `signame` after training `step`."""
    env = {**os.environ, "SMOLORA_HOME": str(recipe.parent / "home"), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, str(recipe.parent / "harness.py"), str(step), signame]
    return subprocess.run(
        [*command, "run", str(recipe)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[2],
    )


def in_process_run(recipe: Path, home: Path) -> tuple[RunState, list[str]]:
    """Run the recipe with the step cache under `home`; returns the state and its log lines."""
    loaded = load_recipe(recipe)
    lines: list[str] = []
    options = RunOptions(cache=StepCache(home / "cache"))
    state = execute(loaded, build_plan(loaded), "test", lines.append, options)
    assert state.status == "ok", state.error
    return state, lines


def train_scratch(recipe: Path) -> Path:
    """The crash-surviving working folder of the recipe's train step."""
    (folder,) = (recipe.parent / "home/cache/.scratch").glob("train-*")
    return folder


def assert_same_training(resumed: RunState, uninterrupted: RunState) -> None:
    """Same loss curve step by step, and (nearly) the same final adapter."""
    curve = {e["step"]: e["loss"] for e in resumed.results.train.loss_history}
    expected = {e["step"]: e["loss"] for e in uninterrupted.results.train.loss_history}
    assert sorted(curve) == list(range(1, 13))
    assert curve == pytest.approx(expected, rel=2e-3, abs=2e-4)
    weights = load_file(resumed.run_dir / "adapter/adapter_model.safetensors")
    reference = load_file(uninterrupted.run_dir / "adapter/adapter_model.safetensors")
    assert weights.keys() == reference.keys()
    for name, tensor in weights.items():
        assert torch.allclose(tensor, reference[name], rtol=1e-2, atol=1e-4), name


def test_sigkill_during_train_then_rerun_resumes_from_the_last_checkpoint(recipe: Path) -> None:
    killed = signalled_run(recipe, step=6, signame="SIGKILL")
    assert killed.returncode == -signal.SIGKILL
    assert last_complete_checkpoint(train_scratch(recipe)) is not None
    listing = CliRunner().invoke(main, ["cache", "ls", "--dir", str(recipe.parent / "home/cache")])
    assert "unfinished train" in listing.stdout
    assert last_complete_checkpoint(train_scratch(recipe)) is not None  # listing keeps it
    resumed, lines = in_process_run(recipe, recipe.parent / "home")
    assert any("resumed from step 4" in line for line in lines)
    assert resumed.results.train.resumed_from_step == 4
    assert {r.name: r.outcome for r in resumed.records}["dataset"].startswith("cached")
    assert not (recipe.parent / "home/cache/.scratch").exists() or not list(
        (recipe.parent / "home/cache/.scratch").iterdir()
    )
    report = (resumed.run_dir / "report.md").read_text()
    assert "resumed from step 4" in report
    uninterrupted, _ = in_process_run(recipe, recipe.parent / "other-home")
    assert uninterrupted.results.train.resumed_from_step is None
    assert_same_training(resumed, uninterrupted)


def test_ctrl_c_saves_a_checkpoint_reports_interrupted_and_exits_130(recipe: Path) -> None:
    interrupted = signalled_run(recipe, step=7, signame="SIGINT")
    assert interrupted.returncode == 130, interrupted.stderr
    assert "Traceback" not in interrupted.stderr
    assert "saving a checkpoint after this step" in interrupted.stdout + interrupted.stderr
    (run_dir,) = [d for d in (recipe.parent / "runs/tiny").iterdir() if not d.is_symlink()]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "interrupted"
    assert "resumes training" in report["error"]["message"]
    checkpoint = last_complete_checkpoint(train_scratch(recipe))
    assert checkpoint is not None and checkpoint[1] == 7
    resumed, lines = in_process_run(recipe, recipe.parent / "home")
    assert any("resumed from step 7" in line for line in lines)
    uninterrupted, _ = in_process_run(recipe, recipe.parent / "other-home")
    assert_same_training(resumed, uninterrupted)


def test_a_half_written_checkpoint_is_ignored_and_removed(tmp_path: Path) -> None:
    complete = tmp_path / "checkpoint-4"
    complete.mkdir()
    for name in ("optimizer.pt", "scheduler.pt", "adapter_model.safetensors"):
        (complete / name).write_bytes(b"x")
    (complete / "trainer_state.json").write_text(json.dumps({"global_step": 4}))
    torn = tmp_path / "checkpoint-8"
    torn.mkdir()
    (torn / "adapter_model.safetensors").write_bytes(b"x")  # killed before the rest
    assert last_complete_checkpoint(tmp_path) == (complete, 4)
    assert not torn.exists()


def test_a_checkpoint_of_another_train_fingerprint_is_never_used(recipe: Path) -> None:
    killed = signalled_run(recipe, step=6, signame="SIGKILL")
    assert killed.returncode == -signal.SIGKILL
    recipe.write_text(recipe.read_text().replace("r: 4", "r: 8"))
    _, lines = in_process_run(recipe, recipe.parent / "home")
    assert not any("resumed from step" in line for line in lines)
