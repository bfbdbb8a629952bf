"""The step cache's files on disk: entry layout, manifest, uses, leftovers, gc and sizes."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from smolora_recipes.store.cache import (
    CACHE_VERSION,
    METRICS,
    CacheEntry,
    StepCache,
    choose_garbage,
    parse_size,
)

FP = "f" * 64
DEAD_PID = 999_999_999  # above any pid_max: no such process


def make_entry(cache: StepCache, fingerprint: str = FP, step: str = "train", text: str = "w"):
    """Commit an entry holding `adapter/weights.bin` with `text`."""
    staging = cache.staging_dir(step, fingerprint)
    (staging / "adapter").mkdir()
    (staging / "adapter/weights.bin").write_text(text)
    (staging / "config.json").write_text("{}")
    return cache.commit(step, fingerprint, staging, {"loss": 1.0, "where": Path("/x")}, run="r/1")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_commit_writes_metrics_and_manifest_last(tmp_path: Path) -> None:
    cache = StepCache(tmp_path / "cache")
    entry = make_entry(cache, text="weights")
    folder = tmp_path / "cache" / "train" / FP
    assert entry.path == folder and (entry.step, entry.fingerprint) == ("train", FP)
    assert (folder / "metrics.json").read_text() == '{\n  "loss": 1.0,\n  "where": "/x"\n}'
    manifest_text = (folder / "manifest.json").read_text()
    manifest = json.loads(manifest_text)
    assert manifest_text == json.dumps(manifest, indent=2)
    created = datetime.fromisoformat(manifest.pop("created"))
    assert created.utcoffset() is not None and created.utcoffset().total_seconds() == 0
    assert manifest == {
        "cache_version": CACHE_VERSION,
        "step": "train",
        "fingerprint": FP,
        "run": "r/1",
        "files": [
            {"path": name, "bytes": (folder / name).stat().st_size, "sha256": _sha(folder / name)}
            for name in ("adapter/weights.bin", "config.json", "metrics.json")
        ],
    }
    assert [item["bytes"] for item in manifest["files"][:2]] == [7, 2]
    assert entry.manifest["created"] == created.isoformat(timespec="microseconds")
    assert entry.size() == 9 + (folder / "metrics.json").stat().st_size
    assert sorted(p.name for p in (tmp_path / "cache" / "train").iterdir()) == [FP]


def test_a_forced_rerun_replaces_the_entry(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    make_entry(cache, text="old")
    cache.record_use(cache.lookup("train", FP), "r/2")
    entry = make_entry(cache, text="newer")
    assert (entry.path / "adapter/weights.bin").read_text() == "newer"
    assert entry.uses() == [] and not (entry.path / "uses.jsonl").exists()


def test_uses_are_not_outputs_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    entry = make_entry(cache)
    cache.record_use(entry, "r/2")
    line = (entry.path / "uses.jsonl").read_text()
    assert line.startswith('{"run": "r/2", "time": "') and line.endswith('"}\n')
    with (entry.path / "uses.jsonl").open("a") as handle:
        handle.write("\n  \n")
    assert [use["run"] for use in entry.uses()] == ["r/2"]
    assert datetime.fromisoformat(entry.uses()[0]["time"]).utcoffset() == timedelta(0)
    again = cache.lookup("train", FP)  # uses.jsonl is not listed, so the entry stays valid
    assert again is not None and again.manifest == entry.manifest


def test_staging_dir_is_fresh_and_private_to_the_process(tmp_path: Path) -> None:
    cache = StepCache(tmp_path / "cache")
    staging = cache.staging_dir("train", FP)
    assert staging == tmp_path / "cache" / "train" / f".{FP}.tmp-{os.getpid()}"
    (staging / "left.txt").write_text("from a crash")
    assert list(cache.staging_dir("train", FP).iterdir()) == []
    assert cache.scratch_dir("train", FP) == tmp_path / "cache" / ".scratch" / f"train-{FP}"


def rewrite_manifest(entry: CacheEntry, **changes: object) -> None:
    """Edit an entry's manifest on disk."""
    manifest = {**entry.manifest, **changes}
    (entry.path / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "damage",
    [
        lambda e: rewrite_manifest(e, cache_version=CACHE_VERSION + 1),
        lambda e: (e.path / "manifest.json").write_text("[1, 2]"),
        lambda e: (e.path / "manifest.json").write_text("{not json"),
        lambda e: (e.path / "metrics.json").unlink(),
        lambda e: (
            rewrite_manifest(e, files=[f for f in e.manifest["files"] if f["path"] != METRICS]),
            (e.path / METRICS).unlink(),
        ),
        lambda e: (e.path / "config.json").unlink(),
        lambda e: rewrite_manifest(e, files=[*e.manifest["files"], {"path": "gone", "bytes": 1}]),
    ],
    ids=[
        "old-version",
        "not-a-dict",
        "bad-json",
        "no-metrics",
        "no-metrics-unlisted",
        "file-missing",
        "listed-gone",
    ],
)
def test_a_broken_entry_is_not_used_and_removed(tmp_path: Path, damage) -> None:
    cache = StepCache(tmp_path)
    entry = make_entry(cache)
    damage(entry)
    assert cache.lookup("train", FP) is None and not entry.path.exists()


