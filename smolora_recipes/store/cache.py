"""The content-addressed step cache: `<root>/<step>/<fingerprint>/`, written whole or not at all.

An entry is staged in a temporary folder, its manifest (fingerprint, files with sizes and
sha256, creating run) written last, then renamed into place; a lookup accepts only an entry whose
manifest is complete and whose files have the listed sizes and content, and removes anything
else, saying why. Content checks cost a memo lookup per file while the files are unchanged (see
`store/hashing`); the run report's hashes of the same files come from that memo. Writers hold an
advisory `flock` per entry, which the OS releases when a process dies, so a killed run never
leaves a lock behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smolora_recipes.core.file_lock import fcntl, held_lock
from smolora_recipes.store.hashing import file_sha256, remember_sha256

CACHE_VERSION = 2  # 2: the manifest lists each file's sha256
MANIFEST = "manifest.json"
METRICS = "metrics.json"
USES = "uses.jsonl"
_NOT_OUTPUTS = {MANIFEST, USES}


@dataclass(frozen=True)
class CacheEntry:
    """A complete cache entry: its folder and manifest."""

    step: str
    fingerprint: str
    path: Path
    manifest: dict[str, Any]

    def metrics(self) -> dict[str, Any]:
        """The metrics the step reported when it ran."""
        return json.loads((self.path / METRICS).read_text(encoding="utf-8"))

    def size(self) -> int:
        """Bytes of the files the manifest lists."""
        return sum(item["bytes"] for item in self.manifest["files"])

    def uses(self) -> list[dict[str, str]]:
        """The runs that used this entry, oldest first (a line that is not a use record, such
        as one torn by a killed run, is skipped: the record is bookkeeping, not content)."""
        path = self.path / USES
        if not path.is_file():
            return []
        found = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                use = json.loads(line)
                if isinstance(use, dict) and isinstance(use.get("time"), str):
                    found.append(use)
        return found

    def last_use_by_recipe(self) -> dict[str, str]:
        """ISO time of each recipe's last use of this entry (a run is `recipe/run-id`); an
        entry no run used yet counts as used by no recipe (`""`) when it was created."""
        latest: dict[str, str] = {}
        for use in self.uses():
            recipe = str(use.get("run", "")).split("/")[0]
            latest[recipe] = max(latest.get(recipe, ""), use["time"])
        return latest or {"": self.manifest["created"]}

    def last_run(self) -> str:
        """The run that used this entry last, or "" when none did."""
        uses = self.uses()
        return str(uses[-1].get("run", "")) if uses else ""

    def last_used(self) -> str:
        """ISO time of the last run that used the entry (its creation if none)."""
        uses = self.uses()
        return uses[-1]["time"] if uses else self.manifest["created"]


@dataclass(frozen=True)
class Unfinished:
    """The work folder of a step that did not finish (e.g. training checkpoints)."""

    step: str
    fingerprint: str
    path: Path
    size: int


class StepCache:
    """Step outputs keyed by fingerprint under one root folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def entry_dir(self, step: str, fingerprint: str) -> Path:
        """Where the entry for `fingerprint` of `step` lives."""
        return self.root / step / fingerprint

    def lookup(
        self,
        step: str,
        fingerprint: str,
        *,
        check_content: bool = True,
        warn: Callable[[str], None] | None = None,
    ) -> CacheEntry | None:
        """The complete entry for this fingerprint, or None. A broken entry (incomplete, or a
        file whose size or, with `check_content`, sha256 differs from when it was sealed) is
        removed, and `warn` told why."""
        folder = self.entry_dir(step, fingerprint)
        if not folder.is_dir():
            return None
        manifest, problem = _checked_manifest(folder, fingerprint, check_content)
        if manifest is None:
            shutil.rmtree(folder, ignore_errors=True)
            if warn is not None and problem:
                warn(f"cache entry {fingerprint[:12]} removed ({problem}); computing it again")
            return None
        return CacheEntry(step, fingerprint, folder, manifest)

    @contextlib.contextmanager
    def lock(self, step: str, fingerprint: str) -> Iterator[None]:
        """Hold the writer's lock of one entry (waits while another process holds it)."""
        with held_lock(self.root / step / f".{fingerprint}.lock"):
            yield

    def is_held(self, step: str, fingerprint: str) -> bool:
        """True while some process holds the entry's writer lock."""
        path = self.root / step / f".{fingerprint}.lock"
        if fcntl is None or not path.exists():
            return False
        with path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
        return False

    def staging_dir(self, step: str, fingerprint: str) -> Path:
        """A fresh private folder to build an entry in (call with the entry's lock held)."""
        staging = self.root / step / f".{fingerprint}.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        return staging

    def scratch_dir(self, step: str, fingerprint: str) -> Path:
        """A working folder for one fingerprint that outlives a crash (training checkpoints)."""
        return self.root / ".scratch" / f"{step}-{fingerprint}"

    def commit(
        self, step: str, fingerprint: str, staging: Path, metrics: dict[str, Any], run: str
    ) -> CacheEntry:
        """Seal a staged entry: metrics, manifest last, then rename into place."""
        (staging / METRICS).write_text(json.dumps(metrics, indent=2, default=str))
        files = [
            {
                "path": p.relative_to(staging).as_posix(),
                "bytes": p.stat().st_size,
                "sha256": file_sha256(p),
            }
            for p in sorted(staging.rglob("*"))
            if p.is_file() and p.name not in _NOT_OUTPUTS
        ]
        manifest = {
            "cache_version": CACHE_VERSION,
            "step": step,
            "fingerprint": fingerprint,
            "created": datetime.now(UTC).isoformat(timespec="microseconds"),
            "run": run,
            "files": files,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        target = self.entry_dir(step, fingerprint)
        shutil.rmtree(target, ignore_errors=True)  # a forced re-run replaces the old entry
        staging.rename(target)
        for item in files:  # same bytes, new path: known without reading them again
            remember_sha256(target / item["path"], item["sha256"])
        return CacheEntry(step, fingerprint, target, manifest)

    def record_use(self, entry: CacheEntry, run: str) -> None:
        """Remember that `run` used this entry (for `cache ls` and `cache gc`)."""
        line = {"run": run, "time": datetime.now(UTC).isoformat(timespec="microseconds")}
        with (entry.path / USES).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")

    def entries(self) -> list[CacheEntry]:
        """Every complete entry, all steps; removes leftovers of dead writers on the way."""
        found = []
        if not self.root.is_dir():
            return found
        for step_dir in sorted(self.root.iterdir()):
            if step_dir.name.startswith(".") or not step_dir.is_dir():
                continue  # .scratch, .active, .index: bookkeeping, not steps
            for folder in sorted(step_dir.iterdir()):
                if folder.name.startswith(".") and ".tmp-" in folder.name:
                    _remove_if_orphaned(folder)
                elif folder.is_dir() and not folder.name.startswith("."):
                    entry = self.lookup(step_dir.name, folder.name, check_content=False)
                    if entry is not None:
                        found.append(entry)
        return found

    def unfinished(self) -> list[Unfinished]:
        """Work folders of steps that were killed or interrupted (a re-run resumes from them)."""
        folder = self.root / ".scratch"
        found = []
        for path in sorted(folder.iterdir()) if folder.is_dir() else ():
            step, _, fingerprint = path.name.partition("-")
            size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            found.append(Unfinished(step, fingerprint, path, size))
        return found

    def remove_unfinished(self, work: Unfinished) -> bool:
        """Delete an unfinished step's work folder unless a live run is working in it."""
        if self.is_held(work.step, work.fingerprint):
            return False
        shutil.rmtree(work.path, ignore_errors=True)
        return True

    def remove(self, entry: CacheEntry) -> bool:
        """Delete an entry unless a live run is writing or using it; True if deleted."""
        if self.is_held(entry.step, entry.fingerprint) or entry.path in self.in_use():
            return False
        with self.lock(entry.step, entry.fingerprint):
            shutil.rmtree(entry.path, ignore_errors=True)
        return True

    # ----------------------------------------------------------------- runs using entries

    def _active_file(self) -> Path:
        return self.root / ".active" / f"{os.getpid()}.json"

    def hold(self, entry: CacheEntry) -> None:
        """Mark `entry` as used by this process until `release_all` (gc will not delete it)."""
        path = self._active_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        held = json.loads(path.read_text()) if path.is_file() else []
        held.append(str(entry.path))
        path.write_text(json.dumps(sorted(set(held))))

    def release_all(self) -> None:
        """This process no longer uses any entry."""
        self._active_file().unlink(missing_ok=True)

    def in_use(self) -> set[Path]:
        """Entries held by live processes (records of dead ones are removed)."""
        folder = self.root / ".active"
        used: set[Path] = set()
        for record in folder.glob("*.json") if folder.is_dir() else ():
            if record.stem.isdigit() and _process_alive(int(record.stem)):
                with contextlib.suppress(OSError, ValueError):
                    used.update(Path(p) for p in json.loads(record.read_text()))
            else:
                record.unlink(missing_ok=True)
        return used


def _checked_manifest(
    folder: Path, fingerprint: str, check_content: bool
) -> tuple[dict[str, Any] | None, str]:
    """The entry's manifest when the entry is whole, else None and what is wrong with it ("" for
    a folder that was never sealed, or sealed by another cache version)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, ""
    if not isinstance(manifest, dict) or manifest.get("fingerprint") != fingerprint:
        return None, ""
    if manifest.get("cache_version") != CACHE_VERSION or not isinstance(
        manifest.get("files"), list
    ):
        return None, ""
    if not (folder / METRICS).is_file():
        return None, f"{METRICS} is missing"
    for item in manifest["files"]:
        path = folder / item["path"]
        if not path.is_file():
            return None, f"{item['path']} is missing"
        if path.stat().st_size != item["bytes"]:
            return None, f"{item['path']} has changed size since it was sealed"
        if check_content and file_sha256(path) != item["sha256"]:
            return None, f"{item['path']} has changed since it was sealed"
    return manifest, ""


def _remove_if_orphaned(staging: Path) -> None:
    """Remove a staging folder whose writer process no longer exists."""
    pid_text = staging.name.rsplit("-", 1)[-1]
    if pid_text.isdigit() and not _process_alive(int(pid_text)):
        shutil.rmtree(staging, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def parse_size(text: str) -> int:
    """'20GB' -> bytes (decimal units; KiB/MiB/GiB binary)."""
    units = {
        "": 1,
        "B": 1,
        "KB": 10**3,
        "MB": 10**6,
        "GB": 10**9,
        "TB": 10**12,
        "KIB": 2**10,
        "MIB": 2**20,
        "GIB": 2**30,
        "TIB": 2**40,
    }
    cleaned = text.strip().upper().replace(" ", "")
    number = cleaned.rstrip("KMGTIB")
    unit = cleaned[len(number) :]
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if value < 0 or unit not in units:
        raise ValueError(f"not a size: {text!r} (use e.g. 500MB, 20GB)")
    return int(value * units[unit])


def choose_garbage(
    entries: list[CacheEntry], keep_last: int | None, max_size: int | None
) -> list[CacheEntry]:
    """Entries to remove: those beyond the `keep_last` most recently used of each step for
    every recipe that used them (one recipe's history never pushes out another's), then least
    recently used ones until the rest fits in `max_size` bytes."""
    by_recency = sorted(entries, key=lambda e: e.last_used(), reverse=True)
    doomed: list[CacheEntry] = []
    if keep_last is not None:
        histories: dict[tuple[str, str], list[tuple[str, int]]] = {}
        for index, entry in enumerate(by_recency):
            for recipe, time in entry.last_use_by_recipe().items():
                histories.setdefault((entry.step, recipe), []).append((time, index))
        kept = {
            index
            for history in histories.values()
            for _, index in sorted(history, reverse=True)[:keep_last]
        }
        doomed = [entry for index, entry in enumerate(by_recency) if index not in kept]
    if max_size is not None:
        survivors = [e for e in by_recency if e not in doomed]
        total = sum(e.size() for e in survivors)
        for entry in reversed(survivors):  # least recently used first
            if total <= max_size:
                break
            doomed.append(entry)
            total -= entry.size()
    return doomed
