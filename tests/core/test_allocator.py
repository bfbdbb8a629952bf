"""jemalloc preloaded for the commands that load a model, where the system has it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from smolora_recipes.core.allocator import LIBRARY, library_dirs, preload_environment


@pytest.fixture
def lib_dir(tmp_path: Path) -> Path:
    (tmp_path / LIBRARY).write_bytes(b"")
    return tmp_path


def test_a_model_command_is_preloaded_and_keeps_the_users_preloads(lib_dir: Path) -> None:
    environ = {"PATH": "/bin", "LD_PRELOAD": "/opt/libmine.so"}
    env = preload_environment(["run", "recipe.yaml"], environ, [Path("/nowhere"), lib_dir])
    assert env == {"PATH": "/bin", "LD_PRELOAD": f"{lib_dir / LIBRARY} /opt/libmine.so"}
    assert preload_environment(["--quiet", "generate"], {}, [lib_dir]) is not None


@pytest.mark.parametrize(
    ("argv", "environ"),
    [
        (["plan", "recipe.yaml"], {}),  # loads no model
        (["--help"], {}),
        (["run", "recipe.yaml"], {"SMOLORA_ALLOCATOR": "system"}),
        (["run", "recipe.yaml"], {"LD_PRELOAD": "/usr/lib/libjemalloc.so.2"}),  # no loop
    ],
)
def test_no_preload(lib_dir: Path, argv: list[str], environ: dict[str, str]) -> None:
    assert preload_environment(argv, environ, [lib_dir]) is None


def test_no_preload_without_the_library(tmp_path: Path) -> None:
    assert preload_environment(["run"], {}, [tmp_path]) is None


@pytest.mark.skipif(
    not any((folder / LIBRARY).is_file() for folder in library_dirs()),
    reason="no jemalloc on this machine",
)
def test_the_process_re_executes_under_jemalloc() -> None:
    code = (
        "from smolora_recipes.core.allocator import run_under_jemalloc, allocator_in_use\n"
        "run_under_jemalloc(['run']); print(allocator_in_use())"
    )
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "jemalloc"


def test_a_failed_re_execution_runs_the_command_as_it_is(
    lib_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smolora_recipes.core import allocator

    def refuse(*args: object) -> None:
        raise PermissionError("noexec")

    monkeypatch.setattr(allocator, "library_dirs", lambda: [lib_dir])
    monkeypatch.setattr(allocator.platform, "system", lambda: "Linux")
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    monkeypatch.delenv("SMOLORA_ALLOCATOR", raising=False)
    monkeypatch.setattr(allocator.os, "execve", refuse)
    allocator.run_under_jemalloc(["run", "recipe.yaml"])  # returns instead of raising
