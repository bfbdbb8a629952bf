"""Cheap integrity checks of a local model folder, made before any weights are loaded.

A truncated download would otherwise fail minutes later, inside training, as a library error.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from smolora_recipes.core.errors import UserInputError, problem_at

MAX_HEADER_BYTES = 100_000_000  # the limit safetensors itself puts on a file's JSON header
WEIGHT_DTYPES = ("float32", "bfloat16", "float16")


def published_dtype(folder: Path) -> str:
    """The weight dtype a model folder's config.json declares (`dtype`, or transformers 4's
    `torch_dtype`); float32 when it declares none this project can save in."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "float32"
    if not isinstance(config, dict):
        return "float32"
    declared = config.get("dtype") or config.get("torch_dtype")
    return declared if declared in WEIGHT_DTYPES else "float32"


def check_weight_files(folder: Path) -> None:
    """Refuse a truncated or damaged `.safetensors` file in `folder`, reading headers only."""
    for path in sorted(folder.glob("*.safetensors")):
        problem = _safetensors_problem(path)
        if problem:
            raise UserInputError(
                problem_at(
                    path,
                    f"damaged weights file: {problem}",
                    field="model.base",
                    hint="the file is incomplete or not safetensors; copy or download it again",
                )
            )


def _safetensors_problem(path: Path) -> str | None:
    """What is wrong with a safetensors file (header length, JSON header, data size), if any."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            return f"{size} bytes, too short to hold a header"
        (length,) = struct.unpack("<Q", prefix)
        if length > min(MAX_HEADER_BYTES, size - 8):
            return "its header is cut off"
        try:
            header = json.loads(handle.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return "its header is not valid JSON"
    needed = 8 + length + _data_bytes(header)
    return f"{size} bytes, but its header describes {needed}" if size < needed else None


def _data_bytes(header: Any) -> int:
    """Where the last tensor's data ends, as the header says (0 for an unreadable header)."""
    if not isinstance(header, dict):
        return 0
    ends = [
        entry["data_offsets"][1]
        for name, entry in header.items()
        if name != "__metadata__" and isinstance(entry, dict)
        if isinstance(entry.get("data_offsets"), list) and len(entry["data_offsets"]) == 2
    ]
    return max((end for end in ends if isinstance(end, int)), default=0)
