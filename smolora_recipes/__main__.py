"""`python -m smolora_recipes` runs the CLI."""

from smolora_recipes.cli.entry import entry

entry()
