"""smolora vs the plain-TRL baseline, on the same model, data and training sequences.

Runs `bench/baseline_trl.py` and `smolora run` alternately (A/B/A/B ...), each in a fresh
process with an empty step cache, scores both merged models on the same held-out texts,
and prints per-phase medians with the ratio smolora/baseline, on each corpus of
`bench/corpus.py` (`varied`: 14-860 tokens per document; `long`: 600-1,000). Peak RSS is the
whole process's. Then the other numbers the
product promises: CLI latency, default-model load cold and cached, an unchanged re-run,
dataset rows/s on a large corpus, and training FLOP/s against this machine's matmul peak.
Writes bench/results/<date>-<HHMM>.json.

    python bench/run.py [--pairs 2] [--corpus both|varied|long] [--set sft.packing=true ...]
"""

from __future__ import annotations

import argparse
import datetime
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
    PHASES,
    child_run,
    model_folder,
    run_baseline,
    run_smolora,
    smolora_command,
    write_recipe,
)
from corpus import write_corpus


def matmul_peak(dtype_name: str, size: int = 2048, seconds: float = 3.0) -> float:
    """Measured dense matmul FLOP/s of this machine for a dtype (best of repeated runs)."""
    import torch

    dtype = getattr(torch, dtype_name)
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    torch.mm(a, b)  # warm up
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * size**3 / (time.perf_counter() - started))
    return best


def model_load_seconds(home: Path, log: Path) -> float:
    """Seconds to resolve and load the default model and tokenizer in a fresh process under
    `home` (library imports excluded: they are start-up, the same for any model)."""
    code = (
        "import time\n"
        "from smolora_recipes.recipe.builtin_models import classify_model\n"
        "from smolora_recipes.recipe.model_section import ModelSection\n"
        "from smolora_recipes.models.runtime import choose_runtime, load_model, load_tokenizer\n"
        "from smolora_recipes.steps.load import resolve_model_folder\n"
        "import torch, transformers.modeling_utils  # imports are start-up, timed apart\n"
        "started = time.perf_counter()\n"
        f"folder, _ = resolve_model_folder(classify_model({DEFAULT_MODEL!r}), None, print)\n"
        "load_tokenizer(folder, False)\n"
        "load_model(folder, choose_runtime(ModelSection()), False)\n"
        "print(time.perf_counter() - started)\n"
    )
    env = {**os.environ, "SMOLORA_HOME": str(home)}
    child_run([sys.executable, "-c", code], log, env)
    return float(log.read_text().strip().splitlines()[-1])


MEASURES = (
    "tokens_per_second",
    "sample_tokens_per_second",
    "final_train_loss",
    "eval_loss",
    "peak_rss_mb",
)


def measures(run: dict[str, Any]) -> dict[str, float | None]:
    """The quantities the table compares, for one run: seconds per phase, then MEASURES."""
    values: dict[str, float | None] = {f"{phase}_s": run["phases"][phase] for phase in PHASES}
    values.update({key: run[key] for key in MEASURES})
    return values


def medians(runs: list[dict[str, Any]]) -> dict[str, float | None]:
    """Median of each measured quantity over repeated runs of one contender."""
    measured = [measures(run) for run in runs]
    result: dict[str, float | None] = {}
    for key in measured[0]:
        values = [v for v in (m[key] for m in measured) if v is not None]
        result[key] = statistics.median(values) if values else None
    return result


def paired_ratios(baseline: list[dict], ours: list[dict]) -> dict[str, list[float]]:
    """smolora/baseline for each quantity within each A/B pair (slow drift of the machine
    cancels within a pair, not between medians)."""
    ratios: dict[str, list[float]] = {}
    for a, b in zip(baseline, ours, strict=True):
        theirs, mine = measures(a), measures(b)
        for key, value in theirs.items():
            other = mine[key]
            if value and other is not None:
                ratios.setdefault(key, []).append(round(other / value, 3))
    return ratios


