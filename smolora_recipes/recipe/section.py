"""What every recipe section shares: closed pydantic models, and markers for path fields."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True, kw_only=True)
class PathMarker:
    """Metadata marking a field as a filesystem path, resolved against the recipe that sets it."""

    must_exist: bool
    kind: Literal["file", "any"] = "any"


class ModelRefMarker:
    """Metadata marking `model.base`: an alias, a hub id, or a local path (resolved if local)."""


InputPath = Annotated[Path, PathMarker(must_exist=True)]
OutputPath = Annotated[Path, PathMarker(must_exist=False)]


class Section(BaseModel):
    """Base of every recipe section: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)
