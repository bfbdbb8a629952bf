"""The benchmark on one CUDA GPU: smolora vs the plain-TRL baseline, QLoRA, batched sampling.

On a machine with one CUDA GPU (H100-class), no network needed:

    HF_HUB_OFFLINE=1 .venv/bin/python bench/gpu.py

1. `bench/baseline_trl.py --bf16` and `smolora run` (`model.device=cuda`; its defaults there:
   bfloat16 weights, per-document attention on padding-free batches, fused AdamW, Liger's
   kernels where `liger-kernel` is installed) alternately in A/B pairs
   (3), on the same 256 training documents of `bench/corpus.py`; both merged models are scored
   on the same 32 held-out documents (`bench/eval_loss.py`);
2. one QLoRA `smolora run` (`model.quantization.bits=4`) on the same data, or one line saying
   why it is skipped (no CUDA, or no bitsandbytes);
3. `sft.compile=true` twice, as bench/compile.py does: into an empty inductor cache, then again
   with another learning rate (the graphs loaded from the cache), each against the eager runs'
   median train time (`--no-compile` skips these);
4. `bench/batched_sampling.py` on the same model (one prompt at a time vs batches).

Prints bench/run.py's table (medians, their ratio, the median ratio within pairs), the peak GPU
memory of training per contender and for QLoRA, the sampling tokens/s and the total wall time,
which the defaults keep well under the budget of 8 minutes on an H100. Writes
bench/results/gpu-<date>-<HHMM>.json (`--results PATH` to override). `--device cpu --tiny`
runs the same on CPU with the tiny test model in seconds (the test suite does).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from contenders import (
    BENCH,
    DEFAULT_MODEL,
    child_run,
    model_folder,
    run_baseline,
    run_smolora,
    write_recipe,
)
from corpus import write_corpus
from run import medians, paired_ratios, print_table

BUDGET_MINUTES = 8
CONTENDERS = ("baseline", "smolora")
SAMPLING_TINY = ["--prompts", "4", "--batch-size", "4", "--max-new-tokens", "8", "--repeats", "1"]


def parse_args() -> argparse.Namespace:
    """The command line (row and pair counts default by `--tiny`); exits 2 where CUDA is asked
    for and absent, and hides CUDA from this process and its children with `--device cpu`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--tiny", action="store_true", help="the tiny test model, few rows")
    parser.add_argument("--pairs", type=int, help="baseline/smolora pairs (3; --tiny: 1)")
    parser.add_argument("--train-rows", type=int, help="training documents (256; --tiny: 4)")
    parser.add_argument("--eval-rows", type=int, help="held-out documents (32; --tiny: 2)")
    parser.add_argument("--results", type=Path, help="JSON to write (bench/results/gpu-*.json)")
    parser.add_argument("--no-compile", action="store_true", help="skip the sft.compile runs")
    args = parser.parse_args()
    for name, full, tiny in (("pairs", 3, 1), ("train_rows", 256, 4), ("eval_rows", 32, 2)):
        if getattr(args, name) is None:
            setattr(args, name, tiny if args.tiny else full)
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # this process and every child: CPU only
    else:
        import torch

        if not torch.cuda.is_available():
            parser.exit(2, "gpu.py: --device cuda, but no CUDA GPU is available here\n")
    return args


