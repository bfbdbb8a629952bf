"""The benchmark suite runs end to end (on the tiny model, so in seconds) and reports both sides."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.tiny_model import build_tiny_model


def test_bench_runs_both_contenders_and_writes_results(tmp_path: Path) -> None:
    model = build_tiny_model(tmp_path / "tiny")
    results = tmp_path / "results.json"
    command = [sys.executable, "bench/run.py", "--model", str(model), "--pairs", "1"]
    command += ["--train-rows", "4", "--eval-rows", "2", "--skip-extras", "--results", str(results)]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tokens_per_second" in done.stdout and "ratio" in done.stdout
    found = json.loads(results.read_text())
    assert set(found["corpora"]) == {"varied", "long"}
    for corpus in found["corpora"].values():
        for side in ("baseline", "smolora"):
            medians = corpus["medians"][side]
            assert medians["tokens_per_second"] > 0
            assert math.isfinite(medians["eval_loss"])
            assert medians["train_s"] > 0 and medians["total_s"] >= medians["train_s"]
            assert medians["peak_rss_mb"] > 100  # the whole process, libraries included
        runs = corpus["runs"]
        assert runs["smolora"][0]["trained_tokens"] > 0
        assert runs["smolora"][0]["step_peak_rss_mb"]["train"] > 100
        assert corpus["paired"]["train_s"] == [
            round(runs["smolora"][0]["phases"]["train"] / runs["baseline"][0]["phases"]["train"], 3)
        ]
    assert found["efficiency"], "FLOP/s against the measured matmul peak is reported"
