"""Where smolora keeps its per-user state: converted models, caches, fetched recipes."""

from __future__ import annotations

import os
from pathlib import Path


def smolora_home() -> Path:
    """`$SMOLORA_HOME`, else `~/.cache/smolora` (created on first use by whoever writes there)."""
    configured = os.environ.get("SMOLORA_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "smolora"


def user_path(text: str) -> Path:
    """`text` as a path with a leading `~` or `~user` expanded; left as written when there is
    no such user (a value in a recipe must not crash the loader)."""
    try:
        return Path(text).expanduser()
    except RuntimeError:
        return Path(text)
