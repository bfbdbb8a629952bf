"""`smolora lock` and `smolora recipes ls | cp`: pinning and sharing recipes."""

from __future__ import annotations

import os
from pathlib import Path

import click

from smolora_recipes.cli.options import RECIPE_HELP, reports_errors, trust_option


@click.command(epilog=RECIPE_HELP)
@click.argument("recipe")
@trust_option
@reports_errors
def lock(recipe: str, trust_remote_code: bool) -> None:
    """Write RECIPE.lock: each git reference's commit, each input file's sha256, the model.

    `run` and `plan` then refuse to proceed when the recipe resolves differently (unless
    --update-lock); `validate` warns.
    """
    from smolora_recipes.core.errors import display_path
    from smolora_recipes.plan.build import build_plan
    from smolora_recipes.plan.lockfile import write_lock
    from smolora_recipes.recipe.loader import load_recipe

    loaded = load_recipe(recipe, allow_remote_code=trust_remote_code)
    click.echo(f"wrote {display_path(write_lock(loaded, build_plan(loaded)))}")


@click.group()
def recipes() -> None:
    """Discover shared recipes and copy one for local editing."""


@recipes.command("ls")
@click.argument("place", default="builtin")
@reports_errors
def recipes_ls(place: str) -> None:
    """List the recipes of PLACE (builtin, git+URL@REV[#folder], or a folder), each with its
    description and the command that runs it."""
    from smolora_recipes.catalog.builtin import list_recipes

    click.echo(list_recipes(place).to_text())


@recipes.command("cp", epilog=RECIPE_HELP)
@click.argument("recipe")
@click.argument("destination", type=click.Path())
@click.option(
    "--with-data", is_flag=True, help="Also copy the data files the recipe names, next to it."
)
@reports_errors
def recipes_cp(recipe: str, destination: str, with_data: bool) -> None:
    """Copy a recipe for local editing, rewriting its paths so it validates in its new place."""
    from smolora_recipes.catalog.copy import copy_recipe

    target = Path(destination)
    if destination.endswith(("/", os.sep)):  # `cp builtin:x new-folder/`: a folder, made here
        target.mkdir(parents=True, exist_ok=True)
    written = copy_recipe(recipe, target, with_data)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"next: smolora validate {written[0]}")
