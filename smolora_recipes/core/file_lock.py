"""An advisory lock on a file (`flock`): the OS releases it when the holder dies."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent writers there must be avoided
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def held_lock(path: Path) -> Iterator[None]:
    """Hold the exclusive lock of `path` (waits while another process holds it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
