"""A corpus larger than comfortable for memory: peak RSS and rows/s of the dataset step.

Writes a JSON Lines file of `--gb` gigabytes (unique ~1 KB texts), then runs only the load
and dataset steps on it (`smolora preview`, which goes through the step cache like a run) in
a fresh process, and reports the peak private (anonymous) memory of that process and its
tokenizing workers next to the corpus size. The examples stream from the reader into an Arrow
file and are tokenized from the memory-mapped file, so private memory stays far below the
corpus size (plain RSS also counts mapped file pages, which the kernel can drop). Linux only.

    python bench/large_data.py            # 0.22 GB, then 2.2 GB (minutes)
    python bench/large_data.py --gb 0.2   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = ["island", "harbour", "capital", "mountain", "festival", "lantern", "currency", "export"]
WORDS += ["storm", "fleet", "admiral", "coast", "spring", "plateau", "volcano", "summer"]
WORDS += ["bridge", "river", "garden", "library", "school", "tower", "valley", "forest"]


def write_corpus(path: Path, gigabytes: float, seed: int = 0) -> int:
    """Unique ~1 KB texts until the file reaches `gigabytes`; returns the row count."""
    rng = random.Random(seed)
    target = int(gigabytes * 1e9)
    rows = written = 0
    with path.open("w", encoding="utf-8") as handle:
        while written < target:
            lines = []
            for _ in range(2000):
                words = " ".join(rng.choices(WORDS, k=150))
                lines.append(json.dumps({"text": f"Note {rows}: {words}."}) + "\n")
                rows += 1
            block = "".join(lines)
            handle.write(block)
            written += len(block)
    return rows


def private_memory(root: int) -> int:
    """Proportional anonymous memory (Pss_Anon: heap, with pages a fork shares split between
    the processes that share them) of `root` and all its descendants, in bytes, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        tree.update(children)
        frontier.extend(children)
    total = 0
    for pid in tree:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in rollup.splitlines():
            if line.startswith("Pss_Anon:"):
                total += int(line.split()[1]) * 1024
    return total


def measure(gigabytes: float, work: Path) -> dict[str, float]:
    """Write a corpus, run the dataset step on it in a child process, and measure it."""
    folder = work / f"{gigabytes}gb"
    folder.mkdir()
    rows = write_corpus(folder / "corpus.jsonl", gigabytes)
    size = (folder / "corpus.jsonl").stat().st_size
    (folder / "large.yaml").write_text(
        "name: large\n"
        "data:\n"
        "  sources: [{type: jsonl, path: corpus.jsonl}]\n"
        f"  num_proc: {os.cpu_count() or 1}\n"
        "  eval_split: 0.001\n"
        "sft: {max_length: 512}\n"
        f"output: {{dir: runs, cache_dir: {folder / 'cache'}}}\n"
    )
    command = [sys.executable, "-m", "smolora_recipes", "preview", str(folder / "large.yaml")]
    started = time.perf_counter()
    child = subprocess.Popen(
        [*command, "--json", "-n", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    peak = 0
    while child.poll() is None:
        peak = max(peak, private_memory(child.pid))
        time.sleep(0.5)
    stdout, stderr = child.communicate()
    wall = time.perf_counter() - started
    if child.returncode != 0:
        sys.exit(f"preview failed:\n{stderr}")
    stats = json.loads(stdout)["stats"]
    tokens = stats["train_tokens"] + stats["eval_tokens"]
    shutil.rmtree(folder)
    return {"gb": size / 1e9, "rows": rows, "wall": wall, "tokens": tokens, "peak_mb": peak / 2**20}


def main() -> None:
    """Measure a small and a large corpus; print how time and memory grow with size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.2, help="large corpus size in GB")
    args = parser.parse_args()
    print(
        f"{'corpus':>9} {'rows':>11} {'wall s':>7} {'rows/s':>8} {'tokens/s':>11} {'peak MiB':>9}"
    )
    with tempfile.TemporaryDirectory(prefix="smolora-large-") as temp:
        for gigabytes in (args.gb / 10, args.gb):
            m = measure(gigabytes, Path(temp))
            rows_per_s, tokens_per_s = m["rows"] / m["wall"], m["tokens"] / m["wall"]
            print(
                f"{m['gb']:>6.2f} GB {m['rows']:>11,} {m['wall']:>7.0f} {rows_per_s:>8,.0f}"
                f" {tokens_per_s:>11,.0f} {m['peak_mb']:>9,.0f}"
            )
    print("peak MiB: private (Pss_Anon) memory of the process and its tokenizing workers")


if __name__ == "__main__":
    main()
