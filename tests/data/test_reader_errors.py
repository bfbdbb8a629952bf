"""Every way a reader refuses its input, rendered whole: file, line, field, message and hint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smolora_recipes.data import readers
from smolora_recipes.data.readers import read_source
from smolora_recipes.data.records import DataError, ErrorPolicy
from smolora_recipes.recipe.sources import (
    CsvSource,
    HubSource,
    JsonlSource,
    JsonSource,
    ParquetSource,
    TextFilesSource,
)

CODEC_HINT = "\n    hint: use a Python codec name such as utf-8, latin-1 or cp1252"
LINE_HINT = "\n    hint: one line holds one record; is this really a text or JSON Lines file?"
JSONL_HINT = "\n    hint: each line of a .jsonl file is one complete JSON object"
CSV_HINT = "\n    hint: quote cells that contain the delimiter, quotes or line breaks"
HUB_HINT = (
    "\n    hint: download it where there is network (datasets.load_dataset('some/dataset')"
    ".save_to_disk('folder')), copy the folder here and set `name: ./folder`"
)


@pytest.fixture(autouse=True)
def in_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # errors show paths relative to the working folder


def refusal(source: Any, tmp_path: Path, index: int = 2) -> str:
    with pytest.raises(DataError) as raised:
        list(read_source(source, index, tmp_path, ErrorPolicy()))
    return raised.value.render()


def jsonl(tmp_path: Path, content: bytes | str) -> JsonlSource:
    path = tmp_path / "d.jsonl"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return JsonlSource(type="jsonl", path=path)


def json_file(tmp_path: Path, content: str, records_field: str | None = None) -> JsonSource:
    (tmp_path / "d.json").write_text(content)
    return JsonSource(type="json", path=tmp_path / "d.json", records_field=records_field)


def csv_file(tmp_path: Path, content: str, encoding: str = "utf-8") -> CsvSource:
    (tmp_path / "d.csv").write_text(content, encoding="utf-8")
    return CsvSource(type="csv", path=tmp_path / "d.csv", encoding=encoding)


def test_an_unknown_encoding(tmp_path: Path) -> None:
    source = csv_file(tmp_path, "text\na\n", encoding="klingon")
    assert refusal(source, tmp_path) == (
        "d.csv: data.sources.2.encoding: unknown encoding 'klingon'" + CODEC_HINT
    )


@pytest.mark.parametrize("line_bytes", [2 * 2**20 - 1, 2 * 2**20])
def test_a_line_of_the_limit_reads_and_one_byte_more_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line_bytes: int
) -> None:
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 2 * 2**20)
    filler = "x" * (line_bytes - len('{"text": ""}\n'))
    source = jsonl(tmp_path, '{"text": "first"}\n{"text": "' + filler + '"}\n')
    records = list(read_source(source, 2, tmp_path, ErrorPolicy()))
    assert [len(record.fields["text"]) for record in records] == [5, len(filler)]
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", line_bytes - 1)
    assert refusal(source, tmp_path) == "d.jsonl:2: data.sources.2: line longer than 1 MB" + (
        LINE_HINT
    )


def test_a_line_limit_is_shown_in_whole_megabytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 3 * 2**20)
    source = jsonl(tmp_path, '{"text": "' + "x" * (3 * 2**20) + '"}\n')
    assert refusal(source, tmp_path) == "d.jsonl:1: data.sources.2: line longer than 3 MB" + (
        LINE_HINT
    )


def test_undecodable_bytes(tmp_path: Path) -> None:
    source = jsonl(tmp_path, b'{"text": "ok"}\n{"text": "\xff"}\n')
    assert refusal(source, tmp_path) == (
        "d.jsonl:2: data.sources.2: not valid utf-8 text (invalid start byte at byte 10)"
        "\n    hint: re-save the file as utf-8, set the source's `encoding`, or `on_error: skip`"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": 1', "expected a JSON object (Expecting ',' delimiter)" + JSONL_HINT),
        ("[" * 100_000, "expected a JSON object (nested too deeply)" + JSONL_HINT),
        (
            '{"n": ' + "9" * 5000 + "}",
            "expected a JSON object (Exceeds the limit (4300 digits) "
            "for integer string conversion: value has 5000 digits)" + JSONL_HINT,
        ),
        (
            '{"text": "\\ud800"}',
            "expected a JSON object (a \\uXXXX escape gives a lone "
            "surrogate, not a character)" + JSONL_HINT,
        ),
        (
            "3",
            "expected a JSON object, got int"
            '\n    hint: write one object per line, e.g. {"text": "..."}',
        ),
    ],
    ids=["syntax", "nesting", "huge number", "lone surrogate", "not an object"],
)
def test_a_jsonl_line_that_is_no_record(tmp_path: Path, line: str, message: str) -> None:
    source = jsonl(tmp_path, '{"text": "ok"}\n\n' + line + "\n")
    assert refusal(source, tmp_path) == f"d.jsonl:3: data.sources.2: {message}"


def test_escaped_characters_that_are_real_characters_are_kept(tmp_path: Path) -> None:
    source = jsonl(tmp_path, '{"text": "\\u00e9\\ud83d\\ude00"}\n')
    records = list(read_source(source, 0, tmp_path, ErrorPolicy()))
    assert records[0].fields == {"text": "é😀"}


@pytest.mark.parametrize(
    ("content", "records_field", "message"),
    [
        ('{"a": [1,\n 2,]}', None, "d.json:2: data.sources.2: not valid JSON (Expecting value)"),
        ("[" * 100_000, None, "d.json: data.sources.2: not valid JSON (nested too deeply)"),
        (
            '{"rows": [], "meta": 1}',
            "items",
            "d.json: data.sources.2.records_field: no key 'items' in the "
            "top-level object\n    hint: keys here: rows, meta",
        ),
        (
            "{}",
            "items",
            "d.json: data.sources.2.records_field: no key 'items' in the "
            "top-level object\n    hint: keys here: none",
        ),
        (
            '{"rows": []}',
            None,
            "d.json: data.sources.2: expected an array of records, got "
            "dict\n    hint: write [{...}, {...}], or set `records_field` to the key holding "
            "the array",
        ),
        (
            '[{"text": "a"}, 5]',
            None,
            "d.json: data.sources.2: item 2: expected a JSON object, got int",
        ),
    ],
    ids=["syntax", "nesting", "no records key", "empty object", "not an array", "item"],
)
def test_a_json_file_that_holds_no_records(
    tmp_path: Path, content: str, records_field: str | None, message: str
) -> None:
    assert refusal(json_file(tmp_path, content, records_field), tmp_path) == message


def test_a_json_records_field_is_read(tmp_path: Path) -> None:
    source = json_file(tmp_path, json.dumps({"rows": [{"text": "a"}, {"text": "b"}]}), "rows")
    records = list(read_source(source, 0, tmp_path / "recipes", ErrorPolicy()))
    assert [(r.fields["text"], r.origin) for r in records] == [
        ("a", "../d.json:item 1"),  # relative to the recipe's folder
        ("b", "../d.json:item 2"),
    ]


def test_undecodable_bytes_in_a_file_read_whole(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_bytes(b'[{"text": "ok"}]\n\xff\n')
    source = JsonSource(type="json", path=tmp_path / "d.json")
    assert refusal(source, tmp_path).startswith(
        "d.json:2: data.sources.2: not valid utf-8 text (invalid start byte at byte 0)"
    )


def test_a_file_read_whole_over_its_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers, "MAX_WHOLE_FILE_BYTES", 2 * 2**20)
    source = json_file(tmp_path, "[" + " " * (2 * 2**20) + "]")
    assert refusal(source, tmp_path) == (
        "d.json: data.sources.2: file is larger than 2 MB; this source reads it whole"
        "\n    hint: use JSON Lines (one record per line) or split the text into several files"
    )


def test_a_file_read_whole_at_its_limit_reads_with_lines_that_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "MAX_WHOLE_FILE_BYTES", 2 * 2**20)
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 2**20)
    text = "y" * (2 * 2**20 - len('[{"text": ""}]'))
    source = json_file(tmp_path, '[{"text": "' + text + '"}]')
    records = list(read_source(source, 0, tmp_path, ErrorPolicy()))
    assert records[0].fields["text"] == text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "d.csv:1: data.sources.2: the file has no header row"),
        (
            "text,label\na\n",
            "d.csv:2: data.sources.2: expected 2 columns (text, label), got 1"
            "\n    hint: quote cells that contain the delimiter or line breaks",
        ),
    ],
    ids=["empty", "ragged"],
)
def test_a_csv_file_that_holds_no_table(tmp_path: Path, content: str, message: str) -> None:
    assert refusal(csv_file(tmp_path, content), tmp_path) == message


def test_a_csv_cell_longer_than_a_line_may_be(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 2**20)
    cell = "\n".join(["z" * 600_000] * 2)
    source = csv_file(tmp_path, f'text\nshort\n"{cell}"\nafter\n')
    assert refusal(source, tmp_path) == (
        "d.csv:4: data.sources.2: not valid CSV (field larger than field limit (1048576))"
        + CSV_HINT
    )
    policy = ErrorPolicy(on_error="skip")
    records = list(read_source(source, 0, tmp_path, policy))
    assert [r.fields["text"] for r in records] == ["short", "after"] and policy.skipped == 1


def test_csv_rows_keep_their_physical_line(tmp_path: Path) -> None:
    source = csv_file(tmp_path, 'text,n\n"two\nlines",1\n\n,\nlast,2\n')
    records = list(read_source(source, 0, tmp_path, ErrorPolicy()))
    assert [(r.fields, r.origin) for r in records] == [
        ({"text": "two\nlines", "n": "1"}, "d.csv:2"),
        ({"text": "last", "n": "2"}, "d.csv:6"),
    ]


def test_a_skipped_csv_error_goes_on_with_the_next_row(tmp_path: Path) -> None:
    source = csv_file(tmp_path, "text,n\na,1\nb\nc,3\n")
    policy = ErrorPolicy(on_error="skip")
    records = list(read_source(source, 0, tmp_path, policy))
    assert [r.origin for r in records] == ["d.csv:2", "d.csv:4"]
    assert policy.skipped == 1
    assert policy.quoted == ["d.csv:3: data.sources.0: expected 2 columns (text, n), got 1"]


def test_text_files_with_no_match(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes/a.txt").write_text("a")
    source = TextFilesSource(type="text_files", path=tmp_path / "notes", glob="*.md")
    assert refusal(source, tmp_path) == (
        "notes: data.sources.2: no file matches '*.md' in this folder"
        "\n    hint: check `glob` (e.g. '**/*.md') or the folder"
    )


def test_paragraphs_keep_the_line_they_start_on(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("\n\none\ntwo  \n\n\n three\n\nfour")
    source = TextFilesSource(type="text_files", path=tmp_path / "notes.txt", split_by="paragraph")
    records = list(read_source(source, 0, tmp_path, ErrorPolicy()))
    assert [(r.fields["text"], r.origin) for r in records] == [
        ("one\ntwo", "notes.txt:3"),
        ("three", "notes.txt:7"),
        ("four", "notes.txt:9"),
    ]


def test_a_file_that_is_no_parquet(tmp_path: Path) -> None:
    (tmp_path / "d.parquet").write_text("not parquet")
    source = ParquetSource(type="parquet", path=tmp_path / "d.parquet")
    assert refusal(source, tmp_path).startswith(
        "d.parquet: data.sources.2: cannot read as Parquet: ArrowInvalid: "
    )


def test_parquet_rows_are_numbered_across_batches(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": [str(i) for i in range(1030)]}), tmp_path / "d.parquet")
    source = ParquetSource(type="parquet", path=tmp_path / "d.parquet")
    records = list(read_source(source, 0, tmp_path, ErrorPolicy()))
    assert [r.origin for r in records[1023:1026]] == [
        "d.parquet:row 1024",
        "d.parquet:row 1025",
        "d.parquet:row 1026",
    ]
    assert records[1029].fields == {"text": "1029"}


def saved_dataset(folder: Path, splits: bool) -> Path:
    from datasets import Dataset, DatasetDict

    table = Dataset.from_dict({"text": ["a", "b"]})
    (DatasetDict({"train": table, "test": table}) if splits else table).save_to_disk(folder)
    return folder


@pytest.mark.parametrize("splits", [False, True])
def test_a_saved_dataset_is_read_from_its_folder(tmp_path: Path, splits: bool) -> None:
    saved_dataset(tmp_path / "data" / "saved", splits)
    source = HubSource(type="hf", name="./saved", split="test")
    records = list(read_source(source, 0, tmp_path / "data", ErrorPolicy()))
    assert [(r.fields, r.origin) for r in records] == [
        ({"text": "a"}, "saved:row 1"),
        ({"text": "b"}, "saved:row 2"),
    ]


def test_a_saved_dataset_without_the_split(tmp_path: Path) -> None:
    saved_dataset(tmp_path / "saved", splits=True)
    source = HubSource(type="hf", name="./saved", split="validation")
    assert refusal(source, tmp_path) == (
        "saved: data.sources.2: split 'validation' not found; it has train, test"
    )


def test_a_folder_that_save_to_disk_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    source = HubSource(type="hf", name="./plain")
    assert refusal(source, tmp_path).startswith(
        "plain: data.sources.2: not a folder written by save_to_disk: "
    )


class LoadDataset:
    """`datasets.load_dataset` standing in for the hub: records its call, returns or fails."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error, self.calls = error, []

    def __call__(self, *args: Any, **options: Any) -> list[dict[str, str]]:
        self.calls.append((args, options))
        if self.error is not None:
            raise self.error
        return [{"text": "from the hub"}]


