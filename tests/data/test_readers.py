"""Every source type, read lazily with provenance; malformed input gives located errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from smolora_recipes.data.readers import read_source, source_label
from smolora_recipes.data.records import DataError, ErrorPolicy
from smolora_recipes.recipe.sources import (
    CsvSource,
    HubSource,
    JsonlSource,
    JsonSource,
    ParquetSource,
    TextFilesSource,
    TsvSource,
)


def read(source, base_dir: Path, policy: ErrorPolicy | None = None) -> list:
    return list(read_source(source, 0, base_dir, policy or ErrorPolicy()))


def error_of(source, base_dir: Path) -> str:
    with pytest.raises(DataError) as caught:
        read(source, base_dir)
    return caught.value.render()


def test_jsonl_records_keep_their_line(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"text": "one"}\n\n{"text": "two"}\n')
    records = read(JsonlSource(type="jsonl", path=tmp_path / "a.jsonl"), tmp_path)
    assert [r.fields["text"] for r in records] == ["one", "two"]
    assert [r.origin for r in records] == ["a.jsonl:1", "a.jsonl:3"]


def test_jsonl_bad_line_is_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.jsonl").write_text('{"text": "ok"}\n{"text": "no" "comma"}\n')
    text = error_of(JsonlSource(type="jsonl", path=tmp_path / "a.jsonl"), tmp_path)
    assert text.startswith(
        "a.jsonl:2: data.sources.0: expected a JSON object (Expecting ',' delimiter)"
    )


def test_jsonl_non_object_is_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.jsonl").write_text('["a list"]\n')
    assert "a.jsonl:1: data.sources.0: expected a JSON object, got list" in error_of(
        JsonlSource(type="jsonl", path=tmp_path / "a.jsonl"), tmp_path
    )


def test_invalid_utf8_is_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.jsonl").write_bytes(b'{"text": "ok"}\n{"text": "\xff\xfe"}\n')
    text = error_of(JsonlSource(type="jsonl", path=tmp_path / "a.jsonl"), tmp_path)
    assert "a.jsonl:2: data.sources.0: not valid utf-8 text" in text


def test_on_error_skip_counts_and_quotes_bad_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.jsonl").write_bytes(b'{"text": "ok"}\nnot json\n[1]\n\xff\n{"text": "ok2"}\n')
    policy = ErrorPolicy("skip")
    records = read(JsonlSource(type="jsonl", path=tmp_path / "a.jsonl"), tmp_path, policy)
    assert [r.origin for r in records] == ["a.jsonl:1", "a.jsonl:5"]
    assert policy.skipped == 3
    assert policy.quoted[0].startswith("a.jsonl:2: data.sources.0: expected a JSON object")
    assert policy.quoted[2].startswith("a.jsonl:4: data.sources.0: not valid utf-8 text")


def test_json_array_and_records_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.json").write_text('[{"text": "one"}, {"text": "two"}]')
    records = read(JsonSource(type="json", path=tmp_path / "a.json"), tmp_path)
    assert [(r.fields["text"], r.origin) for r in records] == [
        ("one", "a.json:item 1"),
        ("two", "a.json:item 2"),
    ]
    (tmp_path / "b.json").write_text('{"version": 1, "data": [{"text": "x"}]}')
    nested = JsonSource(type="json", path=tmp_path / "b.json", records_field="data")
    assert [r.fields["text"] for r in read(nested, tmp_path)] == ["x"]
    plain = JsonSource(type="json", path=tmp_path / "b.json")
    assert "expected an array of records, got dict" in error_of(plain, tmp_path)
    (tmp_path / "c.json").write_text('[{"text": "x"},\n {"text" "y"}]')
    broken = error_of(JsonSource(type="json", path=tmp_path / "c.json"), tmp_path)
    assert broken.startswith("c.json:2: data.sources.0: not valid JSON (Expecting ':' delimiter)")


def test_tsv_source_and_ragged_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.tsv").write_text("q\ta\nhi\tyo\nonly-one-cell\nx\ty\n")
    source = TsvSource(type="tsv", path=tmp_path / "a.tsv")
    assert "a.tsv:3: data.sources.0: expected 2 columns (q, a), got 1" in error_of(source, tmp_path)
    policy = ErrorPolicy("skip")
    records = read(source, tmp_path, policy)
    assert [(r.fields, r.origin) for r in records] == [
        ({"q": "hi", "a": "yo"}, "a.tsv:2"),
        ({"q": "x", "a": "y"}, "a.tsv:4"),
    ]
    assert policy.skipped == 1


def test_csv_quoted_cells_span_lines(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text('text,n\n"two\nlines",1\nnext,2\n')
    records = read(CsvSource(type="csv", path=tmp_path / "a.csv"), tmp_path)
    assert [r.fields["text"] for r in records] == ["two\nlines", "next"]
    assert records[1].origin == "a.csv:4"


def test_unknown_encoding_is_a_located_error(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("text\nx\n")
    source = CsvSource(type="csv", path=tmp_path / "a.csv", encoding="klingon")
    assert "unknown encoding 'klingon'" in error_of(source, tmp_path)


def test_csv_with_delimiter_and_encoding(tmp_path: Path) -> None:
    (tmp_path / "a.tsv").write_bytes("q\tanswer\ncafé\toui\n".encode("latin-1"))
    source = CsvSource(type="csv", path=tmp_path / "a.tsv", delimiter="\t", encoding="latin-1")
    records = read(source, tmp_path)
    assert records[0].fields == {"q": "café", "answer": "oui"} and records[0].origin == "a.tsv:2"


def test_csv_undecodable_bytes_are_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.csv").write_bytes(b"text\nfine\n\xff\n")
    assert "a.csv:3: data.sources.0: not valid utf-8" in error_of(
        CsvSource(type="csv", path=tmp_path / "a.csv"), tmp_path
    )


@pytest.mark.parametrize(
    ("split_by", "expected"),
    [
        ("line", ["alpha one", "alpha two", "beta"]),
        ("paragraph", ["alpha one\nalpha two", "beta"]),
        ("file", ["alpha one\nalpha two\n\nbeta"]),
    ],
)
def test_text_files_split_modes(tmp_path: Path, split_by: str, expected: list[str]) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes/a.txt").write_text("alpha one\nalpha two\n\nbeta\n")
    source = TextFilesSource(type="text_files", path=tmp_path / "notes", split_by=split_by)
    assert [r.fields["text"] for r in read(source, tmp_path)] == expected


def test_text_files_glob_is_recursive_and_sorted(tmp_path: Path) -> None:
    (tmp_path / "n/sub").mkdir(parents=True)
    (tmp_path / "n/b.txt").write_text("b\n")
    (tmp_path / "n/sub/a.txt").write_text("a\n")
    (tmp_path / "n/skip.md").write_text("md\n")
    source = TextFilesSource(type="text_files", path=tmp_path / "n", split_by="file")
    records = read(source, tmp_path)
    assert [r.origin for r in records] == ["n/b.txt", "n/sub/a.txt"]


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    text = error_of(TextFilesSource(type="text_files", path=tmp_path / "empty"), tmp_path)
    assert "no file matches '**/*.txt'" in text and "data.sources.0" in text


def test_parquet_source(tmp_path: Path) -> None:
    from datasets import Dataset

    Dataset.from_dict({"text": ["x", "y"]}).to_parquet(str(tmp_path / "a.parquet"))
    records = read(ParquetSource(type="parquet", path=tmp_path / "a.parquet"), tmp_path)
    assert [r.fields["text"] for r in records] == ["x", "y"]
    assert records[1].origin == "a.parquet:row 2"


def test_hf_source_from_a_saved_folder(tmp_path: Path) -> None:
    from datasets import Dataset

    Dataset.from_dict({"text": ["saved"]}).save_to_disk(str(tmp_path / "saved"))
    source = HubSource(type="hf", name="saved")
    assert [r.fields["text"] for r in read(source, tmp_path)] == ["saved"]
    assert source_label(source, tmp_path) == "saved"


def test_hf_source_offline_fails_fast_with_a_hint(tmp_path: Path) -> None:
    started = time.perf_counter()
    text = error_of(HubSource(type="hf", name="nobody/no-such-dataset-xyz"), tmp_path)
    assert time.perf_counter() - started < 20
    assert "cannot load dataset 'nobody/no-such-dataset-xyz'" in text
    assert "save_to_disk" in text


def test_source_label_is_relative_to_the_recipe(tmp_path: Path) -> None:
    source = JsonlSource(type="jsonl", path=tmp_path / "data/a.jsonl")
    assert source_label(source, tmp_path) == "data/a.jsonl"
