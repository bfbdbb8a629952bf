"""Open the tuned model of a finished run directory (for `smolora generate`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from smolora_recipes.core.errors import Location, Problem, UserInputError
from smolora_recipes.models.model_files import check_weight_files
from smolora_recipes.models.runtime import Runtime, load_model, load_tokenizer, quiet_libraries


@dataclass
class FinishedRun:
    """A run's tuned model and tokenizer, and whether prompts go through the chat template."""

    model: Any
    tokenizer: Any
    chat: bool
    source: str
    system_prompt: str | None = None  # the recipe's `data.system_prompt`, as in training


def open_finished_run(run_dir: Path) -> FinishedRun:
    """Load the merged model of `run_dir`, or base + adapter when the run did not merge."""
    _check_not_collected(run_dir)
    resolved = run_dir / "recipe.resolved.yaml"
    model_json = run_dir / "model.json"
    if not resolved.is_file() or not model_json.is_file():
        raise UserInputError(
            Problem(
                "not a finished run folder (no recipe.resolved.yaml / model.json)",
                Location(str(run_dir)),
                hint="pass a folder such as runs/quickstart/latest",
            )
        )
    recipe = _read(resolved, yaml.safe_load)
    info = _read(model_json, json.loads)
    try:
        trust = bool(info.get("trust_remote_code"))
        runtime = Runtime(**info["runtime"])
        chat = recipe.get("data", {}).get("format") == "chat"
        system_prompt = recipe["data"].get("system_prompt") if chat else None
        base_folder = Path(info["folder"])
    except (AttributeError, KeyError, TypeError) as error:
        raise _damaged(run_dir, f"model.json or recipe.resolved.yaml lacks {error}") from None
    merged, adapter = run_dir / "merged", run_dir / "adapter"
    import transformers  # noqa: F401  (imported here so its progress bars can be silenced)

    quiet_libraries()
    if merged.is_dir():
        model, tokenizer = _loaded(merged, merged, runtime, trust)
        return FinishedRun(model, tokenizer, chat, "merged", system_prompt)
    if not adapter.is_dir():
        raise UserInputError(
            Problem(
                "the run has neither merged/ nor adapter/: it did not finish training",
                Location(str(run_dir)),
                hint="see its report.md for the failing step",
            )
        )
    from peft import PeftModel

    base, tokenizer = _loaded(base_folder, adapter, runtime, trust)
    try:
        model = PeftModel.from_pretrained(base, adapter).eval()
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise _damaged(adapter, f"{type(error).__name__}: {error}") from None
    return FinishedRun(model, tokenizer, chat, "base + adapter", system_prompt)


def _dangling(path: Path) -> bool:
    """A link whose target is gone, or a folder holding one (a run's own `merged/` and
    `adapter/` link file by file into the cache)."""
    if path.is_symlink():
        return not path.exists()
    return path.is_dir() and any(_dangling(entry) for entry in path.iterdir())


def _check_not_collected(run_dir: Path) -> None:
    """Refuse a run folder whose links lead to cache entries `cache gc` removed, saying which
    and how to rebuild them (the run's own command: only the removed steps run again)."""
    links = (run_dir / name for name in ("model.json", "adapter", "merged"))
    gone = [link.name for link in links if _dangling(link)]
    if not gone:
        return
    report = run_dir / "report.json"
    try:
        command = json.loads(report.read_text(encoding="utf-8"))["run"]["command"]
    except (OSError, ValueError, KeyError, TypeError):
        command = "smolora run <its recipe>"
    raise UserInputError(
        Problem(
            f"the cached outputs this run links to were removed by `smolora cache gc`: "
            f"{', '.join(gone)}",
            Location(str(run_dir)),
            hint=f"rebuild them with the command that made this run (only the removed steps run "
            f"again, from the folder it ran in): {command}",
        )
    )


def _read(path: Path, parse: Any) -> Any:
    """A run's record file, parsed; a damaged one is a located error, not a crash."""
    try:
        return parse(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise _damaged(path, f"{type(error).__name__}: {error}") from None


def _loaded(model: Path, tokenizer: Path, runtime: Runtime, trust: bool) -> tuple[Any, Any]:
    """The model in `model` (weights checked first) and the tokenizer in `tokenizer`."""
    check_weight_files(model)
    try:
        return load_model(model, runtime, trust), load_tokenizer(tokenizer, trust)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise _damaged(model, f"{type(error).__name__}: {str(error).splitlines()[0]}") from None


def _damaged(path: Path, reason: str) -> UserInputError:
    return UserInputError(
        Problem(
            f"damaged run folder: {reason}",
            Location(str(path)),
            hint="its files were changed or cut short after the run; run the recipe again "
            "(cached steps make that quick)",
        )
    )
