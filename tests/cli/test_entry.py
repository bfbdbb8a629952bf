"""The `smolora` program ends through os._exit with the CLI's exit code, output flushed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from smolora_recipes.cli import entry


class Ended(Exception):
    """Raised instead of os._exit, carrying the code."""


@pytest.fixture
def ended(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """os._exit raises Ended; the atexit handlers run are recorded, not pytest's own."""
    calls: list[str] = []

    def fake_exit(code: int) -> None:
        calls.append("exit")
        raise Ended(code)

    monkeypatch.setattr(entry.os, "_exit", fake_exit)
    monkeypatch.setattr(entry.atexit, "_run_exitfuncs", lambda: calls.append("atexit"))
    return calls


@pytest.mark.parametrize(
    ("arguments", "code", "shown"),
    [
        (["--help"], 0, "declarative, reproducible"),
        (["validate", "missing.yaml"], 2, "missing.yaml"),
        (["no-such-command"], 2, "No such command"),
    ],
)
def test_exit_code_and_output_are_the_clis(
    ended: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    code: int,
    shown: str,
) -> None:
    monkeypatch.setattr(sys, "argv", ["smolora", *arguments])
    with pytest.raises(Ended) as raised:
        entry.entry()
    assert raised.value.args == (code,)
    assert ended == ["atexit", "exit"]  # handlers first, then the end
    printed = capsys.readouterr()
    assert shown in printed.out + printed.err


def test_a_closed_stdout_does_not_stop_the_end(
    ended: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", None)  # what Python sets when fd 1 was closed
    with pytest.raises(Ended) as raised:
        entry.end_process(0)
    assert raised.value.args == (0,)


def test_exit_code_follows_the_interpreters_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert [entry.exit_code(value) for value in (None, 0, 3)] == [0, 0, 3]
    assert entry.exit_code("stopped: disk full") == 1
    assert "stopped: disk full" in capsys.readouterr().err


def test_the_installed_program_exits_with_the_code_and_complete_output(tmp_path: Path) -> None:
    """Output printed by atexit handlers reaches a pipe too (no PYTHONUNBUFFERED here)."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: {base: 3}\nbogus: 1\n")
    script = (
        "import atexit, sys; atexit.register(print, 'handler ran');"
        f"sys.argv = ['smolora', 'validate', {str(bad)!r}];"
        "from smolora_recipes.cli.entry import entry; entry()"
    )
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        env=environment,
    )
    assert done.returncode == 2
    assert "bogus" in done.stderr and done.stderr.endswith("\n")
    assert done.stdout == "handler ran\n"