def print_table(base: dict[str, Any], ours: dict[str, Any], paired: dict[str, list]) -> None:
    """Medians of both contenders, the ratio of the medians, and the median ratio within pairs."""
    print(
        f"\n{'median of the runs':<26} {'baseline':>10} {'smolora':>10} {'ratio':>7} {'paired':>7}"
    )
    for key in base:
        a, b = base[key], ours[key]
        ratio = f"{b / a:7.2f}" if a and b is not None else f"{'-':>7}"
        within = f"{statistics.median(paired[key]):7.2f}" if paired.get(key) else f"{'-':>7}"
        shown = [f"{v:10.3f}" if v is not None else f"{'-':>10}" for v in (a, b)]
        print(f"{key:<26} {shown[0]} {shown[1]} {ratio} {within}")
    print("(paired: the median over A/B pairs of smolora/baseline within the pair)")


def efficiency(ours: dict, base: dict, parameters: int, peaks: dict[str, float]) -> dict:
    """Achieved training FLOP/s as a share of the measured matmul peaks.

    Full fine-tuning costs ~6N FLOPs per token (forward 2N, backward 4N). LoRA with frozen
    base weights skips the weight-gradient matmuls: ~4N (forward 2N, input gradients 2N);
    activation checkpointing (trl's default, kept by the baseline) recomputes the forward:
    ~6N. The adapters' own FLOPs (<4% of N here) are ignored.
    """
    rows = {}
    for name, result, flops_per_token, peak in (
        ("baseline (fp32, checkpointing: 6N)", base, 6, peaks["float32"]),
        ("smolora (bf16 autocast: 4N)", ours, 4, peaks["bfloat16"]),
    ):
        achieved = result["tokens_per_second"] * flops_per_token * parameters
        rows[name] = {"gflops": achieved / 1e9, "share_of_peak": achieved / peak}
    return rows


CORPUS_ROWS = {"varied": 48, "long": 32}  # training documents of each corpus by default
LONG_TOKENS = (600, 1000)  # the long corpus's documents, in the default model's tokens


def corpus_data(work: Path, corpus: str, model: Path, args: argparse.Namespace) -> dict[str, Path]:
    """The training and held-out files of a corpus; the long corpus keeps documents of
    LONG_TOKENS tokens when the model is the default one (whose tokenizer the range counts)."""
    keep = None
    if corpus == "long" and args.model == DEFAULT_MODEL:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model)
        low, high = LONG_TOKENS

        def keep(text: str) -> bool:
            return low <= len(tokenizer(text)["input_ids"]) <= high

    rows = args.train_rows or CORPUS_ROWS[corpus]
    return write_corpus(work / corpus, rows, args.eval_rows, corpus=corpus, keep=keep)


def pairs(
    model: Path, recipe: Path, data: dict[str, Path], work: Path, args: argparse.Namespace
) -> dict[str, list[dict[str, Any]]]:
    """The alternated baseline/smolora runs on one corpus (smolora only with --lever)."""
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "smolora": []}
    for pair in range(args.pairs):
        for name in runs:
            if args.lever and name == "baseline":
                continue
            folder = work / f"{name}-{pair}"
            folder.mkdir()
            result = (
                run_baseline(model, data, folder)
                if name == "baseline"
                else run_smolora(recipe, data, folder, args.overrides)
            )
            runs[name].append(result)
            # the next run starts from the same machine state: on this VM, the page cache of
            # earlier runs' files slowed training by 20% (bench/NOTES.md)
            shutil.rmtree(folder)
            print(
                f"pair {pair + 1} {name:<8} total {result['phases']['total']:6.1f} s, "
                f"train {result['tokens_per_second']:6.1f} tokens/s, "
                f"eval loss {result['eval_loss']:.4f}, peak {result['peak_rss_mb']:,.0f} MiB; "
                + " ".join(f"{k} {v:.1f}" for k, v in result["phases"].items()),
                flush=True,
            )
    return runs