def test_a_hub_dataset_is_loaded_with_every_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets

    load = LoadDataset()
    monkeypatch.setattr(datasets, "load_dataset", load)
    source = HubSource(
        type="hf",
        name="some/dataset",
        config="en",
        split="validation",
        data_files=["part-1.jsonl"],
        revision="0123abc",
    )
    records = list(read_source(source, 0, tmp_path, ErrorPolicy()))
    assert [(r.fields, r.origin) for r in records] == [
        ({"text": "from the hub"}, "some/dataset:row 1")
    ]
    assert load.calls == [
        (
            ("some/dataset", "en"),
            {"split": "validation", "data_files": ["part-1.jsonl"], "revision": "0123abc"},
        )
    ]


@pytest.mark.parametrize("offline", [True, False])
def test_a_hub_dataset_that_cannot_be_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline: bool
) -> None:
    import datasets
    from huggingface_hub import constants

    monkeypatch.setattr(datasets, "load_dataset", LoadDataset(ConnectionError("no route")))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
    reason = "HF_HUB_OFFLINE is set and it is not cached" if offline else "no route"
    source = HubSource(type="hf", name="some/dataset")
    assert refusal(source, tmp_path) == (
        f"some/dataset: data.sources.2: cannot load dataset 'some/dataset': {reason}" + HUB_HINT
    )


