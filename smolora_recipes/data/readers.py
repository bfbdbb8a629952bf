"""Read every source type into records, lazily, each record knowing where it came from.

A malformed line, row or item goes to the source's `ErrorPolicy`: raised with its location
(`on_error: fail`), or counted and skipped (`on_error: skip`).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from smolora_recipes.core.errors import display_path
from smolora_recipes.core.paths import user_path
from smolora_recipes.data.records import ErrorPolicy, Record, data_error
from smolora_recipes.recipe.sources import (
    CsvSource,
    DataSource,
    HubSource,
    JsonlSource,
    JsonSource,
    ParquetSource,
    TextFilesSource,
    TsvSource,
)

Reader = Callable[[Any, str, Path, ErrorPolicy], Iterator[Record]]

MAX_LINE_BYTES = 64 * 2**20  # a single record's line; a bigger one is not data we can train on
MAX_WHOLE_FILE_BYTES = 512 * 2**20  # a file read whole (`json`, `split_by: file`) in memory


def read_source(
    source: DataSource, index: int, base_dir: Path, policy: ErrorPolicy
) -> Iterator[Record]:
    """Every record of one source, in file order (selection and limits come later)."""
    readers: dict[type, Reader] = {
        JsonlSource: _read_jsonl,
        JsonSource: _read_json,
        CsvSource: _read_delimited,
        TsvSource: _read_delimited,
        TextFilesSource: _read_text_files,
        ParquetSource: _read_parquet,
        HubSource: _read_hub,
    }
    return readers[type(source)](source, f"data.sources.{index}", base_dir, policy)


def source_label(source: DataSource, base_dir: Path) -> str:
    """How a source is named in reports: its path relative to the recipe, or its dataset id."""
    if isinstance(source, HubSource):
        return source.name
    return shown_path(source.path, base_dir)


def shown_path(path: Path, base_dir: Path) -> str:
    """`path` relative to the recipe's folder when possible, with forward slashes."""
    try:
        return Path(os.path.relpath(path, base_dir)).as_posix()
    except ValueError:
        return str(path)


def _lines(path: Path, encoding: str, field: str, policy: ErrorPolicy) -> Iterator[tuple[int, str]]:
    """(line number, text) of a text file; an undecodable line goes to the policy."""
    return _limited_lines(path, encoding, field, policy, MAX_LINE_BYTES)


def _whole_file_lines(
    path: Path, encoding: str, field: str, policy: ErrorPolicy
) -> Iterator[tuple[int, str]]:
    """`_lines` of a file that is read whole, refused when it is too big for memory."""
    if path.stat().st_size > MAX_WHOLE_FILE_BYTES:
        raise data_error(
            f"file is larger than {MAX_WHOLE_FILE_BYTES // 2**20} MB; this source reads it whole",
            display_path(path),
            field=field,
            hint="use JSON Lines (one record per line) or split the text into several files",
        )
    return _limited_lines(path, encoding, field, policy, MAX_WHOLE_FILE_BYTES)


def _limited_lines(
    path: Path, encoding: str, field: str, policy: ErrorPolicy, limit: int
) -> Iterator[tuple[int, str]]:
    """`_lines` with lines of up to `limit` bytes (read with that much memory at most)."""
    try:
        "".encode(encoding)
    except LookupError:
        raise data_error(
            f"unknown encoding {encoding!r}",
            display_path(path),
            field=f"{field}.encoding",
            hint="use a Python codec name such as utf-8, latin-1 or cp1252",
        ) from None
    with path.open("rb") as handle:
        number = 0
        while raw := handle.readline(limit + 1):  # bounded: one line is read at most
            number += 1
            if len(raw) > limit:
                raise data_error(
                    f"line longer than {limit // 2**20} MB",
                    display_path(path),
                    number,
                    field=field,
                    hint="one line holds one record; is this really a text or JSON Lines file?",
                )
            try:
                yield number, raw.decode(encoding)
            except UnicodeDecodeError as error:
                policy.handle(
                    data_error(
                        f"not valid {encoding} text ({error.reason} at byte {error.start})",
                        display_path(path),
                        number,
                        field=field,
                        hint=f"re-save the file as {encoding}, set the source's `encoding`, or "
                        "`on_error: skip`",
                    )
                )


