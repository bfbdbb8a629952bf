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


def main() -> None:
    """Measure each command `--repeat` times, alternating with the baseline; print medians."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
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
    for _ in range(args.repeat):
        for name, command in commands.items():
            samples[name].append(wall(command))
    baseline = statistics.median(next(iter(samples.values())))
    print(f"{'command':<44} {'median s':>9} {'max s':>7} {'x baseline':>10}  target")
    for name, values in samples.items():
        median = statistics.median(values)
        verdict = "" if "baseline" in name else ("ok" if median < TARGET_SECONDS else "SLOW")
        print(
            f"{name:<44} {median:>9.3f} {max(values):>7.3f} {median / baseline:>10.1f}  {verdict}"
        )


if __name__ == "__main__":
    main()
