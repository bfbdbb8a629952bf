"""Where a resolved recipe value came from: a default, a file line, an extends, `--set`, env."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from smolora_recipes.core.errors import Location
from smolora_recipes.core.shared_paths import checkout_root

OriginKind = Literal["default", "file", "extends", "set", "env", "cleared"]


@dataclass(frozen=True)
class Origin:
    """Where a resolved value came from."""

    kind: OriginKind
    location: Location | None = None
    detail: str = ""

    def describe(self) -> str:
        """Human form: `default`, `recipe.yaml:3:5`, `base.yaml:2:3 (extends)`, `--set lora.r=8`,
        `cleared by --set sft.max_steps=8` (an exclusive field replaced)."""
        if self.kind == "default":
            return f"default ({self.detail})" if self.detail else "default"
        if self.kind == "set":
            return f"--set {self.detail}"
        if self.kind == "cleared":
            return f"cleared by --set {self.detail}"
        if self.kind == "env":
            return f"env {self.detail} at {self.location}"
        suffix = " (extends)" if self.kind == "extends" else ""
        return f"{self.location}{suffix}"

    def base_dir(self, fallback: Path) -> Path:
        """The folder a relative path written at this origin is relative to."""
        if self.kind == "set":
            return Path.cwd()
        if self.location is None or self.location.literal:
            return fallback
        return Path(self.location.file).parent

    def checkout(self) -> Path | None:
        """The fetched git checkout this value was written in (untrusted), if any."""
        if self.location is None or self.location.literal:
            return None
        return checkout_root(self.location.file)
