"""A converted model (GGUF dequantized once into SMOLORA_HOME/models) whose files changed after
the conversion is converted again before anything uses it, whether `load` runs or is cached; its
files get the user's umask (save_pretrained writes the weights 0600)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from smolora_recipes.plan.build import build_plan
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.run.executor import execute
from smolora_recipes.run.state import RunOptions, RunState
from smolora_recipes.steps import load
from smolora_recipes.store.cache import StepCache
from tests.tiny_runs import write_tiny_recipe


@pytest.fixture
def conversions(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Stand in for the GGUF conversion (the tiny model's files are its output); records calls."""
    calls: list[Path] = []

    def convert(gguf: Path, folder: Path) -> None:
        calls.append(gguf)
        shutil.copytree(tiny_model_dir, folder)

    monkeypatch.setattr(load, "_convert_gguf", convert)
    return calls


def damage(path: Path) -> None:
    """Same-size garbage in the file's middle, its mtime set back."""
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 32] = b"\xff" * 32
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def run_load(recipe: Path, cache: StepCache | None, lines: list[str]) -> RunState:
    """Run the recipe's `load` step, collecting the log lines."""
    loaded = load_recipe(recipe)
    options = RunOptions(cache=cache, until="load")
    return execute(loaded, build_plan(loaded), "test", lines.append, options)


@pytest.mark.parametrize("cached", [True, False])
def test_a_damaged_converted_model_is_converted_again(
    tmp_path: Path, tiny_model_dir: Path, conversions: list[Path], cached: bool
) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF stand-in")
    recipe = write_tiny_recipe(tmp_path, tiny_model_dir, model=f"model:\n  base: {gguf}\n")
    cache = StepCache(tmp_path / "cache") if cached else None
    first = run_load(recipe, cache, [])
    assert first.status == "ok" and len(conversions) == 1
    folder = Path(first.results.load.folder)
    assert run_load(recipe, cache, []).status == "ok" and len(conversions) == 1  # reused
    damage(folder / "model.safetensors")
    lines: list[str] = []
    again = run_load(recipe, cache, lines)
    assert again.status == "ok" and len(conversions) == 2
    assert again.records[0].outcome == "ran"
    shown = [line.split("] ", 1)[1] for line in lines]
    damaged = f"the converted model in {folder} is damaged (model.safetensors has changed since "
    expected = [f"load: {damaged}the conversion); converting it again"]
    if cached:
        expected.insert(0, f"load: {damaged}the conversion); running load again")
    assert [line for line in shown if " is damaged " in line] == expected
    assert load.converted_problem(folder) is None  # whole again
    assert (folder / "model.safetensors").read_bytes() == (
        tiny_model_dir / "model.safetensors"
    ).read_bytes()


def test_a_converted_model_gets_the_users_umask(
    tmp_path: Path, tiny_model_dir: Path, conversions: list[Path]
) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF stand-in")
    recipe = write_tiny_recipe(tmp_path, tiny_model_dir, model=f"model:\n  base: {gguf}\n")
    assert (tiny_model_dir / "model.safetensors").stat().st_mode & 0o777 == 0o600  # as written
    previous = os.umask(0o022)
    try:
        state = run_load(recipe, None, [])
    finally:
        os.umask(previous)
    folder = Path(state.results.load.folder)
    modes = {path.name: path.stat().st_mode & 0o777 for path in folder.iterdir()}
    assert set(modes.values()) == {0o644} and "model.safetensors" in modes
