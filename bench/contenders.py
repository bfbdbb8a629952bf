"""The two contenders of the benches, each run in a fresh process: the plain-TRL baseline script
and `smolora run` on the bench recipe; what each reports, and the held-out loss of its merged
model. bench/run.py, bench/gpu.py and bench/compile.py run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from baseline_trl import MAX_NEW_TOKENS, PROMPTS  # noqa: E402

DEFAULT_MODEL = "smollm2-135m-instruct"
PHASES = ("startup", "load", "dataset", "train", "merge", "sample", "total")
RECIPE = """\
name: bench
model: {{base: {model}}}
data:
  sources: [{{type: jsonl, path: {train}}}]
  format: text
  eval_split: 0            # both contenders are scored on the same held-out file afterwards
sft: {{epochs: 1, logging_steps: 1}}
samples:
  max_new_tokens: {max_new_tokens}
  compare_base: false
  prompts: {prompts}
"""


def child_run(command: list[str], log: Path, env: dict[str, str] | None = None) -> dict[str, float]:
    """Run a process to completion; its wall seconds and peak RSS (MiB), or exit with its log."""
    started = time.perf_counter()
    with log.open("w") as sink:
        child = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if child.returncode != 0:  # the work folder is removed on exit: show the log's end now
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        sys.exit(f"{' '.join(command[:4])} ... failed (exit {child.returncode}):\n{tail}")
    return {"wall": wall, "peak_rss_mb": usage.ru_maxrss / 1024}


def score(model_dir: Path, eval_file: Path, log: Path) -> float:
    """Held-out loss of a merged model (bench/eval_loss.py in a child process)."""
    command = [sys.executable, str(BENCH / "eval_loss.py"), str(model_dir), str(eval_file)]
    child_run(command, log)
    return float(json.loads(log.read_text().strip().splitlines()[-1])["eval_loss"])


def run_baseline(
    model: Path, data: dict[str, Path], work: Path, options: tuple[str, ...] = ()
) -> dict[str, Any]:
    """One baseline run (`options`: more baseline_trl.py flags): phases, tokens/s, losses,
    peak RSS and peak GPU memory of training."""
    result_file = work / "baseline.json"
    command = [sys.executable, str(BENCH / "baseline_trl.py"), "--model", str(model)]
    command += ["--train", str(data["train"]), "--out", str(work), "--result", str(result_file)]
    process = child_run([*command, *options], work / "baseline.log")
    result = json.loads(result_file.read_text())
    phases = {name: seconds for name, seconds in result["phases"].items() if name != "imports"}
    phases["total"] = process["wall"]
    phases["startup"] = (
        process["wall"] - sum(result["phases"].values()) + result["phases"]["imports"]
    )
    return {
        "phases": phases,
        "tokens_per_second": result["tokens_per_second"],
        "trained_tokens": result["trained_tokens"],
        "sample_tokens_per_second": result["sample_tokens_per_second"],
        "final_train_loss": result["final_train_loss"],
        "eval_loss": score(Path(result["merged"]), data["eval"], work / "eval.log"),
        "peak_rss_mb": process["peak_rss_mb"],
        "peak_gpu_mb": result.get("peak_gpu_mb"),
    }


def smolora_command(recipe: Path, work: Path, overrides: list[str]) -> list[str]:
    """`smolora run` for the bench recipe, with its own runs folder and step cache."""
    command = [sys.executable, "-m", "smolora_recipes", "run", str(recipe)]
    sets = [f"output.dir={work / 'runs'}", f"output.cache_dir={work / 'cache'}", *overrides]
    for item in sets:
        command += ["--set", item]
    return command


def run_smolora(recipe: Path, data: dict[str, Path], work: Path, overrides: list[str]) -> dict:
    """One `smolora run` with an empty cache: phases, tokens/s, losses, peak RSS."""
    process = child_run(smolora_command(recipe, work, overrides), work / "smolora.log")
    (report_file,) = (work / "runs").glob("*/latest/report.json")
    report = json.loads(report_file.read_text())
    phases = {
        s["name"]: s["duration_s"]
        for s in report["steps"]
        if s["name"] != "report" and s["duration_s"] is not None  # skipped steps have none
    }
    phases["total"] = process["wall"]
    phases["startup"] = process["wall"] - sum(phases[name] for name in PHASES[1:-1])
    train = report["train"]
    return {
        "phases": phases,
        "tokens_per_second": train["tokens_per_second"],
        "trained_tokens": train["trained_tokens"],
        "sample_tokens_per_second": report["samples"]["tokens_per_second"],
        "final_train_loss": train["final_train_loss"],
        "eval_loss": score(report_file.parent / "merged", data["eval"], work / "eval.log"),
        # smolora resets the kernel's peak for each step's own (which resets what wait4
        # reports too); the report keeps the process's peak across those resets
        "peak_rss_mb": max(process["peak_rss_mb"], report["run"]["peak_rss_mb"]),
        "peak_gpu_mb": train["peak_gpu_mb"],
        "step_peak_rss_mb": {s["name"]: s["peak_rss_mb"] for s in report["steps"]},
        "allocator": report["environment"]["allocator"],
        "compiled": train["compiled"],
        "parameters": report["model"]["parameters"] - report["model"]["trainable_parameters"],
    }


def model_folder(base: str) -> Path:
    """The local folder of a model reference (the default model is converted once if needed)."""
    from smolora_recipes.recipe.builtin_models import classify_model
    from smolora_recipes.steps.load import resolve_model_folder

    folder, _ = resolve_model_folder(classify_model(base), None, lambda _: None)
    return folder


def write_recipe(work: Path, model: Path, train: Path) -> Path:
    """The bench recipe for `model` and a training file, written into `work`."""
    recipe = work / "bench.yaml"
    recipe.write_text(
        RECIPE.format(
            model=json.dumps(str(model)),
            train=train,
            max_new_tokens=MAX_NEW_TOKENS,
            prompts=json.dumps(list(PROMPTS)),
        )
    )
    return recipe