def main() -> None:
    """Run the A/B pairs on each corpus and the extra measurements; print tables; write the
    results JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="a built-in alias or model folder")
    parser.add_argument("--pairs", type=int, default=2, help="baseline/smolora pairs (>= 2)")
    parser.add_argument("--corpus", choices=(*CORPUS_ROWS, "both"), default="both")
    parser.add_argument("--train-rows", type=int, help="training sequences (varied 48, long 32)")
    parser.add_argument("--eval-rows", type=int, default=16, help="held-out sequences")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V")
    parser.add_argument("--data-gb", type=float, default=0.22, help="large-corpus size; 0 skips")
    parser.add_argument("--results", type=Path, help="JSON to write (bench/results/DATE-HHMM.json)")
    parser.add_argument("--skip-extras", action="store_true", help="only the A/B pairs")
    parser.add_argument(
        "--lever", action="store_true", help="smolora only, one run, no extras: to try a --set"
    )
    args = parser.parse_args()
    if args.lever:
        args.pairs, args.skip_extras = 1, True
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = datetime.datetime.now()
    results: dict[str, Any] = {"date": started.isoformat(timespec="minutes"), "args": vars(args)}
    corpora = list(CORPUS_ROWS) if args.corpus == "both" else [args.corpus]
    with tempfile.TemporaryDirectory(prefix="smolora-bench-") as temp:
        work = Path(temp)
        model = model_folder(args.model)
        results["corpora"] = {}
        for corpus in corpora:
            print(f"\n== corpus: {corpus}", flush=True)
            folder = work / corpus
            folder.mkdir()
            data = corpus_data(work / "data", corpus, model, args)
            recipe = write_recipe(folder, model, data["train"])
            runs = pairs(model, recipe, data, folder, args)
            if args.lever:
                continue
            base, ours = medians(runs["baseline"]), medians(runs["smolora"])
            paired = paired_ratios(runs["baseline"], runs["smolora"])
            print_table(base, ours, paired)
            for key in ("tokens_per_second", "peak_rss_mb", "eval_loss"):
                print(f"{key} ratio within each pair: {paired[key]}")
            results["corpora"][corpus] = {
                "runs": runs,
                "medians": {"baseline": base, "smolora": ours},
                "paired": paired,
            }
        if args.lever:
            return
        first = results["corpora"][corpora[0]]
        peaks = {dtype: matmul_peak(dtype) for dtype in ("float32", "bfloat16")}
        parameters = first["runs"]["smolora"][0]["parameters"]
        rows = efficiency(
            first["medians"]["smolora"], first["medians"]["baseline"], parameters, peaks
        )
        print(
            f"\nmatmul peak: fp32 {peaks['float32'] / 1e9:.0f}, bf16 {peaks['bfloat16'] / 1e9:.0f}"
        )
        print(f"GFLOP/s; model {parameters / 1e6:.1f} M parameters ({corpora[0]} corpus)")
        for name, row in rows.items():
            print(f"  {name:<36} {row['gflops']:7.1f} GFLOP/s  {row['share_of_peak']:6.1%} of peak")
        results.update(matmul_peak_flops=peaks, efficiency=rows)
        if not args.skip_extras:
            recipe = write_recipe(work, model, work / "data" / corpora[0] / "train.jsonl")
            results["extras"] = extras(recipe, work, args)
    out = args.results or BENCH / "results" / f"{started:%Y-%m-%d-%H%M}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwritten: {out}")


def extras(recipe: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """CLI latency, model load cold/cached, an unchanged re-run, large-corpus rows/s."""
    from cli_latency import measure_commands
    from large_data import measure

    found: dict[str, Any] = {}
    print("\ncold CLI latency (median of 5, target < 0.5 s)")
    found["cli_latency_s"] = measure_commands(repeat=5)
    for name, seconds in found["cli_latency_s"].items():
        print(f"  {name:<44} {seconds:6.3f} s")
    home = work / "fresh-home"
    found["model_load_cold_s"] = model_load_seconds(home, work / "load-cold.log")
    found["model_load_cached_s"] = model_load_seconds(home, work / "load-cached.log")
    print(
        f"default model load: cold {found['model_load_cold_s']:.1f} s (GGUF conversion), "
        f"cached {found['model_load_cached_s']:.2f} s (target < 3 s)"
    )
    cached = work / "rerun"
    child_run(smolora_command(recipe, cached, args.overrides), work / "first-run.log")
    rerun = child_run(smolora_command(recipe, cached, args.overrides), work / "rerun.log")
    found["unchanged_rerun_s"] = rerun["wall"]
    print(f"unchanged re-run of the bench recipe: {rerun['wall']:.2f} s")
    if args.data_gb > 0:
        large = measure(args.data_gb, work)
        found["large_corpus"] = large
        print(
            f"dataset step on {large['gb']:.2f} GB ({large['rows']:,} rows): "
            f"{large['rows'] / large['wall']:,.0f} rows/s, peak {large['peak_mb']:,.0f} MiB"
        )
    return found


if __name__ == "__main__":
    main()
