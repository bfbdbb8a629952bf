"""A cache entry whose files changed after it was sealed (same size, same mtime, garbage inside)
is never reused: the run says which file changed, removes the entry and computes it again."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from smolora_recipes.plan.build import build_plan
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.run.executor import execute
from smolora_recipes.run.state import RunOptions, RunState
from smolora_recipes.store.cache import MANIFEST, StepCache
from tests.tiny_runs import write_tiny_recipe


def run(recipe: Path, cache: Path, lines: list[str]) -> RunState:
    """Execute `recipe` up to training with a step cache, collecting the log lines."""
    loaded = load_recipe(recipe)
    options = RunOptions(cache=StepCache(cache), until="train")
    return execute(loaded, build_plan(loaded), "test", lines.append, options)


def overwrite_in_place(path: Path) -> None:
    """Same-size garbage over the file's middle, its mtime set back."""
    before = path.stat()
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = b"\xff" * len(data[middle : middle + 64])
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size


@pytest.mark.parametrize(
    ("step", "damaged"),
    [("train", "adapter/adapter_model.safetensors"), ("dataset", "metrics.json")],
)
def test_a_damaged_cache_entry_is_removed_and_computed_again(
    tmp_path: Path, tiny_model_dir: Path, step: str, damaged: str
) -> None:
    recipe = write_tiny_recipe(tmp_path, tiny_model_dir, "r.yaml")
    cache = tmp_path / "cache"
    first = run(recipe, cache, [])
    assert first.status == "ok"
    fingerprint = build_plan(load_recipe(recipe)).step(step).fingerprint
    entry = StepCache(cache).lookup(step, fingerprint)
    assert entry is not None
    listed = {item["path"]: item for item in entry.manifest["files"]}
    assert len(listed[damaged]["sha256"]) == 64
    overwrite_in_place(entry.path / damaged)
    lines: list[str] = []
    second = run(recipe, cache, lines)
    assert second.status == "ok"
    outcomes = {record.name: record.outcome for record in second.records}
    assert outcomes[step] == "ran"
    warning = f"{step}: cache entry {fingerprint[:12]} removed ({damaged} has changed since it "
    assert any(warning + "was sealed); computing it again" in line for line in lines)
    again = StepCache(cache).lookup(step, fingerprint)
    assert again is not None  # sealed again, whole: each file matches its recorded sha256
    sealed = json.loads((again.path / MANIFEST).read_text())["files"]
    assert {item["path"] for item in sealed} == set(listed)
    for item in sealed:
        content = (again.path / item["path"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == item["sha256"]
