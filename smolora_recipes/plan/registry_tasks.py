"""`eval.registry_tasks`: lm-evaluation-harness's own tasks, checked by `plan` before any step
runs: each name must be one the harness knows, and offline (HF_HUB_OFFLINE) every dataset it
reads must already be in the local Hugging Face datasets cache, so a missing one is refused in
seconds rather than after a hub timeout in the middle of a run."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterator
from typing import Any

from smolora_recipes.core.errors import Problem
from smolora_recipes.recipe.loader import LoadedRecipe

FIELD = ("eval", "registry_tasks")
OFFLINE_HINT = (
    "run the recipe once where the hub is reachable (the datasets stay in the cache), or "
    "write the task as a task file with `dataset_path: json` and a local data file (eval.tasks)"
)


def registry_task_problems(loaded: LoadedRecipe) -> list[Problem]:
    """What is wrong with the recipe's registry task names on this machine (lm-eval installed)."""
    names = loaded.recipe.eval.registry_tasks
    if not names:
        return []
    from huggingface_hub import is_offline_mode

    manager = task_manager()
    problems = []
    for index, name in enumerate(names):
        item = loaded.origin_of((*FIELD, index))
        location = (item if item.location else loaded.origin_of(FIELD)).location
        if name not in manager.task_index:
            close = difflib.get_close_matches(name, manager.all_tasks, n=3, cutoff=0.75)
            hint = f"did you mean {', '.join(close)}?" if close else "`lm-eval ls tasks` lists them"
            problems.append(
                Problem(
                    f"lm-evaluation-harness has no task {name!r}", location, ".".join(FIELD), hint
                )
            )
            continue
        if not is_offline_mode():
            continue  # the harness downloads what it lacks
        missing = sorted(
            {dataset for dataset in task_datasets(manager, name) if not cached(*dataset)}
        )
        if missing:
            shown = ", ".join(path + (f" ({subset})" if subset else "") for path, subset in missing)
            problems.append(
                Problem(
                    f"task {name!r} reads {shown} from the Hugging Face hub; "
                    + ("it is" if len(missing) == 1 else "they are")
                    + " not in the local datasets cache, and HF_HUB_OFFLINE forbids downloading",
                    location,
                    ".".join(FIELD),
                    OFFLINE_HINT,
                )
            )
    return problems


@functools.cache
def task_manager() -> Any:
    """lm-evaluation-harness's index of its tasks (built once per process: it reads thousands
    of task files)."""
    from lm_eval.tasks import TaskManager

    return TaskManager()


def task_datasets(manager: Any, name: str) -> Iterator[tuple[str, str | None]]:
    """(dataset path, subset) of every task a task, group or tag name stands for."""
    entry = manager.task_index[name]
    kind = entry.kind.name
    if kind == "TAG":
        members = [other for other, found in manager.task_index.items() if name in found.tags]
    elif kind == "GROUP":
        members = (entry.cfg or {}).get("task") or []
    else:
        config = entry.cfg or {}
        if config.get("dataset_path"):
            yield config["dataset_path"], config.get("dataset_name")
        return
    for member in members:
        if isinstance(member, str) and member in manager.task_index:
            yield from task_datasets(manager, member)
        elif isinstance(member, dict) and member.get("dataset_path"):  # a task written inline
            yield member["dataset_path"], member.get("dataset_name")


def cached(path: str, subset: str | None) -> bool:
    """Whether the datasets library finds this hub dataset in its local cache."""
    from datasets import load_dataset_builder

    try:
        load_dataset_builder(path, subset)
    except Exception:  # not cached: the error type varies by datasets version
        return False
    return True
