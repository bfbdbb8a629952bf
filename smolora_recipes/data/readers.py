"""Read every source type into records, lazily, each record knowing where it came from."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from smolora_recipes.data.records import Record, data_error
from smolora_recipes.errors import display_path
from smolora_recipes.recipe.schema import (
    CsvSource,
    DataSource,
    HubSource,
    JsonlSource,
    ParquetSource,
    TextFilesSource,
)


def read_source(source: DataSource, index: int, base_dir: Path) -> Iterator[Record]:
    """Records of one source, at most `source.limit` of them."""
    field = f"data.sources.{index}"
    readers = {
        JsonlSource: _read_jsonl,
        CsvSource: _read_csv,
        TextFilesSource: _read_text_files,
        ParquetSource: _read_parquet,
        HubSource: _read_hub,
    }
    records = readers[type(source)](source, field, base_dir)
    return islice(records, source.limit) if source.limit else records


def source_label(source: DataSource, base_dir: Path) -> str:
    """How a source is named in reports: its path relative to the recipe, or its dataset id."""
    if isinstance(source, HubSource):
        return source.name
    return _shown(source.path, base_dir)


def _shown(path: Path, base_dir: Path) -> str:
    try:
        return Path(os.path.relpath(path, base_dir)).as_posix()
    except ValueError:
        return str(path)


def _lines(path: Path, encoding: str, field: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of a text file; undecodable bytes are a located error."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                yield number, raw.decode(encoding)
            except UnicodeDecodeError as error:
                raise data_error(
                    f"not valid {encoding} text ({error.reason} at byte {error.start})",
                    display_path(path),
                    number,
                    field=field,
                    hint=f"re-save the file as {encoding}, or set the source's `encoding`",
                ) from None


def _read_jsonl(source: JsonlSource, field: str, base_dir: Path) -> Iterator[Record]:
    shown = _shown(source.path, base_dir)
    for number, text in _lines(source.path, "utf-8", field):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise data_error(
                f"expected a JSON object ({error.msg})",
                display_path(source.path),
                number,
                field=field,
                hint="each line of a .jsonl file is one complete JSON object",
            ) from None
        if not isinstance(value, dict):
            raise data_error(
                f"expected a JSON object, got {type(value).__name__}",
                display_path(source.path),
                number,
                field=field,
                hint='write one object per line, e.g. {"text": "..."}',
            )
        yield Record(value, f"{shown}:{number}")


def _read_csv(source: CsvSource, field: str, base_dir: Path) -> Iterator[Record]:
    shown = _shown(source.path, base_dir)
    try:
        text = source.path.read_bytes().decode(source.encoding)
    except UnicodeDecodeError:
        for _ in _lines(source.path, source.encoding, field):  # locate the bad line
            pass
        raise
    except LookupError:
        raise data_error(
            f"unknown encoding {source.encoding!r}", display_path(source.path), field=field
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=source.delimiter)
    if not reader.fieldnames:
        raise data_error(
            "the CSV file has no header row", display_path(source.path), 1, field=field
        )
    for row in reader:
        yield Record(dict(row), f"{shown}:{reader.line_num}")


def _text_files(source: TextFilesSource, field: str) -> list[Path]:
    if source.path.is_file():
        return [source.path]
    files = sorted(p for p in source.path.glob(source.glob) if p.is_file())
    if not files:
        raise data_error(
            f"no file matches {source.glob!r} in this folder",
            display_path(source.path),
            field=field,
            hint="check `glob` (e.g. '**/*.md') or the folder",
        )
    return files


def _read_text_files(source: TextFilesSource, field: str, base_dir: Path) -> Iterator[Record]:
    for path in _text_files(source, field):
        shown = _shown(path, base_dir)
        lines = list(_lines(path, source.encoding, field))
        if source.split_by == "file":
            text = "".join(line for _, line in lines).strip()
            if text:
                yield Record({"text": text}, shown)
        elif source.split_by == "line":
            for number, line in lines:
                if line.strip():
                    yield Record({"text": line.strip()}, f"{shown}:{number}")
        else:
            yield from _paragraphs(lines, shown)


def _paragraphs(lines: list[tuple[int, str]], shown: str) -> Iterator[Record]:
    start, block = 0, []
    for number, line in [*lines, (0, "")]:
        if line.strip():
            start = start or number
            block.append(line.rstrip("\r\n"))
        elif block:
            yield Record({"text": "\n".join(block).strip()}, f"{shown}:{start}")
            start, block = 0, []


def _read_parquet(source: ParquetSource, field: str, base_dir: Path) -> Iterator[Record]:
    from datasets import load_dataset

    try:
        table = load_dataset("parquet", data_files=str(source.path), split="train")
    except Exception as error:  # arrow raises many types for a broken file
        raise data_error(
            f"cannot read as Parquet: {type(error).__name__}: {error}",
            display_path(source.path),
            field=field,
        ) from None
    yield from _rows(table, _shown(source.path, base_dir))


def _rows(table: Any, shown: str) -> Iterator[Record]:
    for number, row in enumerate(table, 1):
        yield Record(dict(row), f"{shown}:row {number}")


def _read_hub(source: HubSource, field: str, base_dir: Path) -> Iterator[Record]:
    local = Path(source.name).expanduser()
    if not local.is_absolute():
        local = base_dir / local
    if local.is_dir():
        yield from _rows(_load_local(local, source, field), _shown(local, base_dir))
        return
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    hint = (
        f"download it where there is network (datasets.load_dataset({source.name!r})"
        ".save_to_disk('folder')), copy the folder here and set `name: ./folder`"
    )
    from datasets import load_dataset

    try:
        table = load_dataset(
            source.name,
            source.config,
            split=source.split,
            data_files=source.data_files,
            revision=source.revision,
        )
    except Exception as error:  # hub, network and cache errors vary by version
        reason = "HF_HUB_OFFLINE is set and it is not cached" if offline else str(error)
        raise data_error(
            f"cannot load dataset {source.name!r}: {reason}",
            source.name,
            field=field,
            hint=hint,
        ) from None
    yield from _rows(table, source.name)


def _load_local(folder: Path, source: HubSource, field: str) -> Any:
    from datasets import DatasetDict, load_from_disk

    try:
        loaded = load_from_disk(str(folder))
    except Exception as error:
        raise data_error(
            f"not a folder written by save_to_disk: {error}", display_path(folder), field=field
        ) from None
    if isinstance(loaded, DatasetDict):
        if source.split not in loaded:
            raise data_error(
                f"split {source.split!r} not found; it has {', '.join(loaded)}",
                display_path(folder),
                field=field,
            )
        return loaded[source.split]
    return loaded
