"""The `smolora` command: a thin click layer over the Python API.

Heavy libraries (torch, transformers, datasets, peft, trl) are imported only inside the
commands that train or generate, so `--help`, `validate`, `plan`, `show` and `diff` stay fast.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from smolora_recipes import __version__, cli_recipes
from smolora_recipes.cli_options import (
    RECIPE_HELP,
    reports_errors,
    set_option,
    trust_option,
    update_lock_option,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smolora")
def main() -> None:
    """smolora: declarative, reproducible LoRA fine-tuning recipes."""


main.add_command(cli_recipes.lock)
main.add_command(cli_recipes.recipes)


@main.command(epilog=RECIPE_HELP)
@click.argument("recipes", nargs=-1, required=True)
@set_option
@trust_option
@reports_errors
def validate(recipes: tuple[str, ...], overrides: tuple[str, ...], trust_remote_code: bool) -> None:
    """Check recipes without running anything; exit 2 if any has a problem.

    A recipe that drifted from its lock file gets a warning (`run` and `plan` would refuse it).
    """
    from smolora_recipes.errors import RecipeError
    from smolora_recipes.lockfile import lock_drift, lock_file
    from smolora_recipes.plan import build_plan
    from smolora_recipes.recipe.loader import load_recipe

    failed = 0
    for recipe in recipes:
        try:
            loaded = load_recipe(recipe, overrides, allow_remote_code=trust_remote_code)
            lock = lock_file(loaded)
            drift = lock_drift(loaded, build_plan(loaded)) if lock and lock.is_file() else []
        except RecipeError as error:
            failed += 1
            click.echo(f"FAIL {recipe}", err=True)
            click.echo(error.render(), err=True)
            continue
        click.echo(f"ok   {recipe} (recipe {loaded.recipe.name!r})")
        for problem in drift:
            click.echo(f"warning: {problem.render()}", err=True)
    if failed:
        sys.exit(2)


def batch_size_option(help_text: str) -> Any:
    """`--batch-size N` (default 8) with the command's own help."""
    return click.option(
        "--batch-size", default=8, show_default=True, type=click.IntRange(1), help=help_text
    )


def _nproc_override(nproc: int | None) -> tuple[str, ...]:
    """`--nproc N` as the `--set` it stands for."""
    return () if nproc is None else (f"distributed.num_processes={nproc}",)


STEP_NAMES = ["load", "dataset", "train", "merge", "sample"]
force_option = click.option(
    "--force",
    type=click.Choice(STEP_NAMES),
    help="Recompute this step and every step after it, even when cached.",
)
no_cache_option = click.option(
    "--no-cache", is_flag=True, help="Neither read nor write the step cache."
)


nproc_option = click.option(
    "--nproc",
    type=click.IntRange(1),
    help="Train on this many processes (sets distributed.num_processes).",
)


@main.command(epilog=RECIPE_HELP)
@click.argument("recipe")
@set_option
@force_option
@no_cache_option
@update_lock_option
@trust_option
@nproc_option
@reports_errors
def run(
    recipe: str,
    overrides: tuple[str, ...],
    force: str | None,
    no_cache: bool,
    update_lock: bool,
    trust_remote_code: bool,
    nproc: int | None,
) -> None:
    """Run the recipe: load, dataset, train, merge, sample, report (reusing cached steps)."""
    from smolora_recipes.cache import StepCache
    from smolora_recipes.executor import RunOptions, execute, stderr_echo

    overrides = (*overrides, *_nproc_override(nproc))
    loaded, compiled = _locked_plan(recipe, overrides, update_lock, trust_remote_code)
    output = loaded.recipe.output
    helper = loaded.recipe.distributed.machine_rank > 0  # trains only: machine 0 does the rest
    options = RunOptions(
        cache=None if no_cache or helper else StepCache.at(output.cache_dir),
        force=force,
        link=output.link,
        until="train" if helper else None,
    )
    flags = [
        *(f"--set {o}" for o in overrides),
        *([f"--force {force}"] if force else []),
        *(["--no-cache"] if no_cache else []),
        *(["--update-lock"] if update_lock else []),
        *(["--trust-remote-code"] if trust_remote_code else []),
    ]
    command = " ".join(["smolora", "run", recipe, *flags])
    state = execute(loaded, compiled, command, stderr_echo, options)
    click.echo(_run_summary(state))
    sys.exit(state.exit_code)


