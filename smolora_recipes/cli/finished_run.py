"""`smolora report | generate | serve RUN_DIR`: what to do with a finished run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from smolora_recipes.cli.options import reports_errors


def batch_size_option(help_text: str) -> Any:
    """`--batch-size N` (default 8) with the command's own help."""
    return click.option(
        "--batch-size", default=8, show_default=True, type=click.IntRange(1), help=help_text
    )


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
@reports_errors
def report(run_dir: str) -> None:
    """Re-render report.md and report.html of a run from its report.json."""
    from smolora_recipes.report.files import load_report, write_report_files

    report = load_report(Path(run_dir))
    for path in write_report_files(Path(run_dir), report, names=("report.md", "report.html")):
        click.echo(f"wrote {path}")


@click.command()
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
    from smolora_recipes.inference.finished_run import open_finished_run
    from smolora_recipes.inference.generation import (
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
        formatted = [
            format_prompt(finished.tokenizer, text, finished.chat, finished.system_prompt)
            for text in texts
        ]
        answers, _ = generate_batch(finished.model, finished.tokenizer, formatted, settings)
        for text, answer in zip(texts, answers, strict=True):
            click.echo(f">>> {text}\n{answer}")
        return
    for text in texts:
        if len(texts) > 1:
            click.echo(f">>> {text}")
        prompt = format_prompt(finished.tokenizer, text, finished.chat, finished.system_prompt)
        stream(
            finished.model,
            finished.tokenizer,
            prompt,
            settings,
            lambda piece: click.echo(piece, nl=False),
        )
        click.echo()


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@batch_size_option("Queued requests generated together, in prompts.")
@reports_errors
def serve(run_dir: str, host: str, port: int, batch_size: int) -> None:
    """Serve a finished run's tuned model with an OpenAI-compatible API (Ctrl-C stops).

    /v1/models, /v1/completions and /v1/chat/completions (also streamed); point any OpenAI
    client at http://HOST:PORT/v1."""
    from smolora_recipes.core.errors import Location, Problem, UserInputError
    from smolora_recipes.inference.finished_run import open_finished_run
    from smolora_recipes.inference.serve import make_server, serve_until_stopped

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
    click.echo(
        f"serving {name} ({finished.source} model) at {address}; Ctrl-C or SIGTERM stops "
        "(requests in progress finish first)",
        err=True,
    )
    if not serve_until_stopped(server):
        click.echo("stopped with requests still in progress after the grace period", err=True)
