"""Cold latency of the recipe commands that must feel instant (target < 0.5 s wall).

Each command runs in a fresh process, as a user runs it; the baseline is a bare
`python -c pass` measured in the same run, so the ratio shows what smolora adds.

    .venv/bin/python bench/cli_latency.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMOLORA = [sys.executable, "-m", "smolora_recipes"]
TARGET_SECONDS = 0.5


def wall(command: list[str]) -> float:
    """Seconds one run of `command` takes, start to exit."""
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def measure_commands(repeat: int) -> dict[str, float]:
    """Median wall seconds of each command over `repeat` rounds, alternating with the baseline."""
    recipes = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "recipes").glob("*.yaml"))
    commands = {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "smolora --help": [*SMOLORA, "--help"],
        f"smolora validate ({len(recipes)} recipes)": [*SMOLORA, "validate", *recipes],
        "smolora plan recipes/quickstart.yaml": [*SMOLORA, "plan", "recipes/quickstart.yaml"],
        "smolora show recipes/quickstart.yaml": [*SMOLORA, "show", "recipes/quickstart.yaml"],
    }
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for command in commands.values():  # warm the OS file cache once
        wall(command)
    for _ in range(repeat):
        for name, command in commands.items():
            samples[name].append(wall(command))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    """Measure each command `--repeat` times and print the medians against the baseline."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    medians = measure_commands(args.repeat)
    baseline = next(iter(medians.values()))
    print(f"{'command':<44} {'median s':>9} {'x baseline':>10}  target")
    for name, median in medians.items():
        verdict = "" if "baseline" in name else ("ok" if median < TARGET_SECONDS else "SLOW")
        print(f"{name:<44} {median:>9.3f} {median / baseline:>10.1f}  {verdict}")


if __name__ == "__main__":
    main()
