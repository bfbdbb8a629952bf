"""`sft.compile`: does compiling the decoder layers pay, on the first run and on a re-run?

A recipe is re-run with small changes far more often than it is run once, so each workload is
run four times, each in a fresh process with an empty step cache:

1. eager (`sft.compile=false`);
2. compiled, into an empty inductor cache (the first run of a model ever);
3. compiled again with another learning rate (the cache holds the graphs: a re-run);
4. eager with that learning rate.

Workloads: `bench`, the bench recipe on the `varied` corpus (bench/run.py's, one epoch), and
`quickstart` (`builtin:quickstart`). Prints train seconds, whole-run seconds and tokens/s of
each, and the ratios compiled/eager of the first and of the second run (the whole run's first
ratio also holds one-time work of the first run ever: the quickstart's base-model scores). Writes
bench/results/compile-<date>-<HHMM>.json.

    python bench/compile.py [--workload both|bench|quickstart] [--model smollm2-135m-instruct]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from contenders import (
    BENCH,
    DEFAULT_MODEL,
    child_run,
    model_folder,
    smolora_command,
    write_recipe,
)
from corpus import write_corpus

RUNS = (  # label, compiled, other learning rate (False: the recipe's)
    ("eager, first", False, False),
    ("compiled, first (empty cache)", True, False),
    ("compiled, re-run (other lr)", True, True),
    ("eager, re-run (other lr)", False, True),
)
OTHER_LEARNING_RATE = {"bench": "1e-4", "quickstart": "1.5e-3"}  # theirs: 2e-4, 2e-3


def timed_run(recipe: str, work: Path, compiled: bool, learning_rate: str | None) -> dict:
    """One `smolora run` in its own folders: train and whole-run seconds, tokens/s, loss."""
    work.mkdir()
    sets = [f"sft.compile={str(compiled).lower()}"]
    sets += [f"sft.learning_rate={learning_rate}"] * (learning_rate is not None)
    process = child_run(smolora_command(Path(recipe), work, sets), work / "smolora.log")
    (report_file,) = (work / "runs").glob("*/latest/report.json")
    report = json.loads(report_file.read_text())
    train = report["train"]
    assert train["compiled"] == compiled, "the run did not compile as asked"
    return {
        "total_s": round(process["wall"], 2),
        "train_s": next(s["duration_s"] for s in report["steps"] if s["name"] == "train"),
        "tokens_per_second": train["tokens_per_second"],
        "final_train_loss": train["final_train_loss"],
        "peak_rss_mb": report["run"]["peak_rss_mb"],
    }


def workload(name: str, recipe: str, work: Path) -> dict[str, Any]:
    """The four runs of one workload (`bench` or `quickstart`), with an inductor cache of its
    own; printed as they end."""
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(work / "inductor")  # the children's cache
    print(f"\n== {name}", flush=True)
    runs = {}
    for index, (label, compiled, other_rate) in enumerate(RUNS):
        learning_rate = OTHER_LEARNING_RATE[name] if other_rate else None
        result = timed_run(recipe, work / f"run-{index}", compiled, learning_rate)
        runs[label] = result
        print(
            f"{label:<32} train {result['train_s']:7.1f} s, whole run {result['total_s']:7.1f} s, "
            f"{result['tokens_per_second']:7.1f} tokens/s, loss {result['final_train_loss']:.4f}",
            flush=True,
        )
    ratios = {
        f"{when} {measure}": runs[RUNS[compiled][0]][measure] / runs[RUNS[eager][0]][measure]
        for when, compiled, eager in (("first run", 1, 0), ("re-run", 2, 3))
        for measure in ("train_s", "total_s")
    }
    print("compiled/eager: " + ", ".join(f"{key} {value:.2f}" for key, value in ratios.items()))
    return {"runs": runs, "ratios": ratios}


def main() -> None:
    """Run the workloads, print their tables, write the results JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=("bench", "quickstart", "both"), default="both")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="a built-in alias or model folder")
    parser.add_argument("--results", type=Path, help="JSON to write")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = datetime.datetime.now()
    results: dict[str, Any] = {"date": started.isoformat(timespec="minutes"), "args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="smolora-compile-bench-") as temp:
        work = Path(temp)
        if args.workload in ("bench", "both"):
            data = write_corpus(work / "data", 48, 16)  # bench/run.py's 48 training documents
            recipe = write_recipe(work, model_folder(args.model), data["train"])
            (work / "bench").mkdir()
            results["bench"] = workload("bench", str(recipe), work / "bench")
        if args.workload in ("quickstart", "both"):
            folder = work / "quickstart"
            folder.mkdir()
            results["quickstart"] = workload("quickstart", "builtin:quickstart", folder)
    out = args.results or BENCH / "results" / f"compile-{started:%Y-%m-%d-%H%M}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
