"""Content hashing: canonical JSON digests and file hashes memoised by file status.

A file's hash is recomputed whenever its size, mtime, inode or ctime changes, so touching a
file costs one re-hash but never changes a fingerprint, while editing one byte always does, even
when the new content keeps the old size and mtime (`cp -p`, `rsync -a`, `tar x`): any write
moves the ctime, which no user-space call can set back. Files a
step has just written are hashed on a background thread while the next step runs (a merged
model's 538 MB take ~0.45 s here), for the run report that lists them; a file written from
memory can be hashed from those bytes instead of being read back.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from smolora_recipes.core.paths import state_file

_CHUNK = 1 << 20


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the same data always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(value: Any) -> str:
    """sha256 of the canonical JSON of `value`."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def _hash_file_now(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


_MemoKey = tuple[str, int, int, int, int]


class _HashMemo:
    """sqlite table (path, size, mtime_ns, inode, ctime_ns) -> sha256 under SMOLORA_HOME/state."""

    def __init__(self) -> None:
        self._db: sqlite3.Connection | None = None
        self._db_path: Path | None = None

    def _connect(self) -> sqlite3.Connection | None:
        path = state_file("file-hashes-v2.sqlite")
        if self._db is not None and self._db_path == path:
            return self._db
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=5, isolation_level=None)
            db.execute(
                "CREATE TABLE IF NOT EXISTS hashes (path TEXT PRIMARY KEY, size INTEGER, "
                "mtime_ns INTEGER, inode INTEGER, ctime_ns INTEGER, sha256 TEXT)"
            )
        except (OSError, sqlite3.Error):
            return None  # a read-only home just means hashing every time
        self._db, self._db_path = db, path
        return db

    def lookup(self, key: _MemoKey) -> str | None:
        db = self._connect()
        if db is None:
            return None
        try:
            row = db.execute(
                "SELECT sha256 FROM hashes "
                "WHERE path=? AND size=? AND mtime_ns=? AND inode=? AND ctime_ns=?",
                key,
            ).fetchone()
        except sqlite3.Error:
            return None
        return row[0] if row else None

    def store(self, key: _MemoKey, value: str) -> None:
        db = self._connect()
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.execute("INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?, ?, ?)", (*key, value))


_FileIdentity = tuple[int, int, int, int]  # device, inode, size, mtime: survives renames

_MEMO = _HashMemo()
_PENDING: dict[_FileIdentity, Future[str]] = {}  # hashes started on the background thread


def _keys(path: Path) -> tuple[_MemoKey, _FileIdentity]:
    """From one stat: what a memoised hash is valid for (resolved path, size, mtime, inode,
    ctime) and the file's identity, which a pending hash follows through renames (a rename
    moves the ctime)."""
    stat = path.stat()
    memo_key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns)
    return memo_key, (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes (memoised by size, mtime, inode and ctime)."""
    key, identity = _keys(Path(path))
    value = _MEMO.lookup(key)
    if value is None:
        pending = _PENDING.pop(identity, None)
        value = pending.result() if pending and not pending.cancelled() else _hash_file_now(key[0])
        _MEMO.store(key, value)
    return value


def remember_sha256(path: Path, value: str) -> None:
    """Memoise `value` as the hash of `path`, whose bytes are known to hash to it (a file just
    hashed under another name, then moved)."""
    _MEMO.store(_keys(path)[0], value)


def hash_in_background(paths: Iterable[Path]) -> None:
    """Start hashing new files on a background thread, one after another, so that the hashing
    overlaps whatever runs next; `file_sha256` of such a file waits for its result."""
    for path in paths:
        try:
            key, identity = _keys(path)
        except OSError:
            continue  # gone already: whoever asks for its hash gets the error then
        if identity in _PENDING or _MEMO.lookup(key) is not None:
            continue
        _PENDING[identity] = _background_thread().submit(_hash_file_now, key[0])


def hash_in_background_from(path: Path, pieces: Callable[[], Iterable[memoryview]]) -> None:
    """Start hashing a file just written from the same bytes still in memory (`pieces` gives
    them in file order), instead of reading it back; the result follows the file through
    renames, and `file_sha256` waits for it. The bytes must not change meanwhile."""
    _PENDING[_keys(path)[1]] = _background_thread().submit(_hash_pieces, pieces)


def _hash_pieces(pieces: Callable[[], Iterable[memoryview]]) -> str:
    sha = hashlib.sha256()
    for piece in pieces():
        sha.update(piece)
    return sha.hexdigest()


@functools.cache
def _background_thread() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(1, "hash")


def cancel_background_hashing() -> None:
    """Drop the background hashes nobody asked for (those not started are not computed)."""
    for pending in _PENDING.values():
        pending.cancel()
    _PENDING.clear()


def files_sha256(root: Path, files: Iterable[Path]) -> str:
    """One hash for a set of files: their paths relative to `root` and their contents."""
    entries = sorted((file.relative_to(root).as_posix(), file_sha256(file)) for file in files)
    return digest(entries)


def path_sha256(path: Path) -> str:
    """Hash of a file, or of every file below a folder (names relative to it, and contents)."""
    if path.is_dir():
        return files_sha256(path, (p for p in path.rglob("*") if p.is_file()))
    return file_sha256(path)