def _read_jsonl(
    source: JsonlSource, field: str, base_dir: Path, policy: ErrorPolicy
) -> Iterator[Record]:
    shown = shown_path(source.path, base_dir)
    for number, text in _lines(source.path, "utf-8", field, policy):
        if not text.strip():
            continue
        try:
            value = _parsed_json(text)
        except (ValueError, RecursionError) as error:
            policy.handle(
                data_error(
                    f"expected a JSON object ({_json_reason(error)})",
                    display_path(source.path),
                    number,
                    field=field,
                    hint="each line of a .jsonl file is one complete JSON object",
                )
            )
            continue
        if not isinstance(value, dict):
            policy.handle(
                data_error(
                    f"expected a JSON object, got {type(value).__name__}",
                    display_path(source.path),
                    number,
                    field=field,
                    hint='write one object per line, e.g. {"text": "..."}',
                )
            )
            continue
        yield Record(value, f"{shown}:{number}")


def _read_json(
    source: JsonSource, field: str, base_dir: Path, policy: ErrorPolicy
) -> Iterator[Record]:
    shown, where = shown_path(source.path, base_dir), display_path(source.path)
    text = "".join(line for _, line in _whole_file_lines(source.path, "utf-8", field, policy))
    try:
        value = _parsed_json(text)
    except (ValueError, RecursionError) as error:
        line = error.lineno if isinstance(error, json.JSONDecodeError) else 0
        raise data_error(
            f"not valid JSON ({_json_reason(error)})", where, line, field=field
        ) from None
    if isinstance(value, dict) and source.records_field is not None:
        if source.records_field not in value:
            raise data_error(
                f"no key {source.records_field!r} in the top-level object",
                where,
                field=f"{field}.records_field",
                hint=f"keys here: {', '.join(value) or 'none'}",
            )
        value = value[source.records_field]
    if not isinstance(value, list):
        raise data_error(
            f"expected an array of records, got {type(value).__name__}",
            where,
            field=field,
            hint="write [{...}, {...}], or set `records_field` to the key holding the array",
        )
    for number, item in enumerate(value, 1):
        if isinstance(item, dict):
            yield Record(item, f"{shown}:item {number}")
        else:
            policy.handle(
                data_error(
                    f"item {number}: expected a JSON object, got {type(item).__name__}",
                    where,
                    field=field,
                )
            )


def _parsed_json(text: str) -> Any:
    """`json.loads`, refusing what JSON escapes can smuggle in but text cannot hold: a lone
    surrogate (`\\ud800`) parses, then fails when written or tokenized (ValueError here)."""
    value = json.loads(text)
    if "\\u" in text:  # only \uXXXX escapes make surrogates; checked only where they occur
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a \\uXXXX escape gives a lone surrogate, not a character") from None
    return value


def _json_reason(error: ValueError | RecursionError) -> str:
    """Why text is not usable JSON: the parser's message, too deep nesting (a bomb), or what
    else made it unusable (a number of over 4,300 digits, a lone surrogate)."""
    if isinstance(error, json.JSONDecodeError):
        return error.msg
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error).split(";")[0]


def _read_delimited(
    source: CsvSource | TsvSource, field: str, base_dir: Path, policy: ErrorPolicy
) -> Iterator[Record]:
    shown, where = shown_path(source.path, base_dir), display_path(source.path)
    delimiter = "\t" if isinstance(source, TsvSource) else source.delimiter
    numbers: list[int] = []  # physical line number of each line the csv module reads

    def lines() -> Iterator[str]:
        for number, line in _lines(source.path, source.encoding, field, policy):
            numbers.append(number)
            yield line

    csv.field_size_limit(MAX_LINE_BYTES)  # the default (128 kB) refuses long text cells
    rows = _csv_rows(csv.reader(lines(), delimiter=delimiter), numbers, where, field, policy)
    _, header = next(rows, (1, []))
    if not header:
        raise data_error("the file has no header row", where, 1, field=field)
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            policy.handle(
                data_error(
                    f"expected {len(header)} columns ({', '.join(header)}), got {len(row)}",
                    where,
                    line,
                    field=field,
                    hint="quote cells that contain the delimiter or line breaks",
                )
            )
            continue
        yield Record(dict(zip(header, row, strict=True)), f"{shown}:{line}")