@main.command(epilog=RECIPE_HELP)
@click.argument("recipe")
@set_option
@click.option("-n", "count", default=5, show_default=True, help="Examples to show.")
@click.option("--source", help="Only this source: its path as in the recipe, or its position.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@trust_option
@reports_errors
def preview(
    recipe: str,
    overrides: tuple[str, ...],
    count: int,
    source: str | None,
    as_json: bool,
    trust_remote_code: bool,
) -> None:
    """Show training examples exactly as the model will see them, with the data statistics.

    Builds (or reuses from the step cache) only the load and dataset steps.
    """
    from smolora_recipes.cache import StepCache
    from smolora_recipes.data.preview import LEGEND, bracketed, dimmed, heading
    from smolora_recipes.preview_run import build_preview
    from smolora_recipes.recipe.loader import load_recipe
    from smolora_recipes.report import data_rows, skipped_lines

    loaded = load_recipe(recipe, overrides, allow_remote_code=trust_remote_code)
    shown = build_preview(loaded, StepCache.at(loaded.recipe.output.cache_dir), count, source)
    if as_json:
        click.echo(json.dumps(shown.to_json(), indent=2, ensure_ascii=False))
        return
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    click.echo(f"dataset {shown.fingerprint[:12]} ({shown.outcome}) of {recipe}")
    click.echo("bold: tokens that carry the loss; dim: context only" if colour else LEGEND)
    for example in shown.examples:
        click.echo(f"\n── {heading(example)}")
        click.echo(dimmed(example) if colour else bracketed(example))
    click.echo("")
    for label, value in data_rows(shown.stats):
        click.echo(f"{label:<48} {value}")
    for line in skipped_lines(shown.stats):
        click.echo(f"skipped: {line}")


def _locked_plan(
    recipe: str, overrides: tuple[str, ...], update_lock: bool, trust_remote_code: bool
) -> tuple[Any, Any]:
    """Load and plan a recipe, checked against this machine and its lock file (or the lock
    rewritten)."""
    from smolora_recipes.environment_check import check_environment
    from smolora_recipes.lockfile import check_lock
    from smolora_recipes.plan import build_plan
    from smolora_recipes.recipe.loader import load_recipe

    loaded = load_recipe(recipe, overrides, allow_remote_code=trust_remote_code)
    check_environment(loaded)
    compiled = build_plan(loaded)
    note = check_lock(loaded, compiled, update_lock)
    if note:
        click.echo(note, err=True)
    return loaded, compiled


def _run_summary(state: Any) -> str:
    lines = [f"status: {state.status}", f"run: {state.run_dir}"]
    if state.error:
        lines.append(f"failed step: {state.error['step']}: {state.error['message']}")
    train = state.metrics.get("train", {})
    if train.get("eval_loss_before") is not None:
        lines.append(
            f"eval loss: {train['eval_loss_before']:.4f} -> {train['eval_loss_after']:.4f}"
        )
    samples = state.metrics.get("sample", {})
    if samples.get("tuned_accuracy") is not None:
        base = samples.get("base_accuracy")
        shown = "n/a" if base is None else f"{base:.0%}"
        lines.append(f"accuracy: base {shown} -> tuned {samples['tuned_accuracy']:.0%}")
    lines.append(f"report: {state.run_dir / 'report.md'}")
    return "\n".join(lines)


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
@reports_errors
def report(run_dir: str) -> None:
    """Re-render report.md and report.html of a run from its report.json."""
    from smolora_recipes.report import load_report, write_report_files

    for path in write_report_files(Path(run_dir), load_report(Path(run_dir))):
        click.echo(f"wrote {path}")


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
@click.option(
    "--prompt",
    "-p",
    "prompts",
    multiple=True,
    help="A prompt; repeatable. Without it, prompts are read from standard input, one per line.",
)
@click.option("--max-new-tokens", default=128, show_default=True, type=click.IntRange(1))
@click.option(
    "--temperature",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 5),
    help="0 is greedy decoding.",
)
@click.option("--seed", default=0, show_default=True, type=int)
@batch_size_option("Prompts generated together (length-sorted, left-padded); 1 streams each.")
@reports_errors
def generate(
    run_dir: str,
    prompts: tuple[str, ...],
    max_new_tokens: int,
    temperature: float,
    seed: int,
    batch_size: int,
) -> None:
    """Generate with the tuned model of a finished run: one prompt streams its tokens as they
    come; several are generated in batches and printed in order."""
    from smolora_recipes.finished_run import open_finished_run
    from smolora_recipes.generation import (
        GenerationSettings,
        format_prompt,
        generate_batch,
        stream,
    )

    texts = list(prompts) or [line.strip() for line in sys.stdin if line.strip()]
    if not texts:
        raise click.UsageError("give --prompt TEXT or prompts on standard input")
    finished = open_finished_run(Path(run_dir))
    settings = GenerationSettings(
        max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, batch_size=batch_size
    )
    if len(texts) > 1 and batch_size > 1:
        formatted = [format_prompt(finished.tokenizer, text, finished.chat) for text in texts]
        answers, _ = generate_batch(finished.model, finished.tokenizer, formatted, settings)
        for text, answer in zip(texts, answers, strict=True):
            click.echo(f">>> {text}\n{answer}")
        return
    for text in texts:
        if len(texts) > 1:
            click.echo(f">>> {text}")
        prompt = format_prompt(finished.tokenizer, text, finished.chat)
        stream(
            finished.model,
            finished.tokenizer,
            prompt,
            settings,
            lambda piece: click.echo(piece, nl=False),
        )
        click.echo()


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@batch_size_option("Queued requests generated together, in prompts.")
@reports_errors
def serve(run_dir: str, host: str, port: int, batch_size: int) -> None:
    """Serve a finished run's tuned model with an OpenAI-compatible API (Ctrl-C stops).

    /v1/models, /v1/completions and /v1/chat/completions (also streamed); point any OpenAI
    client at http://HOST:PORT/v1."""
    from smolora_recipes.errors import Location, Problem, UserInputError
    from smolora_recipes.finished_run import open_finished_run
    from smolora_recipes.serve import make_server

    folder = Path(run_dir).resolve()
    finished = open_finished_run(folder)
    name = folder.parent.name  # runs/<recipe name>/<run id>
    try:
        server = make_server(finished, name, host, port, batch_size)
    except OSError as error:
        raise UserInputError(
            Problem(
                f"cannot listen on {host}:{port}: {error.strerror or error}",
                Location("--port", literal=True),
                hint="pick a free port with --port (0 lets the system choose)",
            )
        ) from None
    address = f"http://{host}:{server.server_port}/v1"
    click.echo(f"serving {name} ({finished.source} model) at {address}; Ctrl-C stops", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@main.command(epilog=RECIPE_HELP)
@click.argument("recipe")
@set_option
@force_option
@no_cache_option
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@update_lock_option
@trust_option
@nproc_option
@reports_errors
def plan(
    recipe: str,
    overrides: tuple[str, ...],
    force: str | None,
    no_cache: bool,
    as_json: bool,
    update_lock: bool,
    trust_remote_code: bool,
    nproc: int | None,
) -> None:
    """Show the steps a recipe compiles to: fingerprints, and cached or will run (and why).

    Also checks the recipe against this machine (CUDA for QLoRA, FSDP, DeepSpeed, 8-bit
    optimizers) and exits 2 naming what is missing."""
    from smolora_recipes.cache import StepCache
    from smolora_recipes.plan_status import plan_status

    overrides = (*overrides, *_nproc_override(nproc))
    loaded, compiled = _locked_plan(recipe, overrides, update_lock, trust_remote_code)
    cache = None if no_cache else StepCache.at(loaded.recipe.output.cache_dir)
    statuses = {s.step: s for s in plan_status(compiled, cache, force)}
    if as_json:
        data = compiled.to_json()
        for step in data["steps"]:
            step["status"] = statuses[step["name"]].state
            step["reasons"] = statuses[step["name"]].reasons
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(compiled.to_text({name: s.describe() for name, s in statuses.items()}))


@main.command(epilog=RECIPE_HELP)
@click.argument("recipe")
@set_option
@click.option("--origin", is_flag=True, help="Annotate every value with where it came from.")
@trust_option
@reports_errors
def show(recipe: str, overrides: tuple[str, ...], origin: bool, trust_remote_code: bool) -> None:
    """Print the fully resolved recipe (extends, overrides and defaults applied), headed by the
    commit each git reference resolved to."""
    from smolora_recipes.recipe.canonical import canonical_yaml
    from smolora_recipes.recipe.loader import load_recipe

    loaded = load_recipe(recipe, overrides, allow_remote_code=trust_remote_code)
    annotate = (lambda path: loaded.origin_of(path).describe()) if origin else None
    click.echo(canonical_yaml(loaded, annotate), nl=False)


@main.command(epilog=RECIPE_HELP)
@click.argument("old")
@click.argument("new", required=False)
@click.option(
    "--rev",
    help="Compare OLD as committed at this git revision with OLD now (then give no NEW).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="Output format; markdown is ready to paste into a pull request.",
)
@trust_option
@reports_errors
def diff(
    old: str, new: str | None, rev: str | None, output_format: str, trust_remote_code: bool
) -> None:
    """Compare two recipes field by field and say which steps the differences invalidate.

    Either recipe may be a git revision of a file: `smolora diff recipe.yaml@HEAD~1
    recipe.yaml`, or `smolora diff --rev main recipe.yaml`.
    """
    from smolora_recipes.cache import StepCache
    from smolora_recipes.diff import diff_recipes
    from smolora_recipes.recipe.loader import load_recipe

    if (rev is None) == (new is None):
        raise click.UsageError("give OLD and NEW, or --rev REV and one recipe")
    old, new = (f"{old}@{rev}", old) if rev else (old, new)
    assert new is not None
    before = load_recipe(old, allow_remote_code=trust_remote_code)
    after = load_recipe(new, allow_remote_code=trust_remote_code)
    result = diff_recipes(before, after, StepCache.at(after.recipe.output.cache_dir))
    if output_format == "json":
        click.echo(json.dumps(result.to_json(), indent=2, default=str))
    elif output_format == "markdown":
        click.echo(result.to_markdown(), nl=False)
    else:
        click.echo(result.to_text())


@main.command()
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["json", "markdown"]),
    default="json",
    show_default=True,
    help="JSON Schema, or the Markdown field reference.",
)
@reports_errors
def schema(output_format: str) -> None:
    """Print the recipe JSON Schema (or the Markdown field reference)."""
    from smolora_recipes.recipe.reference import json_schema_text, markdown_reference

    click.echo(json_schema_text() if output_format == "json" else markdown_reference(), nl=False)