def run_once(
    name: str,
    model: Path,
    recipe: Path,
    data: dict[str, Path],
    folder: Path,
    device: str,
    extra: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One run of a contender (baseline, smolora or qlora; `extra`: more --set items for
    smolora) in its own folder, removed after it is measured so that each run starts from the
    same machine state (bench/NOTES.md)."""
    folder.mkdir()
    if name == "baseline":
        result = run_baseline(model, data, folder, ("--bf16",) if device == "cuda" else ())
    else:
        sets = [f"model.device={device}", *["model.quantization.bits=4"] * (name == "qlora")]
        result = run_smolora(recipe, data, folder, [*sets, *extra])
    shutil.rmtree(folder)
    peak = result["peak_gpu_mb"]
    print(
        f"{folder.name:<12} total {result['phases']['total']:6.1f} s, "
        f"train {result['tokens_per_second']:8.1f} tokens/s, eval loss {result['eval_loss']:.4f}, "
        f"peak GPU {f'{peak:,.0f} MiB' if peak is not None else '-'}",
        flush=True,
    )
    return result


def qlora_skip_reason(device: str) -> str | None:
    """Why the QLoRA run cannot happen here, or None when it can."""
    if device != "cuda":
        return "needs CUDA (--device cpu)"
    if importlib.util.find_spec("bitsandbytes") is None:
        return "needs bitsandbytes, which is not installed"
    return None


def batched_sampling(model: Path, work: Path, tiny: bool) -> dict[str, float]:
    """bench/batched_sampling.py on `model` (its device: cuda when visible): tokens/s of one
    prompt at a time and of batches, and their ratio."""
    log = work / "batched-sampling.log"
    command = [sys.executable, str(BENCH / "batched_sampling.py"), "--model", str(model)]
    child_run(command + SAMPLING_TINY * tiny, log)
    found: dict[str, float] = {}
    for line in log.read_text().splitlines():
        if line.endswith(" tokens/s"):
            name, value = line.removesuffix(" tokens/s").strip().rsplit(maxsplit=1)
            found[name.strip()] = float(value)
    one, batched = found.values()
    return {**found, "batched / one at a time": batched / one}


def compiled_runs(
    model: Path, recipe: Path, data: dict[str, Path], work: Path, device: str, eager_train_s: float
) -> dict[str, Any]:
    """smolora with `sft.compile=true` into an empty inductor cache, then again with another
    learning rate; each run's train seconds over the eager runs' median."""
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(work / "inductor")  # empty; children inherit
    print("\ncompiled training (sft.compile=true), train time / the eager median")
    found = {}
    for label, sets in (("first", ()), ("re-run", ("sft.learning_rate=1e-4",))):
        folder = work / f"compiled-{label}"
        extra = ("sft.compile=true", *sets)
        result = run_once("smolora", model, recipe, data, folder, device, extra)
        found[label] = {**result, "train_ratio": result["phases"]["train"] / eager_train_s}
        print(f"  {label:<8} {found[label]['train_ratio']:6.2f}")
    return found


def print_peaks(peaks: dict[str, float | None]) -> None:
    """The peak GPU memory of training, one line per contender (and QLoRA when it ran)."""
    print("\npeak GPU memory in training (median of the runs; - where CUDA was not used)")
    for name, peak in peaks.items():
        shown = f"{peak:10,.0f} MiB" if peak is not None else f"{'-':>10}"
        print(f"  {name:<10} {shown}")


def median_peak(runs: list[dict[str, Any]]) -> float | None:
    """Median of the runs' peak GPU memory (None where CUDA was not used)."""
    values = [run["peak_gpu_mb"] for run in runs if run["peak_gpu_mb"] is not None]
    return statistics.median(values) if values else None


def main() -> None:
    """Run the A/B pairs, QLoRA and the sampling bench; print the tables; write the JSON."""
    args = parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    clock, started = time.perf_counter(), datetime.datetime.now()
    results: dict[str, Any] = {"date": started.isoformat(timespec="minutes"), "args": vars(args)}
    if args.device == "cuda":
        import torch

        results["gpu"] = torch.cuda.get_device_name(0)
    with tempfile.TemporaryDirectory(prefix="smolora-gpu-bench-") as temp:
        work = Path(temp)
        if args.tiny:
            from tests.tiny_model import build_tiny_model

            model = build_tiny_model(work / "tiny")
        else:
            model = model_folder(DEFAULT_MODEL)
        data = write_corpus(work / "data", args.train_rows, args.eval_rows)
        recipe = write_recipe(work, model, data["train"])
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CONTENDERS}
        for pair in range(args.pairs):
            for name in CONTENDERS:
                folder = work / f"{name}-{pair + 1}"
                runs[name].append(run_once(name, model, recipe, data, folder, args.device))
        base, ours = medians(runs["baseline"]), medians(runs["smolora"])
        paired = paired_ratios(runs["baseline"], runs["smolora"])
        print_table(base, ours, paired)
        results.update(runs=runs, medians={"baseline": base, "smolora": ours}, paired=paired)
        skipped = qlora_skip_reason(args.device)
        if skipped:
            print(f"\nQLoRA skipped: {skipped}")
            results["qlora"] = {"skipped": skipped}
        else:
            results["qlora"] = run_once("qlora", model, recipe, data, work / "qlora", args.device)
        peaks = {name: median_peak(runs[name]) for name in CONTENDERS}
        if not skipped:
            peaks["qlora"] = results["qlora"]["peak_gpu_mb"]
        print_peaks(peaks)
        results["peak_gpu_mb"] = peaks
        if not args.no_compile:
            eager = ours["train_s"]
            results["compiled"] = compiled_runs(model, recipe, data, work, args.device, eager)
        sampling = batched_sampling(model, work, args.tiny)
        print("\nbatched sampling (bench/batched_sampling.py)")
        for name, value in sampling.items():
            print(f"  {name:<24} {value:8.2f}")
        results["batched_sampling"] = sampling
    results["total_wall_s"] = time.perf_counter() - clock
    out = args.results or BENCH / "results" / f"gpu-{started:%Y-%m-%d-%H%M}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    minutes = results["total_wall_s"] / 60
    print(f"\ntotal wall time {minutes:.1f} min (budget on one H100-class GPU: {BUDGET_MINUTES})")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
