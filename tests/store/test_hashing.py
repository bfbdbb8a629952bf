"""File hashes: memoised by file status, and computed ahead on a background thread."""

from __future__ import annotations

import hashlib
import os
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