@main.command()
@click.argument("path", default="recipe.yaml", type=click.Path(dir_okay=False))
@reports_errors
def init(path: str) -> None:
    """Write a commented starter recipe (and a small data file) that validates."""
    from smolora_recipes.starter import write_starter

    for written in write_starter(Path(path)):
        click.echo(f"wrote {written}")
    click.echo(f"next: smolora validate {path}")


@main.group()
def cache() -> None:
    """Inspect and prune the step cache ($SMOLORA_HOME/cache, or --dir)."""


cache_dir_option = click.option(
    "--dir",
    "cache_dir",
    type=click.Path(file_okay=False),
    help="A cache folder other than the default (a recipe's output.cache_dir).",
)


@cache.command("ls")
@cache_dir_option
@reports_errors
def cache_ls(cache_dir: str | None) -> None:
    """List cache entries: step, fingerprint, size, created, last use, runs that used it."""
    from smolora_recipes.cache import StepCache
    from smolora_recipes.report import human_bytes

    store = StepCache.at(Path(cache_dir) if cache_dir else None)
    entries = store.entries()
    in_use = store.in_use()
    click.echo(
        f"{'step':<8} {'fingerprint':<12} {'size':>10}  {'created':<16}  {'last used':<16}  "
        "runs (last)"
    )
    for entry in entries:
        uses = entry.uses()
        last_run = uses[-1]["run"] if uses else entry.manifest["run"]
        held = "  in use" if entry.path in in_use else ""
        click.echo(
            f"{entry.step:<8} {entry.fingerprint[:12]:<12} {human_bytes(entry.size()):>10}  "
            f"{_minute(entry.manifest['created'])}  {_minute(entry.last_used())}  "
            f"{len(uses)} ({last_run}){held}"
        )
    total = sum(entry.size() for entry in entries)
    click.echo(f"{len(entries)} entries, {human_bytes(total)} in {store.root}")
    for work in store.unfinished():
        click.echo(
            f"unfinished {work.step} {work.fingerprint[:12]} ({human_bytes(work.size)}): "
            "a re-run of its recipe resumes from it; `cache gc --unfinished` removes it"
        )


