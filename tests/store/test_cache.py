"""The step cache store: whole entries or nothing, corruption ignored, locks across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from smolora_recipes.store.cache import StepCache, choose_garbage, parse_size
from tests.conftest import REPO_ROOT

FP = "f" * 64


def make_entry(cache: StepCache, fingerprint: str = FP, step: str = "train", text: str = "w"):
    staging = cache.staging_dir(step, fingerprint)
    (staging / "adapter").mkdir()
    (staging / "adapter/weights.bin").write_text(text)
    return cache.commit(step, fingerprint, staging, {"loss": 1.0}, run="r/1")


def test_commit_then_lookup(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    entry = make_entry(cache)
    found = cache.lookup("train", FP)
    assert found is not None and found.path == entry.path == tmp_path / "train" / FP
    assert found.metrics() == {"loss": 1.0} and found.manifest["run"] == "r/1"
    files = {f["path"]: f for f in found.manifest["files"]}
    assert set(files) == {"adapter/weights.bin", "metrics.json"}
    weights = entry.path / "adapter/weights.bin"
    assert files["adapter/weights.bin"]["bytes"] == weights.stat().st_size
    assert not [p for p in (tmp_path / "train").iterdir() if ".tmp-" in p.name]


def test_corrupted_entry_is_ignored_and_removed(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    entry = make_entry(cache, text="weights")
    (entry.path / "adapter/weights.bin").write_text("w")  # truncated
    assert cache.lookup("train", FP) is None
    assert not entry.path.exists()


def test_half_written_entry_without_manifest_is_never_used(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    folder = tmp_path / "train" / FP
    (folder / "adapter").mkdir(parents=True)
    (folder / "metrics.json").write_text("{}")
    assert cache.lookup("train", FP) is None and not folder.exists()


def test_manifest_of_another_fingerprint_is_refused(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    entry = make_entry(cache)
    other = tmp_path / "train" / ("e" * 64)
    entry.path.rename(other)
    assert cache.lookup("train", "e" * 64) is None


def test_orphaned_staging_of_a_dead_process_is_cleaned(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    make_entry(cache)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    orphan = tmp_path / "train" / f".{'a' * 64}.tmp-{dead}"
    orphan.mkdir()
    assert len(cache.entries()) == 1 and not orphan.exists()


def test_second_writer_waits_and_reuses_the_first_writers_entry(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from smolora_recipes.store.cache import StepCache
        cache = StepCache(Path({str(tmp_path)!r}))
        with cache.lock("train", {FP!r}):
            if cache.lookup("train", {FP!r}) is None:
                with open({str(tmp_path / "computed")!r}, "a") as log:
                    log.write(sys.argv[1] + "\\n")
                time.sleep(1.0)
                staging = cache.staging_dir("train", {FP!r})
                (staging / "out.txt").write_text(sys.argv[1])
                cache.commit("train", {FP!r}, staging, {{}}, run=sys.argv[1])
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    workers = [subprocess.Popen([sys.executable, "-c", script, name], env=env) for name in "ab"]
    assert [w.wait(timeout=60) for w in workers] == [0, 0]
    assert len((tmp_path / "computed").read_text().split()) == 1  # computed once
    assert StepCache(tmp_path).lookup("train", FP) is not None


def test_lock_of_a_killed_process_is_released(tmp_path: Path) -> None:
    script = (
        "import time; from pathlib import Path; from smolora_recipes.store.cache import StepCache\n"
        f"c = StepCache(Path({str(tmp_path)!r}))\n"
        f"with c.lock('train', {FP!r}):\n    print('locked', flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    cache = StepCache(tmp_path)
    assert cache.is_held("train", FP)
    holder.kill()
    holder.wait()
    assert not cache.is_held("train", FP)
    with cache.lock("train", FP):
        pass


def test_gc_never_removes_an_entry_a_live_run_uses(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    entry = make_entry(cache)
    cache.hold(entry)
    assert not cache.remove(entry) and entry.path.exists()
    cache.release_all()
    assert cache.remove(entry) and not entry.path.exists()


def test_choose_garbage_keep_last_and_max_size(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    old = make_entry(cache, "a" * 64, text="x" * 100)
    new = make_entry(cache, "b" * 64, text="y" * 100)
    cache.record_use(old, "r/1")
    cache.record_use(new, "r/2")
    other = make_entry(cache, "c" * 64, step="merge", text="z" * 10)
    assert choose_garbage([old, new, other], keep_last=1, max_size=None) == [old]
    assert choose_garbage([old, new, other], keep_last=None, max_size=10**9) == []
    limit = other.size() + new.size() + 5  # room for all but the least recently used
    assert choose_garbage([old, new, other], keep_last=None, max_size=limit) == [old]
    assert len(choose_garbage([old, new, other], keep_last=None, max_size=0)) == 3


def test_keep_last_counts_each_recipes_history_apart(tmp_path: Path) -> None:
    """gc of one busy recipe never removes another recipe's latest entries (issue 22, item 3)."""
    cache = StepCache(tmp_path)
    shared, quiet = make_entry(cache, "0" * 64), make_entry(cache, "1" * 64)
    busy = [make_entry(cache, str(n) * 64) for n in range(2, 5)]
    cache.record_use(shared, "quiet/1")
    cache.record_use(quiet, "quiet/2")
    for number, entry in enumerate(busy, 1):
        cache.record_use(entry, f"busy/{number}")
    cache.record_use(shared, "busy/4")
    assert set(shared.last_use_by_recipe()) == {"quiet", "busy"}
    assert shared.last_run() == "busy/4" and make_entry(cache, "8" * 64).last_run() == ""
    doomed = choose_garbage([shared, quiet, *busy], keep_last=1, max_size=None)
    assert doomed == [busy[2], busy[1], busy[0]]  # quiet keeps its latest, busy its latest


def test_record_use_and_last_used(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    entry = make_entry(cache)
    assert entry.last_used() == entry.manifest["created"]  # never used: its creation
    cache.record_use(entry, "r/9")
    cache.record_use(entry, "r/10")
    uses = entry.uses()
    assert [u["run"] for u in uses] == ["r/9", "r/10"]
    assert entry.last_used() == uses[-1]["time"] > entry.manifest["created"]
    assert json.loads((entry.path / "manifest.json").read_text())["fingerprint"] == FP


@pytest.mark.parametrize(
    ("text", "size"), [("20GB", 20 * 10**9), ("1.5 MiB", 1572864), ("500", 500)]
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_parse_size_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")


def test_unfinished_work_is_listed_kept_by_entries_and_removed_on_request(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    make_entry(cache)
    scratch = cache.scratch_dir("train", "a" * 64)
    (scratch / "checkpoint-4").mkdir(parents=True)
    (scratch / "checkpoint-4/optimizer.pt").write_bytes(b"x" * 10)
    assert [e.step for e in cache.entries()] == ["train"]  # bookkeeping folders are no steps
    (work,) = cache.unfinished()
    assert (work.step, work.fingerprint, work.size) == ("train", "a" * 64, 10)
    with cache.lock("train", "a" * 64):
        held = subprocess.run(
            [
                sys.executable,
                "-c",
                "from pathlib import Path; from smolora_recipes.store.cache import StepCache\n"
                f"c = StepCache(Path({str(tmp_path)!r}))\n"
                "print(c.remove_unfinished(c.unfinished()[0]))",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    assert held.stdout.strip() == "False" and scratch.exists()  # a live run works in it
    assert cache.remove_unfinished(work) and not scratch.exists()
