"""Property-based data files: whatever bytes a source file holds (every file type, every way of
splitting text files, damaged Parquet files and damaged `save_to_disk` folders), reading it gives
records from that file or a DataError naming it, never another exception."""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smolora_recipes.data.readers import read_source
from smolora_recipes.data.records import DataError, ErrorPolicy, Record
from smolora_recipes.recipe.data_section import DataSection

SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
FUZZ = settings(max_examples=500, **SETTINGS)
FUZZ_SLOW = settings(max_examples=300, **SETTINGS)  # a Parquet file or a dataset folder each
SOURCES = {
    "data.jsonl": {"type": "jsonl"},
    "data.json": {"type": "json"},
    "data.csv": {"type": "csv"},
    "data.tsv": {"type": "tsv"},
    "lines.txt": {"type": "text_files", "split_by": "line"},
    "paragraphs.txt": {"type": "text_files", "split_by": "paragraph"},
    "whole.txt": {"type": "text_files", "split_by": "file"},
    "latin1.txt": {"type": "text_files", "split_by": "line", "encoding": "latin-1"},
    "utf16.txt": {"type": "text_files", "split_by": "paragraph", "encoding": "utf-16"},
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


def read_all(source: dict[str, Any], base: Path) -> list[Record]:
    """Every record of `source` (validated as a recipe's data section would be)."""
    data = DataSection.model_validate({"sources": [source]})
    return list(read_source(data.sources[0], 0, base, ErrorPolicy(source["on_error"])))


def assert_records_or_located_error(source: dict[str, Any], base: Path, shown: str) -> None:
    """Reading gives records from the file shown as `shown` (relative to `base`), or a
    DataError naming it."""
    try:
        records = read_all(source, base)
    except DataError as error:
        assert error.problems
        assert all(p.location and shown in p.location.file for p in error.problems)
    else:
        assert all(isinstance(record.fields, dict) for record in records)
        assert all(record.origin.startswith(shown) for record in records)


@FUZZ
@given(name=st.sampled_from(sorted(SOURCES)), content=contents, skip=st.booleans())
def test_any_bytes_read_as_records_or_a_located_error(
    folder: Path, name: str, content: bytes, skip: bool
) -> None:
    (folder / name).write_bytes(content)
    source = {**SOURCES[name], "path": folder / name, "on_error": "skip" if skip else "fail"}
    assert_records_or_located_error(source, folder, name)


@FUZZ
@given(
    files=st.lists(contents, max_size=4),
    split_by=st.sampled_from(["line", "paragraph", "file"]),
    skip=st.booleans(),
)
def test_a_folder_of_any_text_files_reads_as_records_or_a_located_error(
    folder: Path, files: list[bytes], split_by: str, skip: bool
) -> None:
    texts = folder / "texts"
    shutil.rmtree(texts, ignore_errors=True)
    (texts / "deeper").mkdir(parents=True)
    for number, content in enumerate(files):
        (texts / ("deeper" if number % 2 else "") / f"{number}.txt").write_bytes(content)
    source = {"type": "text_files", "path": texts, "split_by": split_by}
    assert_records_or_located_error(
        {**source, "on_error": "skip" if skip else "fail"}, folder, "texts"
    )


def damaged(original: bytes, data: st.DataObject) -> bytes:
    """`original` cut short, with bytes overwritten, or with bytes inserted."""
    damage = data.draw(st.sampled_from(["truncate", "overwrite", "insert"]))
    at = data.draw(st.integers(0, len(original)))
    if damage == "truncate":
        return original[:at]
    noise = data.draw(st.binary(min_size=1, max_size=16))
    if damage == "overwrite":
        return original[:at] + noise + original[at + len(noise) :]
    return original[:at] + noise + original[at:]


@pytest.fixture(scope="module")
def parquet_bytes() -> bytes:
    """A small valid Parquet file: text, numbers, nulls, nested lists."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "text": ["first", "second", None, "fourth é"],
            "score": [1.5, None, 3.0, -2.0],
            "tags": [["a"], [], None, ["b", "c"]],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=2)
    return buffer.getvalue()


@FUZZ_SLOW
@given(data=st.data())
def test_a_damaged_parquet_file_reads_as_records_or_a_located_error(
    folder: Path, parquet_bytes: bytes, data: st.DataObject
) -> None:
    (folder / "data.parquet").write_bytes(damaged(parquet_bytes, data))
    source = {"type": "parquet", "path": folder / "data.parquet", "on_error": "fail"}
    assert_records_or_located_error(source, folder, "data.parquet")


@pytest.fixture(scope="module")
def saved_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small valid folder written by `datasets`' `save_to_disk` (a dict with a train split)."""
    from datasets import Dataset, DatasetDict

    folder = tmp_path_factory.mktemp("saved") / "dataset"
    rows = {"text": ["one", "two", "three"], "label": [0, 1, 0]}
    DatasetDict({"train": Dataset.from_dict(rows)}).save_to_disk(str(folder))
    return folder


@FUZZ_SLOW
@given(data=st.data())
def test_a_damaged_dataset_folder_reads_as_records_or_a_located_error(
    folder: Path, saved_dataset: Path, data: st.DataObject
) -> None:
    copy = folder / "dataset"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(saved_dataset, copy)
    files = sorted(p.relative_to(copy) for p in copy.rglob("*") if p.is_file())
    for name in data.draw(st.lists(st.sampled_from(files), min_size=1, max_size=2, unique=True)):
        (copy / name).write_bytes(damaged((copy / name).read_bytes(), data))
    source = {"type": "hf", "name": "./dataset", "on_error": "fail"}
    assert_records_or_located_error(source, folder, "dataset")
