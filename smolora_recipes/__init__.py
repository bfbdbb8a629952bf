"""smolora-recipes: declarative, reproducible LoRA fine-tuning recipes.

The version is read from the installed package's metadata, not written here: this module runs
with every step, so it belongs to every step's code fingerprint, and a release that changes no
step's code must not invalidate the step cache. It is read on first use (`--help` need not pay
for importing `importlib.metadata`).
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("smolora-recipes")
    except PackageNotFoundError:  # a source tree used without installing it
        return "0+unknown"
