"""File hashes: memoised by file status, and computed ahead on a background thread."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from pathlib import Path

from smolora_recipes.store import hashing
from smolora_recipes.store.hashing import cancel_background_hashing, file_sha256, hash_in_background


def write(path: Path, data: bytes) -> str:
    """Write `data` to `path` and return its sha256."""
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def test_memo_follows_content_not_touches(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    write(path, b"a" * 3_000_000)
    first = file_sha256(path)
    os.utime(path, ns=(1, 1))  # touched: hashed again, same value
    assert file_sha256(path) == first
    edited = write(path, b"b" * 3_000_000)  # same size, new bytes and mtime
    assert file_sha256(path) == edited != first


def test_background_hash_is_the_one_file_sha256_returns(tmp_path: Path) -> None:
    files = [tmp_path / f"part-{i}.bin" for i in range(3)]
    expected = [write(path, bytes([i]) * (1 << 21)) for i, path in enumerate(files)]
    hash_in_background(files)
    assert len(hashing._PENDING) == 3
    assert [file_sha256(path) for path in files] == expected
    assert not hashing._PENDING  # each result was taken and memoised
    hash_in_background(files)  # already known: nothing to compute
    assert not hashing._PENDING


def test_background_hash_of_a_file_changed_since_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    write(path, b"old\n")
    hash_in_background([path])
    expected = write(path, b"new text\n")
    assert file_sha256(path) == expected
    cancel_background_hashing()
    assert not hashing._PENDING


def test_a_missing_file_is_skipped(tmp_path: Path) -> None:
    hash_in_background([tmp_path / "gone.bin"])
    assert not hashing._PENDING


def test_symlinked_path_shares_the_hash_of_its_target(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "model.safetensors"
    target.parent.mkdir()
    expected = write(target, b"x" * 100)
    (tmp_path / "run").symlink_to(target.parent, target_is_directory=True)
    hash_in_background([tmp_path / "run" / "model.safetensors"])
    assert file_sha256(target) == expected and not hashing._PENDING


def test_canonical_json_and_digest_are_key_order_and_whitespace_free() -> None:
    value = {"b": [1, 2], "a": "é"}
    assert hashing.canonical_json(value) == '{"a":"é","b":[1,2]}'
    assert hashing.canonical_json({"a": "é", "b": [1, 2]}) == hashing.canonical_json(value)
    expected = hashlib.sha256('{"a":"é","b":[1,2]}'.encode()).hexdigest()
    assert hashing.digest(value) == expected


def memo_rows(home: Path) -> list[tuple[str, int, int, int, int, str]]:
    """The rows of the file-hash memo under `home`."""
    with sqlite3.connect(home / "state" / "file-hashes-v2.sqlite") as db:
        return db.execute("SELECT * FROM hashes ORDER BY path").fetchall()


def test_memo_is_kept_under_the_current_home(tmp_path: Path, monkeypatch) -> None:
    files = [tmp_path / f"{name}.bin" for name in "abc"]
    sums = [write(path, name.encode() * 10) for path, name in zip(files, "abc", strict=True)]
    first, second = tmp_path / "new" / "home", tmp_path / "other"
    for home, path in [(first, files[0]), (second, files[1]), (first, files[2])]:
        monkeypatch.setenv("SMOLORA_HOME", str(home))
        assert file_sha256(path) == sums[files.index(path)]
    stats = [path.stat() for path in files]
    rows = [
        (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns, sha)
        for path, stat, sha in zip(files, stats, sums, strict=True)
    ]
    assert memo_rows(first) == [rows[0], rows[2]]
    assert memo_rows(second) == [rows[1]]


def test_a_memoised_hash_is_trusted_while_the_file_status_matches(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    real = write(path, b"z" * 50)
    assert file_sha256(path) == real
    home = Path(os.environ["SMOLORA_HOME"])
    with sqlite3.connect(home / "state" / "file-hashes-v2.sqlite") as db:
        db.execute("UPDATE hashes SET sha256 = 'memoised'")
    assert file_sha256(path) == "memoised"  # not read again
    hash_in_background([path])  # known already: nothing to compute
    assert not hashing._PENDING


def test_an_unwritable_home_means_hashing_every_time(tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "home-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("SMOLORA_HOME", str(blocker))
    path = tmp_path / "data.bin"
    expected = write(path, b"q" * 10)
    assert file_sha256(path) == expected
    assert file_sha256(path) == expected


def test_a_file_written_from_memory_is_hashed_from_those_bytes(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    path.write_bytes(b"on disk")
    pieces = [memoryview(b"from "), memoryview(b"memory")]
    hashing.hash_in_background_from(path, lambda: pieces)
    renamed = path.rename(tmp_path / "renamed.bin")  # the pending hash follows the file
    assert file_sha256(renamed) == hashlib.sha256(b"from memory").hexdigest()
    assert not hashing._PENDING


def test_background_hashing_goes_on_past_missing_and_known_files(tmp_path: Path) -> None:
    known, new = tmp_path / "known.bin", tmp_path / "new.bin"
    write(known, b"k")
    expected = write(new, b"n")
    file_sha256(known)
    hash_in_background([tmp_path / "gone.bin", known, new])
    assert len(hashing._PENDING) == 1
    assert file_sha256(new) == expected


def test_a_cancelled_background_hash_is_computed_on_demand(tmp_path: Path) -> None:
    gate = threading.Event()
    first, second = tmp_path / "first.bin", tmp_path / "second.bin"
    write(first, b"1")
    expected = write(second, b"2")
    hashing.hash_in_background_from(first, lambda: (gate.wait(5), [memoryview(b"1")])[1])
    hash_in_background([second])  # queued behind the first, never started
    cancel_background_hashing()
    gate.set()
    assert file_sha256(second) == expected


def test_folder_hash_covers_relative_names_and_contents(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    a = write(folder / "a.txt", b"alpha")
    b = write(folder / "sub" / "b.txt", b"beta")
    expected = hashing.digest([["a.txt", a], ["sub/b.txt", b]])
    assert hashing.path_sha256(folder) == expected
    assert hashing.path_sha256(folder / "a.txt") == a
    moved = tmp_path / "elsewhere"
    folder.rename(moved)
    assert hashing.path_sha256(moved) == expected  # where the folder is does not count
    (moved / "a.txt").rename(moved / "c.txt")
    assert hashing.path_sha256(moved) != expected


def test_a_memo_of_another_layout_means_hashing_every_time(tmp_path: Path) -> None:
    state = Path(os.environ["SMOLORA_HOME"]) / "state"
    state.mkdir(parents=True)
    with sqlite3.connect(state / "file-hashes-v2.sqlite") as db:
        db.execute("CREATE TABLE hashes (path TEXT PRIMARY KEY, digest TEXT)")
    path = tmp_path / "data.bin"
    expected = write(path, b"r" * 10)
    assert file_sha256(path) == expected
    assert file_sha256(path) == expected
