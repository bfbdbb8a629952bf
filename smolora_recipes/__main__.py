"""`python -m smolora_recipes` runs the CLI."""

from smolora_recipes.entry import entry

entry()
