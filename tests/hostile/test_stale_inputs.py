"""Inputs replaced in place keep neither their old hash nor their old fingerprint: a copy that
preserves size and mtime (`cp -p`, `rsync -a`, `tar x`) still changes what the plan sees, for
data files and for the code of a step alike."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from smolora_recipes.plan.build import build_plan
from smolora_recipes.plan.code_digest import PACKAGE_DIR, CodeIndex
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.store.hashing import file_sha256


def replace_keeping_size_and_mtime(path: Path, content: str) -> None:
    """Write `content` (same length as before) and set the old mtime back, as `cp -p` does."""
    before = path.stat()
    assert len(content.encode()) == before.st_size
    path.write_text(content, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )


def test_a_file_rewritten_with_its_old_size_and_mtime_is_hashed_again(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "one"}\n', encoding="utf-8")
    old = file_sha256(path)
    replace_keeping_size_and_mtime(path, '{"text": "two"}\n')
    assert file_sha256(path) != old
    assert file_sha256(path) == file_sha256(Path(os.fspath(path)))  # and memoised again


def test_replaced_training_data_changes_the_dataset_fingerprint(minimal: Path) -> None:
    before = build_plan(load_recipe(minimal)).step("dataset").fingerprint
    data = minimal.parent / "data" / "train.jsonl"
    replace_keeping_size_and_mtime(data, data.read_text().replace("one", "eno"))
    assert build_plan(load_recipe(minimal)).step("dataset").fingerprint != before


def test_a_step_module_rewritten_with_its_old_size_and_mtime_changes_its_code_digest(
    tmp_path: Path,
) -> None:
    root = tmp_path / "smolora_recipes"
    shutil.copytree(PACKAGE_DIR, root, ignore=shutil.ignore_patterns("__pycache__", "*.yaml"))
    before = CodeIndex(root).code_digests("smolora_recipes.steps.merge")["steps/merge.py"]
    module = root / "steps" / "merge.py"
    text = module.read_text(encoding="utf-8")
    replace_keeping_size_and_mtime(module, text.replace("Step", "STEP", 1))
    assert CodeIndex(root).code_digests("smolora_recipes.steps.merge")["steps/merge.py"] != before
