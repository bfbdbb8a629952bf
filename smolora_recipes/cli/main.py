"""The `smolora` command: a thin click layer over the Python API.

Heavy libraries (torch, transformers, datasets, peft, trl) are imported only inside the
commands that train or generate, so `--help`, `validate`, `plan`, `show` and `diff` stay fast.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from smolora_recipes.cli import cache as cli_cache
from smolora_recipes.cli import finished_run as cli_finished_run
from smolora_recipes.cli import recipes as cli_recipes
from smolora_recipes.cli.options import (
    RECIPE_HELP,
    reports_errors,
    set_option,
    trust_option,
    update_lock_option,
)

if TYPE_CHECKING:
    from smolora_recipes.recipe.loader import LoadedRecipe
    from smolora_recipes.run.state import RunState


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="smolora-recipes", prog_name="smolora")
def main() -> None:
    """smolora: declarative, reproducible LoRA fine-tuning recipes."""


main.add_command(cli_recipes.lock)
main.add_command(cli_recipes.recipes)
main.add_command(cli_finished_run.report)
main.add_command(cli_finished_run.generate)
main.add_command(cli_finished_run.serve)
main.add_command(cli_cache.cache)


@main.command(epilog=RECIPE_HELP)
@click.argument("recipes", nargs=-1, required=True)
@set_option
@click.option(
    "--data",
    "check_data",
    is_flag=True,
    help="Also read the first 5 records of each source and make examples of them (fields, "
    "filters, templates; no model is loaded).",
)
@trust_option
@reports_errors
def validate(
    recipes: tuple[str, ...], overrides: tuple[str, ...], check_data: bool, trust_remote_code: bool
) -> None:
    """Check recipes without running anything; exit 2 if any has a problem.

    A recipe that drifted from its lock file gets a warning (`run` and `plan` would refuse it).
    """
    from smolora_recipes.core.errors import UserInputError
    from smolora_recipes.plan.build import build_plan
    from smolora_recipes.plan.lockfile import lock_drift, lock_file
    from smolora_recipes.recipe.loader import load_recipe

    failed = 0
    for recipe in recipes:
        try:
            loaded = load_recipe(recipe, overrides, allow_remote_code=trust_remote_code)
            lock = lock_file(loaded)
            drift = lock_drift(loaded, build_plan(loaded)) if lock and lock.is_file() else []
            read = _first_records_checked(loaded) if check_data else None
        except UserInputError as error:  # the recipe, or (with --data) its records
            failed += 1
            click.echo(f"FAIL {recipe}", err=True)
            click.echo(error.render(), err=True)
            continue
        records = f"; its first {read} records make examples" if read is not None else ""
        click.echo(f"ok   {recipe} (recipe {loaded.recipe.name!r}{records})")
        for problem in drift:
            click.echo(f"warning: {problem.render()}", err=True)
    if failed:
        sys.exit(2)


def _first_records_checked(loaded: LoadedRecipe) -> int:
    """`validate --data`: the first records of each source made into examples."""
    from smolora_recipes.data.examples import check_first_records

    return check_first_records(loaded.recipe.data, loaded.base_dir)


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
    from smolora_recipes.run.executor import execute, stderr_echo
    from smolora_recipes.run.state import RunOptions
    from smolora_recipes.store.cache import StepCache

    overrides = (*overrides, *_nproc_override(nproc))
    loaded, compiled = _locked_plan(recipe, overrides, update_lock, trust_remote_code)
    output = loaded.recipe.output
    helper = loaded.recipe.distributed.machine_rank > 0  # trains only: machine 0 does the rest
    options = RunOptions(
        cache=None if no_cache or helper else StepCache(loaded.paths.cache_dir),
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
    from smolora_recipes.data.preview import LEGEND, bracketed, dimmed, heading
    from smolora_recipes.recipe.loader import load_recipe
    from smolora_recipes.report.rows import data_rows, skipped_lines
    from smolora_recipes.run.preview import build_preview
    from smolora_recipes.store.cache import StepCache

    loaded = load_recipe(recipe, overrides, allow_remote_code=trust_remote_code)
    shown = build_preview(loaded, StepCache(loaded.paths.cache_dir), count, source)
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
    from smolora_recipes.plan.build import build_plan
    from smolora_recipes.plan.environment_check import check_environment
    from smolora_recipes.plan.lockfile import check_lock
    from smolora_recipes.recipe.loader import load_recipe

    loaded = load_recipe(recipe, overrides, allow_remote_code=trust_remote_code)
    check_environment(loaded)
    compiled = build_plan(loaded)
    note = check_lock(loaded, compiled, update_lock)
    if note:
        click.echo(note, err=True)
    return loaded, compiled


def _run_summary(state: RunState) -> str:
    lines = [f"status: {state.status}", f"run: {state.run_dir}"]
    if state.error:
        lines.append(f"failed step: {state.error['step']}: {state.error['message']}")
    train, samples = state.results.train, state.results.sample
    if train and train.eval_loss_before is not None and train.eval_loss_after is not None:
        lines.append(f"eval loss: {train.eval_loss_before:.4f} -> {train.eval_loss_after:.4f}")
    if samples and samples.tuned_accuracy is not None:
        base = samples.base_accuracy
        shown = "n/a" if base is None else f"{base:.0%}"
        lines.append(f"accuracy: base {shown} -> tuned {samples.tuned_accuracy:.0%}")
    from smolora_recipes.report.files import written_report

    report = written_report(state.run_dir)
    lines.append(f"report: {report}" if report else f"report: none written (log: {state.run_dir})")
    return "\n".join(lines)


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
    from smolora_recipes.plan.status import plan_status
    from smolora_recipes.store.cache import StepCache

    overrides = (*overrides, *_nproc_override(nproc))
    loaded, compiled = _locked_plan(recipe, overrides, update_lock, trust_remote_code)
    cache = None if no_cache else StepCache(loaded.paths.cache_dir)
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
    from smolora_recipes.plan.diff import diff_recipes
    from smolora_recipes.recipe.loader import load_recipe
    from smolora_recipes.store.cache import StepCache

    if (rev is None) == (new is None):
        raise click.UsageError("give OLD and NEW, or --rev REV and one recipe")
    old, new = (f"{old}@{rev}", old) if rev else (old, new)
    assert new is not None
    before = load_recipe(old, allow_remote_code=trust_remote_code)
    after = load_recipe(new, allow_remote_code=trust_remote_code)
    result = diff_recipes(before, after, StepCache(after.paths.cache_dir))
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
    from smolora_recipes.catalog.starter import write_starter

    for written in write_starter(Path(path)):
        click.echo(f"wrote {written}")
    click.echo(f"next: smolora validate {path}")