def _minute(iso_time: str) -> str:
    """'2026-11-25T05:00:00.773757+00:00' -> '2026-11-25 05:00' (UTC)."""
    return iso_time[:16].replace("T", " ")


@cache.command("gc")
@cache_dir_option
@click.option(
    "--keep-last",
    type=click.IntRange(0),
    help="Keep the N most recently used entries of each step.",
)
@click.option(
    "--max-size",
    help="Then remove least recently used entries until the cache is at most this size, e.g. 20GB.",
)
@click.option(
    "--unfinished",
    is_flag=True,
    help="Also remove work folders of killed or interrupted steps (their checkpoints).",
)
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@reports_errors
def cache_gc(
    cache_dir: str | None,
    keep_last: int | None,
    max_size: str | None,
    unfinished: bool,
    dry_run: bool,
) -> None:
    """Remove cache entries, never one that a running run is writing or using."""
    from smolora_recipes.cache import StepCache, choose_garbage, parse_size
    from smolora_recipes.errors import Problem, UserInputError
    from smolora_recipes.report import human_bytes

    if keep_last is None and max_size is None and not unfinished:
        raise click.UsageError("give --keep-last N, --max-size SIZE or --unfinished")
    try:
        limit = parse_size(max_size) if max_size else None
    except ValueError as error:
        raise UserInputError(Problem(str(error), field="--max-size")) from None
    store = StepCache.at(Path(cache_dir) if cache_dir else None)
    removed = kept_busy = 0
    freed = 0
    doomed = choose_garbage(store.entries(), keep_last, limit)
    removals = [(e.step, e.fingerprint, e.size(), lambda e=e: store.remove(e)) for e in doomed]
    if unfinished:
        removals += [
            (w.step, w.fingerprint, w.size, lambda w=w: store.remove_unfinished(w))
            for w in store.unfinished()
        ]
    for step, fingerprint, size, remove in removals:
        if dry_run:
            click.echo(f"would remove {step} {fingerprint[:12]}")
        elif not remove():
            kept_busy += 1
            continue
        removed += 1
        freed += size
    verb = "would free" if dry_run else "freed"
    click.echo(
        f"{removed} entries removed, {verb} {human_bytes(freed)}; "
        f"{kept_busy} kept because a running run uses them"
    )
