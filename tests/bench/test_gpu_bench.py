"""The GPU benchmark script runs end to end on CPU (tiny model, in seconds), so it works the day a
GPU machine is at hand."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def test_gpu_bench_runs_on_cpu_with_the_tiny_model(tmp_path: Path) -> None:
    results = tmp_path / "r.json"
    command = [sys.executable, "bench/gpu.py", "--device", "cpu", "--tiny"]
    command += ["--results", str(results)]
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=ENV, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "median of the runs" in done.stdout and "tokens_per_second" in done.stdout
    assert "QLoRA skipped: needs CUDA" in done.stdout
    assert "total wall time" in done.stdout
    found = json.loads(results.read_text())
    for side in ("baseline", "smolora"):
        medians = found["medians"][side]
        assert medians["tokens_per_second"] > 0
        assert math.isfinite(medians["eval_loss"])
        assert found["runs"][side][0]["peak_gpu_mb"] is None  # no CUDA was used
    assert found["runs"]["smolora"][0]["parameters"] > 0  # from smolora's own report.json
    assert found["paired"]["tokens_per_second"]
    assert "CUDA" in found["qlora"]["skipped"]
    compiled = found["compiled"]  # sft.compile=true, then re-run on the inductor cache
    assert compiled["first"]["compiled"] and compiled["re-run"]["compiled"]
    assert compiled["re-run"]["train_ratio"] > 0
    assert "compiled training" in done.stdout
    sampling = found["batched_sampling"]
    assert sampling["one at a time"] > 0 and sampling["batches of 4"] > 0
    assert sampling["batched / one at a time"] > 0


def test_gpu_bench_without_a_gpu_exits_2() -> None:
    command = [sys.executable, "bench/gpu.py", "--tiny"]
    env = {**ENV, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no CUDA GPU" in done.stderr
