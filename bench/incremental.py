"""Incremental re-runs: wall time of edited and unchanged re-runs as a fraction of the first run.

Each run is a fresh `smolora run` process against an empty step cache (the converted base
model stays cached, as it does for a user). Usage:

    python bench/incremental.py            # the tiny test model (seconds)
    python bench/incremental.py --quickstart   # recipes/quickstart.yaml (minutes)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (label, extra --set overrides, steps expected to run)
SCENARIOS = [
    ("first run (empty cache)", [], "all"),
    ("unchanged re-run", [], "none"),
    ("samples.max_new_tokens edited", ["samples.max_new_tokens=6"], "sample"),
    ("lora.r edited", ["lora.r=2"], "train, merge, sample"),
]


def tiny_recipe_file(folder: Path) -> Path:
    """The tiny chat recipe of the test suite, with its model and data, under `folder`."""
    from tests.tiny_model import build_tiny_model
    from tests.tiny_runs import chat_jsonl, tiny_recipe

    model = build_tiny_model(folder / "tiny-model")
    (folder / "data").mkdir()
    (folder / "data/train.jsonl").write_text(chat_jsonl())
    recipe = folder / "tiny.yaml"
    recipe.write_text(tiny_recipe(model))
    return recipe


def timed_run(recipe: Path, overrides: list[str], work: Path) -> tuple[float, str]:
    """Wall seconds of one `smolora run` process, and the steps it executed (from its report)."""
    sets = [f"output.cache_dir={work / 'cache'}", f"output.dir={work / 'runs'}", *overrides]
    command = [sys.executable, "-m", "smolora_recipes", "run", str(recipe)]
    for item in sets:
        command += ["--set", item]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    (report,) = (work / "runs").glob("*/latest/report.json")
    steps = json.loads(report.read_text())["steps"]
    steps = [step for step in steps if step["name"] != "report"]  # written by every run
    ran = [step["name"] for step in steps if step["outcome"].startswith("ran")]
    return seconds, ", ".join(ran) if len(ran) < len(steps) else "all"


def main() -> None:
    """Print the table of scenarios with their wall times and ratios to the first run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quickstart", action="store_true", help="bench the quickstart recipe")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        recipe = ROOT / "recipes/quickstart.yaml" if args.quickstart else tiny_recipe_file(work)
        print(f"recipe: {recipe.relative_to(ROOT) if args.quickstart else 'tiny test model'}")
        print(f"{'scenario':<32} {'steps that ran':<24} {'wall s':>8} {'vs first':>9}")
        first = None
        for label, overrides, expected in SCENARIOS:
            seconds, ran = timed_run(recipe, overrides, work)
            first = first or seconds
            flag = "" if (ran or "none") == expected else f"  UNEXPECTED (expected {expected})"
            print(f"{label:<32} {ran or 'none':<24} {seconds:8.2f} {seconds / first:9.1%}{flag}")


if __name__ == "__main__":
    main()