def test_a_save_to_disk_folder_with_damaged_arrow_data(tmp_path: Path) -> None:
    """Bytes overwritten in the middle pass Arrow's quick check, not its full one (they would
    crash the reader later)."""
    from datasets import Dataset

    Dataset.from_dict({"text": [f"row {i} " * 3 for i in range(200)]}).save_to_disk(
        tmp_path / "saved"
    )
    (arrow,) = (tmp_path / "saved").glob("*.arrow")
    data = bytearray(arrow.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8] = b"\xff" * 8
    arrow.write_bytes(bytes(data))
    source = HubSource(type="hf", name="./saved")
    assert refusal(source, tmp_path).startswith(
        "saved: data.sources.2: damaged Arrow data in this save_to_disk folder: "
    )


def text_file(tmp_path: Path, content: bytes, split_by: str) -> TextFilesSource:
    (tmp_path / "notes.txt").write_bytes(content)
    return TextFilesSource(type="text_files", path=tmp_path / "notes.txt", split_by=split_by)


def test_a_text_file_read_whole_may_hold_lines_longer_than_a_record_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 2**20)
    content = b"w" * (2**20 + 10)
    records = list(read_source(text_file(tmp_path, content, "file"), 0, tmp_path, ErrorPolicy()))
    assert [(len(r.fields["text"]), r.origin) for r in records] == [(2**20 + 10, "notes.txt")]
    assert refusal(text_file(tmp_path, content, "line"), tmp_path).startswith(
        "notes.txt:1: data.sources.2: line longer than 1 MB"
    )


