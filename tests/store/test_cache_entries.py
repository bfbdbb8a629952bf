"""What a sealed cache entry records and what a lookup says when it refuses one: the manifest's
fields, metrics of any JSON-able kind, replacement by a forced re-run, and the reason a
damaged entry is dropped (content checked by default, each file named)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from smolora_recipes.store import hashing
from smolora_recipes.store.cache import METRICS, StepCache
from tests.store.test_cache import FP, make_entry


def test_metrics_of_any_kind_are_stored_as_json(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    staging = cache.staging_dir("load", FP)
    entry = cache.commit("load", FP, staging, {"folder": Path("/m"), "n": 2}, run="r/1")
    assert entry.metrics() == {"folder": "/m", "n": 2}


def test_a_forced_re_run_replaces_the_entry(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    make_entry(cache, text="old")
    again = make_entry(cache, text="new")
    assert (again.path / "adapter" / "weights.bin").read_text() == "new"
    found = cache.lookup("train", FP)
    assert found is not None and found.fingerprint == FP


def test_sealing_remembers_hashes_so_the_next_lookup_reads_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = StepCache(tmp_path)
    make_entry(cache)
    reads: list[str] = []
    real = hashing._hash_file_now
    monkeypatch.setattr(hashing, "_hash_file_now", lambda path: reads.append(path) or real(path))
    assert cache.lookup("train", FP) is not None and reads == []


def change(path: Path, data: bytes) -> None:
    """Rewrite the file, keeping its mtime (as `cp -p` would)."""
    before = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (
            lambda e: change(e / "adapter/weights.bin", b"x"),
            "adapter/weights.bin has changed since it was sealed",
        ),
        (
            lambda e: change(e / "adapter/weights.bin", b"xy"),
            "adapter/weights.bin has changed size since it was sealed",
        ),
        (lambda e: (e / "adapter/weights.bin").unlink(), "adapter/weights.bin is missing"),
        (lambda e: (e / METRICS).unlink(), "metrics.json is missing"),
    ],
)
def test_a_damaged_entry_is_dropped_saying_why(tmp_path: Path, damage: object, reason: str) -> None:
    cache = StepCache(tmp_path)
    entry = make_entry(cache)
    damage(entry.path)  # type: ignore[operator]
    said: list[str] = []
    assert cache.lookup("train", FP, warn=said.append) is None
    assert not entry.path.exists()
    assert said == [f"cache entry {FP[:12]} removed ({reason}); computing it again"]


def test_a_folder_never_sealed_is_dropped_without_a_warning(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    (tmp_path / "train" / FP).mkdir(parents=True)
    said: list[str] = []
    assert cache.lookup("train", FP, warn=said.append) is None and said == []
    assert not (tmp_path / "train" / FP).exists()


def test_listing_entries_checks_sizes_but_not_contents(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    entry = make_entry(cache, text="w")
    change(entry.path / "adapter/weights.bin", b"x")  # same size, other bytes
    assert [found.path for found in cache.entries()] == [entry.path]  # `cache ls` stays cheap
    assert cache.lookup("train", FP) is None  # a run checks the content


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: {**m, "fingerprint": "e" * 64},  # another entry's manifest
        lambda m: {**m, "cache_version": 1},  # written by another version
        lambda m: {k: v for k, v in m.items() if k != "files"},  # damaged: lists nothing
    ],
)
def test_a_manifest_not_sealed_for_this_entry_drops_it_without_a_warning(
    tmp_path: Path, edit: object
) -> None:
    cache = StepCache(tmp_path)
    entry = make_entry(cache)
    manifest = edit(json.loads((entry.path / "manifest.json").read_text()))  # type: ignore[operator]
    (entry.path / "manifest.json").write_text(json.dumps(manifest))
    said: list[str] = []
    assert cache.lookup("train", FP, warn=said.append) is None and said == []


def test_a_staging_folder_starts_empty_even_after_a_failed_attempt(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    first = cache.staging_dir("train", FP)
    (first / "half-written.bin").write_text("x")
    again = cache.staging_dir("train", FP)
    assert again == first and list(again.iterdir()) == []
