"""The step cache's bookkeeping: which runs hold entries (so gc spares them), the record of
uses, unfinished work, leftover staging folders, and when gc stops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from smolora_recipes.store.cache import USES, StepCache, choose_garbage
from tests.store.test_cache import make_entry

DEAD_PID = 2**22 + 12345  # above Linux's pid_max: never a live process


def test_holding_entries_is_remembered_per_process_until_released(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    first, second = make_entry(cache, "a" * 64), make_entry(cache, "b" * 64)
    assert cache.in_use() == set()  # no `.active` folder yet
    cache.hold(second)
    cache.hold(first)
    cache.hold(first)  # held twice: listed once
    record = tmp_path / ".active" / f"{os.getpid()}.json"
    assert json.loads(record.read_text()) == sorted([str(first.path), str(second.path)])
    assert cache.in_use() == {first.path, second.path}
    cache.release_all()
    assert not record.exists() and cache.in_use() == set()
    cache.release_all()  # nothing held: nothing to do


def test_records_of_dead_processes_are_dropped_and_unreadable_ones_ignored(
    tmp_path: Path,
) -> None:
    cache = StepCache(tmp_path)
    entry = make_entry(cache)
    active = tmp_path / ".active"
    active.mkdir()
    (active / f"{DEAD_PID}.json").write_text(json.dumps([str(entry.path)]))
    (active / "notes.json").write_text("[]")  # not a process id
    (active / "1.json").mkdir()  # a live pid's record that cannot be read
    (active / "1.json" / "x").write_text("")
    assert cache.in_use() == set()
    assert sorted(p.name for p in active.iterdir()) == ["1.json"]
    assert cache.remove(entry) and not entry.path.exists()


def test_a_use_is_recorded_with_its_run_and_utc_time(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    entry = make_entry(cache)
    cache.record_use(entry, "r/7")
    (use,) = entry.uses()
    assert use["run"] == "r/7" and use["time"].endswith("+00:00")
    assert len(use["time"]) == len("2026-12-05T08:00:00.000000+00:00")  # microseconds


def test_uses_survive_bytes_that_are_not_utf8_and_lines_that_are_not_records(
    tmp_path: Path,
) -> None:
    cache = StepCache(tmp_path)
    entry = make_entry(cache)
    cache.record_use(entry, "r/1")
    with (entry.path / USES).open("ab") as handle:
        handle.write(b'\xff\xfe{"run": "r/2"}\n[1, 2]\n{"run": "r/3", "time": 5}\n')
    cache.record_use(entry, "r/4")
    assert [use["run"] for use in entry.uses()] == ["r/1", "r/4"]


def test_unfinished_work_without_a_scratch_folder_is_none(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    make_entry(cache)
    assert cache.unfinished() == []


def test_entries_clear_staging_of_dead_writers_only(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    entry = make_entry(cache)
    dead = tmp_path / "train" / f".{'c' * 64}.tmp-{DEAD_PID}"
    live = tmp_path / "train" / f".{'d' * 64}.tmp-{os.getpid()}"
    odd = tmp_path / "train" / f".{'e' * 64}.tmp-x"  # no pid: left alone
    for folder in (dead, live, odd):
        (folder / "sub").mkdir(parents=True)
    (tmp_path / "train" / "notes.txt").write_text("not an entry")
    assert [found.path for found in cache.entries()] == [entry.path]
    assert not dead.exists() and live.exists() and odd.exists()


def test_gc_stops_as_soon_as_the_rest_fits(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    entries = [make_entry(cache, c * 64, text="x" * 100) for c in "abc"]
    for entry in entries[1:]:
        cache.record_use(entry, "r/2")  # `a` is the least recently used, then `b`
    total = sum(entry.size() for entry in entries)
    assert choose_garbage(entries, keep_last=None, max_size=total) == []  # fits exactly
    size = entries[0].size()
    assert choose_garbage(entries, keep_last=None, max_size=total - size) == entries[:1]
    assert choose_garbage(entries, keep_last=None, max_size=size + 1) == entries[:2]


def test_gc_leaves_an_entry_another_process_is_writing(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    entry = make_entry(cache)
    script = (
        "import sys, time; from pathlib import Path\n"
        "from smolora_recipes.store.cache import StepCache\n"
        f"with StepCache(Path({str(tmp_path)!r})).lock('train', {entry.fingerprint!r}):\n"
        "    print('held', flush=True); sys.stdin.read()\n"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "held"
        assert cache.is_held("train", entry.fingerprint)
        assert not cache.remove(entry) and entry.path.exists()
    finally:
        writer.communicate("")
    assert cache.remove(entry) and not entry.path.exists()
