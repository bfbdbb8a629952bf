"""What the hash memo promises beyond correct values: an unchanged file is read once (in this
process and the next), a background hash is computed once and on the background thread, a
home that cannot hold the memo only costs re-reading, and the canonical digests are stable."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from smolora_recipes.store import hashing
from smolora_recipes.store.hashing import (
    canonical_json,
    digest,
    file_sha256,
    files_sha256,
    hash_in_background,
    path_sha256,
    remember_sha256,
)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """Every file read for hashing: (file name, thread name)."""
    seen: list[tuple[str, str]] = []
    real = hashing._hash_file_now

    def counted(path: str) -> str:
        seen.append((Path(path).name, threading.current_thread().name))
        return real(path)

    monkeypatch.setattr(hashing, "_hash_file_now", counted)
    yield seen
    hashing.cancel_background_hashing()


def test_canonical_json_sorts_keys_drops_spaces_and_keeps_unicode() -> None:
    assert canonical_json({"b": [1, 2], "a": "é"}) == '{"a":"é","b":[1,2]}'
    expected = hashlib.sha256('{"a":"é","b":[1,2]}'.encode()).hexdigest()
    assert digest({"a": "é", "b": [1, 2]}) == digest({"b": [1, 2], "a": "é"}) == expected


def test_an_unchanged_file_is_read_once_even_by_the_next_process(
    tmp_path: Path, reads: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text("one\n")
    assert file_sha256(path) == file_sha256(path) == hashlib.sha256(b"one\n").hexdigest()
    monkeypatch.setattr(hashing, "_MEMO", hashing._HashMemo())  # a new process: on disk only
    assert file_sha256(path) == hashlib.sha256(b"one\n").hexdigest()
    assert [name for name, _ in reads] == ["data.jsonl"]
    assert (Path(os.environ["SMOLORA_HOME"]) / "state" / "file-hashes-v2.sqlite").is_file()


def test_a_home_that_cannot_hold_the_memo_only_costs_re_reading(
    tmp_path: Path, reads: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the home's state folder would go")
    monkeypatch.setenv("SMOLORA_HOME", str(blocked))
    path = tmp_path / "x.bin"
    path.write_bytes(b"x")
    assert file_sha256(path) == file_sha256(path) == hashlib.sha256(b"x").hexdigest()
    assert len(reads) == 2


def test_a_memo_that_fails_to_store_is_not_an_error(
    tmp_path: Path, reads: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashing, "_MEMO", hashing._HashMemo())
    path = tmp_path / "x.bin"
    path.write_bytes(b"x")
    file_sha256(path)  # the memo is open
    db = hashing._MEMO._db
    assert db is not None
    db.execute("DROP TABLE hashes")  # every later lookup and store fails inside sqlite
    other = tmp_path / "y.bin"
    other.write_bytes(b"y")
    assert file_sha256(other) == hashlib.sha256(b"y").hexdigest()


def test_a_background_hash_runs_once_on_the_background_thread(
    tmp_path: Path, reads: list[tuple[str, str]]
) -> None:
    known, new = tmp_path / "known.bin", tmp_path / "new.bin"
    known.write_bytes(b"k")
    new.write_bytes(b"n")
    file_sha256(known)
    hash_in_background([tmp_path / "gone.bin", known, new])  # skips the first two, goes on
    assert file_sha256(new) == hashlib.sha256(b"n").hexdigest()
    assert reads == [("known.bin", "MainThread"), ("new.bin", "hash_0")]


def test_a_remembered_hash_is_used_without_reading(
    tmp_path: Path, reads: list[tuple[str, str]]
) -> None:
    path = tmp_path / "moved.bin"
    path.write_bytes(b"m")
    remember_sha256(path, "f" * 64)
    assert file_sha256(path) == "f" * 64 and reads == []


def test_a_folder_hash_covers_names_and_contents_in_any_order(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    whole = path_sha256(folder)
    files = [folder / "sub" / "b.txt", folder / "a.txt"]
    assert whole == files_sha256(folder, files) == files_sha256(folder, reversed(files))
    expected = [["a.txt", hashlib.sha256(b"a").hexdigest()], ["sub/b.txt", file_sha256(files[0])]]
    assert (
        whole
        == digest(expected)
        == hashlib.sha256(json.dumps(expected, separators=(",", ":")).encode()).hexdigest()
    )
    (folder / "sub" / "b.txt").rename(folder / "sub" / "c.txt")
    assert path_sha256(folder) != whole  # a renamed file is another input
    assert path_sha256(folder / "a.txt") == file_sha256(folder / "a.txt")