def test_an_entry_whose_manifest_lists_no_files_is_not_sealed(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    entry = make_entry(cache)
    manifest = dict(entry.manifest)
    del manifest["files"]
    (entry.path / "manifest.json").write_text(json.dumps(manifest))
    assert cache.lookup("train", FP) is None and not entry.path.exists()


def test_lookup_and_listing_of_an_empty_cache(tmp_path: Path) -> None:
    cache = StepCache(tmp_path / "nothing-yet")
    assert cache.lookup("train", FP) is None
    assert cache.entries() == [] and cache.unfinished() == [] and cache.in_use() == set()
    assert not cache.is_held("train", FP)
    assert not (tmp_path / "nothing-yet").exists()


def test_entries_skip_bookkeeping_and_keep_live_writers_staging(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    train = make_entry(cache, "b" * 64)
    merge = make_entry(cache, "a" * 64, step="merge")
    (tmp_path / "README").write_text("not a step")
    (tmp_path / ".index").mkdir()
    (tmp_path / "train" / "notes.txt").write_text("not an entry")
    (tmp_path / "train" / ".hidden").mkdir()
    live = tmp_path / "train" / f".{'c' * 64}.tmp-{os.getpid()}"
    dead = tmp_path / "train" / f".{'d' * 64}.tmp-{DEAD_PID}"
    odd = tmp_path / "train" / f".{'e' * 64}.tmp-abc"
    for folder in (live, dead, odd):
        folder.mkdir()
    assert [e.path for e in cache.entries()] == [merge.path, train.path]
    assert live.exists() and odd.exists() and not dead.exists()
    assert (tmp_path / "train" / ".hidden").exists()


def test_unfinished_work_folders_with_their_sizes(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    for step, fingerprint, sizes in [("train", "a-b", [3, 4]), ("merge", "c", [])]:
        folder = cache.scratch_dir(step, fingerprint)
        (folder / "sub").mkdir(parents=True)
        for number, size in enumerate(sizes):
            (folder / "sub" / f"{number}.bin").write_bytes(b"x" * size)
    found = [(w.step, w.fingerprint, w.size, w.path.name) for w in cache.unfinished()]
    assert found == [("merge", "c", 0, "merge-c"), ("train", "a-b", 7, "train-a-b")]


def test_held_entries_are_recorded_per_process(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    first, second = make_entry(cache, "b" * 64), make_entry(cache, "a" * 64)
    cache.hold(first)
    cache.hold(second)
    cache.hold(first)
    record = tmp_path / ".active" / f"{os.getpid()}.json"
    assert json.loads(record.read_text()) == sorted({str(first.path), str(second.path)})
    assert cache.in_use() == {first.path, second.path}
    assert not cache.remove(second) and second.path.exists()
    cache.release_all()
    assert not record.exists() and cache.in_use() == set()
    cache.release_all()  # nothing held: fine


def test_records_of_dead_or_unknown_processes_are_dropped(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    active = tmp_path / ".active"
    active.mkdir()
    (active / f"{DEAD_PID}.json").write_text('["/dead"]')
    (active / "notes.json").write_text('["/odd"]')
    (active / f"{os.getpid()}.json").write_text("{broken")
    (active / "1.json").write_text('["/live"]')  # pid 1 is always alive
    assert cache.in_use() == {Path("/live")}
    assert sorted(p.name for p in active.iterdir()) == ["1.json", f"{os.getpid()}.json"]


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("7B", 7),
        (" 2 kb ", 2000),
        ("3MB", 3 * 10**6),
        ("1TB", 10**12),
        ("1KiB", 1024),
        ("2MiB", 2 * 2**20),
        ("1GiB", 2**30),
        ("1tib", 2**40),
        ("0.5GB", 5 * 10**8),
    ],
)
def test_parse_size_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["-5GB", "5XB", "GB", "5 PB", ""])
def test_parse_size_refuses_with_an_example(text: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_size(text)
    assert str(error.value) == f"not a size: {text!r} (use e.g. 500MB, 20GB)"


def test_choose_garbage_keeps_the_most_recent_per_step(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    entries = [make_entry(cache, str(n) * 64, text="x" * 10) for n in range(4)]
    merge = make_entry(cache, "9" * 64, step="merge", text="m")
    for entry in [entries[3], *entries[:3]]:  # entries[3] used first: the least recent
        cache.record_use(entry, "later/1")
    newest_first = [entries[2], entries[1], entries[0]]
    everything = [*entries, merge]
    assert choose_garbage(everything, keep_last=2, max_size=None) == [entries[0], entries[3]]
    assert choose_garbage(everything, keep_last=4, max_size=None) == []
    assert choose_garbage(everything, keep_last=None, max_size=None) == []
    kept = [newest_first[0], newest_first[1], merge]
    exact = sum(e.size() for e in kept)
    assert choose_garbage(everything, keep_last=2, max_size=exact) == [entries[0], entries[3]]
    assert choose_garbage(everything, keep_last=2, max_size=exact - 1) == [
        entries[0],
        entries[3],
        merge,
    ]
    only_newest = entries[2].size()  # two more to drop, least recently used first
    assert choose_garbage(everything, keep_last=2, max_size=only_newest) == [
        entries[0],
        entries[3],
        merge,
        entries[1],
    ]


def test_remove_refuses_while_the_entry_is_being_written(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    entry = make_entry(cache)
    with cache.lock("train", FP):  # a writer (here: another open of the lock file)
        assert cache.is_held("train", FP) and not cache.remove(entry)
    assert entry.path.exists() and not cache.is_held("train", FP)
    assert cache.remove(entry) and cache.remove(entry)  # already gone: nothing to do
    assert [p.name for p in (tmp_path / "train").iterdir()] == [f".{FP}.lock"]


def test_an_unreadable_use_record_is_skipped(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    (tmp_path / ".active" / f"{os.getpid()}.json").mkdir(parents=True)
    assert cache.in_use() == set()
