"""Training checkpoints: find the last complete one; turn the first Ctrl-C into a stop request.

transformers writes a checkpoint's `trainer_state.json` last, so a checkpoint is complete when
that file parses with its own step number and the weights, optimizer and scheduler exist.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_REQUIRED = ("trainer_state.json", "optimizer.pt", "scheduler.pt", "adapter_model.safetensors")


def is_complete(folder: Path, step: int) -> bool:
    """True when every file of the checkpoint exists and its state names the same step."""
    if not all((folder / name).is_file() for name in _REQUIRED):
        return False
    try:
        state = json.loads((folder / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return state.get("global_step") == step


def last_complete_checkpoint(folder: Path) -> tuple[Path, int] | None:
    """The newest complete checkpoint under `folder` (incomplete ones are deleted)."""
    if not folder.is_dir():
        return None
    found = []
    for child in folder.iterdir():
        match = _CHECKPOINT.match(child.name)
        if match and child.is_dir():
            found.append((int(match.group(1)), child))
    for step, child in sorted(found, reverse=True):
        if is_complete(child, step):
            return child, step
        shutil.rmtree(child, ignore_errors=True)  # half-written by a killed run
    return None


@contextmanager
def first_interrupt_stops(callback: Any, log: Any) -> Iterator[None]:
    """While training: the first SIGINT sets `callback.requested`; a second one aborts."""

    def handle(signum: int, frame: Any) -> None:
        """The SIGINT handler: the first asks for a stop, a second aborts."""
        if callback.requested:
            raise KeyboardInterrupt
        callback.requested = True
        log("interrupt: saving a checkpoint after this step, then stopping (Ctrl-C again aborts)")

    try:
        previous = signal.signal(signal.SIGINT, handle)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
