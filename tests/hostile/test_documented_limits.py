"""The limits the README promises, exercised at their real values (not lowered for speed, not
read back from the constant): changing a limit without changing its documentation fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from smolora_recipes.core.errors import RecipeError
from smolora_recipes.data import readers
from smolora_recipes.data.records import DataError, ErrorPolicy
from smolora_recipes.recipe.data_section import DataSection
from smolora_recipes.recipe.yaml_source import parse_yaml
from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)  # NULs without a newline, no disk used
    return path


def test_the_readme_states_each_limit() -> None:
    flat = " ".join(README.split())
    assert "stops after 2 s" in flat
    assert "nesting deeper than 40 levels" in flat
    assert "data lines over 64 MB" in flat
    assert re.search(r"files a source reads whole .* over 512 MB", flat)


@pytest.mark.parametrize(
    ("kind", "size_mb", "message"),
    [("jsonl", 65, "line longer than 64 MB"), ("json", 513, "512 MB")],
    ids=["a line over 64 MB", "a file read whole over 512 MB"],
)
def test_data_over_a_size_limit_is_refused(
    tmp_path: Path, kind: str, size_mb: int, message: str
) -> None:
    data = _sparse(tmp_path / f"big.{kind}", size_mb * 2**20)
    source = DataSection.model_validate({"sources": [{"type": kind, "path": data}]}).sources[0]
    with pytest.raises(DataError, match=message):
        list(readers.read_source(source, 0, tmp_path, ErrorPolicy()))


def test_recipes_nest_40_levels_deep_and_no_deeper(tmp_path: Path) -> None:
    def nested(depth: int) -> str:  # `x` at depth 1, each list one level more
        return "x: " + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "\n"

    fine = tmp_path / "fine.yaml"
    fine.write_text(nested(40))
    parse_yaml(fine.read_text(), str(fine), env={})
    deep = tmp_path / "deep.yaml"
    deep.write_text(nested(41))
    with pytest.raises(RecipeError, match="nested deeper than 40 levels"):
        parse_yaml(deep.read_text(), str(deep), env={})
