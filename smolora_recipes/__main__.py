"""`python -m smolora_recipes` runs the CLI."""

from smolora_recipes.cli import main

main()
