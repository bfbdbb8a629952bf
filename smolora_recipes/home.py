"""Where smolora keeps its per-user state: converted models, caches, fetched recipes."""

from __future__ import annotations

import os
from pathlib import Path


def smolora_home() -> Path:
    """`$SMOLORA_HOME`, else `~/.cache/smolora` (created on first use by whoever writes there)."""
    configured = os.environ.get("SMOLORA_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "smolora"
