"""Every folder smolora keeps under SMOLORA_HOME is resolved in one module, core/paths.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from smolora_recipes.core import paths
from smolora_recipes.plan.code_digest import PACKAGE_DIR


def test_every_home_folder_follows_smolora_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMOLORA_HOME", str(tmp_path / "home"))
    home = tmp_path / "home"
    assert paths.step_cache_dir() == home / "cache"
    assert paths.step_cache_dir(tmp_path / "mine") == tmp_path / "mine"
    assert paths.converted_models_dir() == home / "models"
    assert paths.fetched_recipes_dir() == home / "recipes"
    assert paths.state_file("x.json") == home / "state" / "x.json"


def test_no_other_module_builds_a_path_below_smolora_home() -> None:
    callers = [
        path.relative_to(PACKAGE_DIR).as_posix()
        for path in PACKAGE_DIR.rglob("*.py")
        if "smolora_home()" in path.read_text(encoding="utf-8") and path.name != "paths.py"
    ]
    assert callers == []
