"""Files written whole or not at all: a temporary file renamed into place."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from smolora_recipes.core.permissions import current_umask


def write_atomic(path: Path, text: str) -> Path:
    """Write text to a temporary file next to `path`, then rename it into place; the file gets
    the permissions of any other new file (mkstemp alone would make it private, 0600)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o666 & ~current_umask())
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