@pytest.mark.parametrize("split_by", ["file", "line", "paragraph"])
def test_undecodable_text_goes_to_the_policy_in_every_split(tmp_path: Path, split_by: str) -> None:
    source = text_file(tmp_path, b"Good line\n\xffbad\n\nlast\n", split_by)
    assert refusal(source, tmp_path) == (
        "notes.txt:2: data.sources.2: not valid utf-8 text (invalid start byte at byte 0)"
        "\n    hint: re-save the file as utf-8, set the source's `encoding`, or `on_error: skip`"
    )
    policy = ErrorPolicy(on_error="skip")
    records = list(read_source(source, 0, tmp_path, policy))
    assert policy.skipped == 1 and records[-1].fields["text"].endswith("last")


def test_lines_and_paragraphs_keep_their_line_and_inner_spaces(tmp_path: Path) -> None:
    content = b"Set MAX\nto 3  \nnow\n\n  second  \n"
    lines = list(read_source(text_file(tmp_path, content, "line"), 0, tmp_path, ErrorPolicy()))
    assert [(r.fields["text"], r.origin) for r in lines] == [
        ("Set MAX", "notes.txt:1"),
        ("to 3", "notes.txt:2"),
        ("now", "notes.txt:3"),
        ("second", "notes.txt:5"),
    ]
    source = text_file(tmp_path, content, "paragraph")
    paragraphs = list(read_source(source, 0, tmp_path, ErrorPolicy()))
    assert [(r.fields["text"], r.origin) for r in paragraphs] == [
        ("Set MAX\nto 3  \nnow", "notes.txt:1"),
        ("second", "notes.txt:5"),
    ]
