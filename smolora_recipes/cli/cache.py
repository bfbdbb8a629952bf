"""`smolora cache ls | gc`: inspect and prune the step cache."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import click

from smolora_recipes.cli.options import reports_errors


@click.group()
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
    from smolora_recipes.core.paths import step_cache_dir
    from smolora_recipes.core.text_format import human_bytes
    from smolora_recipes.store.cache import StepCache

    store = StepCache(step_cache_dir(Path(cache_dir) if cache_dir else None))
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


def _used_by(run: str) -> str:
    """` (last used by quickstart/20261205-053552: its run folder loses this output)`."""
    return f" (last used by {run}: its run folder loses this output)" if run else ""


def _minute(iso_time: str) -> str:
    """'2026-11-25T05:00:00.773757+00:00' -> '2026-11-25 05:00' (UTC)."""
    return iso_time[:16].replace("T", " ")


@cache.command("gc")
@cache_dir_option
@click.option(
    "--keep-last",
    type=click.IntRange(0),
    help="Keep the N most recently used entries of each step, for each recipe.",
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
    from smolora_recipes.core.errors import Problem, UserInputError
    from smolora_recipes.core.paths import step_cache_dir
    from smolora_recipes.core.text_format import human_bytes
    from smolora_recipes.store.cache import StepCache, choose_garbage, parse_size

    if keep_last is None and max_size is None and not unfinished:
        raise click.UsageError("give --keep-last N, --max-size SIZE or --unfinished")
    try:
        limit = parse_size(max_size) if max_size else None
    except ValueError as error:
        raise UserInputError(Problem(str(error), field="--max-size")) from None
    store = StepCache(step_cache_dir(Path(cache_dir) if cache_dir else None))
    removed = kept_busy = 0
    freed = 0
    doomed = choose_garbage(store.entries(), keep_last, limit)
    removals = [
        (
            f"{e.step} {e.fingerprint[:12]}{_used_by(e.last_run())}",
            e.size(),
            partial(store.remove, e),
        )
        for e in doomed
    ]
    if unfinished:
        removals += [
            (
                f"{w.step} {w.fingerprint[:12]} (unfinished)",
                w.size,
                partial(store.remove_unfinished, w),
            )
            for w in store.unfinished()
        ]
    for label, size, remove in removals:
        if not dry_run and not remove():
            kept_busy += 1
            continue
        click.echo(f"{'would remove' if dry_run else 'removed'} {label}")
        removed += 1
        freed += size
    verb = "would free" if dry_run else "freed"
    click.echo(
        f"{removed} entries removed, {verb} {human_bytes(freed)}; "
        f"{kept_busy} kept because a running run uses them"
    )
