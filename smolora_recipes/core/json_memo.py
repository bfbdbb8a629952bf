"""JSON memo files under `$SMOLORA_HOME/state`: read whole, written whole and atomically.

A memo only saves work (parsed imports, the base model's sample answers): one that is missing,
damaged or not an object reads as empty, and one that cannot be written costs the work again.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from smolora_recipes.core.atomic_write import write_atomic


def read_memo(path: Path) -> dict[str, Any]:
    """The memo's object; empty when the file is missing, unreadable or holds no object."""
    try:
        memo = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return memo if isinstance(memo, dict) else {}


def write_memo(path: Path, memo: dict[str, Any]) -> bool:
    """Write the memo (its folder made first); False when the home cannot be written."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(memo, ensure_ascii=False, sort_keys=True))
        return True
    return False
