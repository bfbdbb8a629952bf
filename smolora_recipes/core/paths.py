"""Where smolora keeps its per-user state, in one place: converted models, the default step
cache, fetched recipes and memo files, all under SMOLORA_HOME."""

from __future__ import annotations

import os
from pathlib import Path


def smolora_home() -> Path:
    """`$SMOLORA_HOME`, else `~/.cache/smolora` (created on first use by whoever writes there)."""
    configured = os.environ.get("SMOLORA_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "smolora"


def step_cache_dir(configured: Path | None = None) -> Path:
    """The step cache: a recipe's `output.cache_dir` (or `--cache-dir`), else the shared one."""
    return configured or smolora_home() / "cache"


def converted_models_dir() -> Path:
    """Where built-in and `.gguf` models are kept once converted to safetensors."""
    return smolora_home() / "models"


def fetched_recipes_dir() -> Path:
    """Where `git+` recipes are checked out, one folder per commit (absolute)."""
    return Path(os.path.abspath(smolora_home() / "recipes"))


def tools_dir() -> Path:
    """Where tools fetched for a step are kept (llama.cpp's converter, per release)."""
    return smolora_home() / "tools"


def compiled_graphs_dir() -> Path:
    """Where torch.compile (inductor) keeps compiled graphs and kernels for `sft.compile`."""
    return smolora_home() / "inductor"


def state_file(name: str) -> Path:
    """A memo file of smolora's own (file hashes, parsed imports); losing one costs time only."""
    return smolora_home() / "state" / name


def user_path(text: str) -> Path:
    """`text` as a path with a leading `~` or `~user` expanded; left as written when there is
    no such user (a value in a recipe must not crash the loader)."""
    try:
        return Path(text).expanduser()
    except RuntimeError:
        return Path(text)
