"""What the command modules share: error reporting, common options and help text."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import click

from smolora_recipes.core.errors import SmoloraError, os_error_text

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(command: F) -> F:
    """Render our errors as text with their exit code; anything else as a short internal error."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SmoloraError as error:
            click.echo(str(error), err=True)
            sys.exit(error.exit_code)
        except (click.exceptions.Exit, click.ClickException, KeyboardInterrupt):
            raise
        except OSError as error:  # the machine, not a bug: disk full, permission denied
            click.echo(f"error: {os_error_text(error)}", err=True)
            click.echo("    hint: check free space and permissions there", err=True)
            sys.exit(1)
        except Exception as error:  # a bug of ours: say so plainly, traceback on request
            if os.environ.get("SMOLORA_DEBUG"):
                traceback.print_exc()
            click.echo(
                f"internal error: {type(error).__name__}: {error}\n"
                "    hint: this is a bug in smolora; rerun with SMOLORA_DEBUG=1 for a traceback",
                err=True,
            )
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a field, e.g. --set lora.r=16 (value parsed as YAML). Repeatable.",
)


trust_option = click.option(
    "--trust-remote-code",
    "trust_remote_code",
    is_flag=True,
    help="Let a recipe fetched from git enable model.trust_remote_code (the model's own Python "
    "code then runs).",
)
update_lock_option = click.option(
    "--update-lock",
    is_flag=True,
    help="When the recipe no longer resolves to its RECIPE.lock, rewrite the lock and go on.",
)
RECIPE_HELP = "RECIPE: a file, builtin:NAME, git+URL@REV#path or FILE@REV."
