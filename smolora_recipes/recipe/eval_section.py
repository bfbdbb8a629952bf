"""The `eval` section: lm-evaluation-harness tasks the base and the tuned model are scored on,
and the gate a run must pass; and reading a task's YAML file, with its data files beside it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, StringConstraints

from smolora_recipes.recipe.section import InputPath, Section

EVAL_TASK_HINT = (
    "a task file is lm-evaluation-harness's task YAML: `task`, `dataset_path: json`, "
    "`dataset_kwargs: {data_files: {test: FILE}}` beside it, `output_type`, `doc_to_text`, "
    "... (see recipes/eval/zembria_mc.yaml)"
)


TaskName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]


class EvalGate(Section):
    """What the scores must reach, or the run fails (its artifacts are kept)."""

    tuned_min: dict[str, float] = Field(
        default_factory=dict,
        description="Lowest allowed tuned score per `task/metric`, e.g. `zembria_mc/acc: 0.9`.",
    )
    max_regression: float | None = Field(
        default=None,
        ge=0,
        description=(
            "How far below the base score any tuned score may fall (a metric where higher is "
            "better), e.g. 0.02: forgetting what the base model knew fails the run."
        ),
    )


class EvalSection(Section):
    """Benchmark the base and the tuned model with lm-evaluation-harness (the `eval` extra)."""

    tasks: list[InputPath] = Field(
        default_factory=list,
        description=(
            "Task YAML files (lm-evaluation-harness's format), relative to the recipe (with "
            "`registry_tasks` empty too: no eval step). A task's `dataset_kwargs.data_files` "
            "are relative to its file (e.g. `dataset_path: json` with a JSON Lines file beside "
            "it), so it works offline."
        ),
    )
    registry_tasks: list[TaskName] = Field(
        default_factory=list,
        description=(
            "lm-evaluation-harness's own tasks, groups or tags by name (`hellaswag`, "
            "`arc_easy`, `mmlu`); their datasets come from the Hugging Face hub, so offline "
            "(HF_HUB_OFFLINE) `plan` accepts only those already in the local datasets cache."
        ),
    )
    limit: int | None = Field(
        default=None, ge=1, description="Examples per task; empty means all of them."
    )
    num_fewshot: int = Field(default=0, ge=0, description="Examples shown before each question.")
    models: list[Literal["base", "tuned"]] = Field(
        default_factory=lambda: ["base", "tuned"],
        min_length=1,
        description="Which models are scored (the base model's scores are remembered).",
    )
    batch_size: int = Field(default=8, ge=1, description="Requests scored together.")
    apply_chat_template: bool = Field(
        default=False,
        description="Wrap each request in the chat template (for generative chat-style tasks).",
    )
    gate: EvalGate = Field(default_factory=EvalGate, description=EvalGate.__doc__)

    @property
    def enabled(self) -> bool:
        """Whether the section names any task (else there is no eval step)."""
        return bool(self.tasks or self.registry_tasks)


def task_config(path: Path) -> dict[str, Any]:
    """The task YAML at `path` as lm-evaluation-harness takes it, its data files made absolute
    (they are relative to the task file). Raises ValueError saying what is wrong."""
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"cannot read the task file: {error}") from None
    if not isinstance(config, dict) or not isinstance(config.get("task"), str):
        raise ValueError("a task file is a mapping with a `task` name")
    if "include" in config:
        raise ValueError("`include` is not supported: write the task in one file")
    kwargs = config.get("dataset_kwargs") or {}
    files = kwargs.get("data_files") if isinstance(kwargs, dict) else None
    if isinstance(files, str):
        config["dataset_kwargs"] = {**kwargs, "data_files": str(_beside(path, "data_files", files))}
    elif isinstance(files, dict):
        absolute = {
            split: str(_beside(path, f"data_files {split}", name)) for split, name in files.items()
        }
        config["dataset_kwargs"] = {**kwargs, "data_files": absolute}
    return config


def task_files(path: Path) -> list[Path]:
    """The task file and the data files it names (what its fingerprint covers)."""
    files = (task_config(path).get("dataset_kwargs") or {}).get("data_files") or {}
    named = [files] if isinstance(files, str) else list(files.values())
    return [path, *(Path(name) for name in named)]


def _beside(task: Path, field: str, name: object) -> Path:
    """A data file named in a task file: relative to it, and existing."""
    target = Path(os.path.abspath(task.parent / str(name)))  # links kept: names stay portable
    if not target.is_file():
        raise ValueError(f"{field}: {name} is not a file beside the task file")
    return target
