"""smolora-recipes: declarative, reproducible LoRA fine-tuning recipes.

The version is read from the installed package's metadata, not written here: this module runs
with every step, so it belongs to every step's code fingerprint, and a release that changes no
step's code must not invalidate the step cache.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("smolora-recipes")
except PackageNotFoundError:  # a source tree used without installing it
    __version__ = "0+unknown"
