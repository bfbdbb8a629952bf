"""Property-based data files: whatever bytes a source file holds, reading it gives records or
a located DataError, never another exception."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smolora_recipes.data.readers import read_source
from smolora_recipes.data.records import DataError, ErrorPolicy
from smolora_recipes.recipe.data_section import DataSection

FUZZ = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SOURCES = {
    "data.jsonl": {"type": "jsonl"},
    "data.json": {"type": "json"},
    "data.csv": {"type": "csv"},
    "data.tsv": {"type": "tsv"},
    "data.txt": {"type": "text_files", "split_by": "paragraph"},
}
fragments = st.sampled_from(
    ['{"text": "a"}', "[", "]", "{", '"', ",", "\n", "\r", "\t", "\x00", "\xff", "text,label\n"]
)
contents = st.lists(
    st.binary(max_size=40) | fragments.map(lambda text: text.encode("latin-1")), max_size=20
).map(b"".join)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    """One folder for every example's data file."""
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


@FUZZ
@given(name=st.sampled_from(sorted(SOURCES)), content=contents, skip=st.booleans())
def test_any_bytes_read_as_records_or_a_located_error(
    folder: Path, name: str, content: bytes, skip: bool
) -> None:
    path = folder / name
    path.write_bytes(content)
    source = {**SOURCES[name], "path": path, "on_error": "skip" if skip else "fail"}
    data = DataSection.model_validate({"sources": [source]})
    try:
        records = list(read_source(data.sources[0], 0, folder, ErrorPolicy(source["on_error"])))
    except DataError as error:
        assert all(problem.location and problem.location.file for problem in error.problems)
    else:
        assert all(isinstance(record.fields, dict) for record in records)