def _csv_rows(
    reader: Any, numbers: list[int], where: str, field: str, policy: ErrorPolicy
) -> Iterator[tuple[int, list[str]]]:
    """(physical line number where the row starts, row) of a csv reader; a row it cannot parse
    goes to the policy."""
    while True:
        first_line = reader.line_num  # lines read before this row: the next one starts it
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            policy.handle(
                data_error(
                    f"not valid CSV ({error})",
                    where,
                    numbers[-1],  # the csv module fails only on a line it has read
                    field=field,
                    hint="quote cells that contain the delimiter, quotes or line breaks",
                )
            )
            continue
        yield numbers[first_line], row


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


def _read_text_files(
    source: TextFilesSource, field: str, base_dir: Path, policy: ErrorPolicy
) -> Iterator[Record]:
    for path in _text_files(source, field):
        shown = shown_path(path, base_dir)
        read = _whole_file_lines if source.split_by == "file" else _lines
        lines = read(path, source.encoding, field, policy)
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


def _paragraphs(lines: Iterator[tuple[int, str]], shown: str) -> Iterator[Record]:
    start, block = 0, []
    for number, line in [*lines, (0, "")]:
        if line.strip():
            start = start or number
            block.append(line.rstrip("\r\n"))
        elif block:
            yield Record({"text": "\n".join(block).strip()}, f"{shown}:{start}")
            start, block = 0, []


def _read_parquet(
    source: ParquetSource, field: str, base_dir: Path, policy: ErrorPolicy
) -> Iterator[Record]:
    import pyarrow.parquet as pq

    shown = shown_path(source.path, base_dir)
    try:
        batches = pq.ParquetFile(source.path).iter_batches(batch_size=1024)
        number = 0
        for batch in batches:
            for row in batch.to_pylist():
                number += 1
                yield Record(row, f"{shown}:row {number}")
    except (OSError, ValueError) as error:  # arrow's errors derive from these
        raise data_error(
            f"cannot read as Parquet: {type(error).__name__}: {error}",
            display_path(source.path),
            field=field,
        ) from None


def _rows(table: Any, shown: str) -> Iterator[Record]:
    for number, row in enumerate(table, 1):
        yield Record(dict(row), f"{shown}:row {number}")


def _read_hub(
    source: HubSource, field: str, base_dir: Path, policy: ErrorPolicy
) -> Iterator[Record]:
    local = local_dataset_folder(source, base_dir)
    if local is not None:
        yield from _rows(_load_local(local, source, field), shown_path(local, base_dir))
        return
    from datasets import load_dataset
    from huggingface_hub import is_offline_mode

    offline = is_offline_mode()  # HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE), as the hub reads it
    hint = (
        f"download it where there is network (datasets.load_dataset({source.name!r})"
        ".save_to_disk('folder')), copy the folder here and set `name: ./folder`"
    )
    try:
        table = load_dataset(
            source.name,
            source.config,
            split=source.split,
            data_files=source.data_files,
            revision=source.revision,  # a hub repository's: the commit `plan` pinned
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


def local_dataset_folder(source: HubSource, base_dir: Path) -> Path | None:
    """The `save_to_disk` folder an `hf` source names, when `name` is a local folder."""
    local = user_path(source.name)
    if not local.is_absolute():
        local = base_dir / local
    return local if local.is_dir() else None


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
        loaded = loaded[source.split]
    try:  # the Arrow files are memory-mapped unchecked: damaged ones crash the reader, not raise
        loaded.data.table.validate(full=True)
    except Exception as error:  # pyarrow.ArrowInvalid and kin
        raise data_error(
            f"damaged Arrow data in this save_to_disk folder: {error}",
            display_path(folder),
            field=field,
        ) from None
    return loaded
