"""What this machine lacks to run a recipe, found before any step runs (`plan` and `run`).

`validate` checks a recipe alone, so a recipe written for a GPU cluster validates on a laptop;
`plan` and `run` also check it against this machine, so a recipe that cannot work here fails
in a second with the field that asks for the missing piece, not minutes into training.
torch is imported only when the recipe asks for something that depends on the GPUs.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from smolora_recipes.core.errors import Problem, UserInputError
from smolora_recipes.plan.code_digest import DISTRIBUTIONS
from smolora_recipes.plan.registry_tasks import registry_task_problems
from smolora_recipes.recipe.loader import LoadedRecipe
from smolora_recipes.recipe.training_sections import BITSANDBYTES_OPTIMIZERS

EXPORT_MODULES = ("llama_cpp", "sentencepiece")  # what the export step imports
TRACKER_MODULES = {  # what each tracker of `sft.report_to` imports
    "tensorboard": ("tensorboard",),
    "mlflow": ("mlflow", "sqlalchemy", "alembic"),  # MLflow's client and its SQLite store
    "wandb": ("wandb",),
}


@dataclass(frozen=True)
class Machine:
    """The facts about this machine the checks use."""

    cuda_devices: int
    has_module: Callable[[str], bool]


def this_machine(probe_gpus: bool) -> Machine:
    """This machine; its GPUs are counted (importing torch) only when `probe_gpus`."""
    devices = 0
    if probe_gpus:
        import torch

        devices = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return Machine(devices, lambda name: importlib.util.find_spec(name) is not None)


def check_environment(loaded: LoadedRecipe, machine: Machine | None = None) -> None:
    """Raise UserInputError listing every requirement of the recipe this machine cannot meet."""
    machine = machine or this_machine(depends_on_gpus(loaded))
    problems = environment_problems(loaded, machine)
    if machine.has_module("lm_eval"):  # the harness's task index takes seconds: only when named
        problems += registry_task_problems(loaded)
    if problems:
        raise UserInputError(problems)


def depends_on_gpus(loaded: LoadedRecipe) -> bool:
    """Whether any of the recipe's settings works only on CUDA, names CUDA, or depends on how
    many GPUs there are (several processes: one per GPU)."""
    recipe = loaded.recipe
    return (
        recipe.model.device == "cuda"
        or recipe.distributed.num_processes > 1
        or recipe.distributed.strategy != "ddp"
        or recipe.model.quantization is not None
        or recipe.sft.optim in BITSANDBYTES_OPTIMIZERS
    )


def environment_problems(loaded: LoadedRecipe, machine: Machine) -> list[Problem]:
    """Every requirement of the recipe that `machine` does not meet, located in the recipe."""
    recipe = loaded.recipe
    found: list[tuple[tuple[str, ...], str, str]] = []
    gpus = machine.cuda_devices
    if recipe.model.device == "cuda" and not gpus:
        found.append(
            (
                ("model", "device"),
                "model.device is cuda, but this machine has no CUDA GPU",
                "use `device: auto` to train on what the machine has",
            ),
        )
    strategy = recipe.distributed.strategy
    if strategy != "ddp" and not gpus:
        found.append(
            (
                ("distributed", "strategy"),
                f"strategy {strategy} shards the model over CUDA GPUs, and this machine has none",
                "use `strategy: ddp`, which also runs on CPU",
            ),
        )
    if strategy == "deepspeed" and not machine.has_module("deepspeed"):
        found.append(
            (
                ("distributed", "strategy"),
                "strategy deepspeed needs the deepspeed package, which is not installed",
                "pip install deepspeed, or use `strategy: fsdp`",
            ),
        )
    per_machine = recipe.distributed.processes_per_machine
    if gpus and recipe.model.device != "cpu" and per_machine > gpus:
        found.append(
            (
                ("distributed", "num_processes"),
                f"{per_machine} processes per machine, but this machine has {gpus} CUDA GPUs",
                "use one process per GPU",
            ),
        )
    if recipe.model.quantization is not None:
        found += _quantization_gaps(machine)
    if recipe.eval.enabled and not machine.has_module("lm_eval"):
        found.append(
            (
                ("eval", "tasks"),
                "eval.tasks are scored with lm-evaluation-harness, and this machine lacks "
                "the lm-eval package",
                "pip install 'smolora-recipes[eval]', or remove the eval section",
            ),
        )
    missing = [name for name in EXPORT_MODULES if not machine.has_module(name)]
    if recipe.export.gguf and missing:
        found.append(
            (
                ("export", "gguf"),
                f"export.gguf converts and checks GGUF files with llama.cpp, and this machine "
                f"lacks {' and '.join(DISTRIBUTIONS.get(name, name) for name in missing)}",
                "pip install 'smolora-recipes[export]' (llama-cpp-python builds llama.cpp once, "
                "about 10 minutes on 2 cores), or remove the export section",
            ),
        )
    for tracker in recipe.sft.report_to:
        lacking = [name for name in TRACKER_MODULES[tracker] if not machine.has_module(name)]
        if lacking:
            found.append(
                (
                    ("sft", "report_to"),
                    f"sft.report_to logs to {tracker}, and this machine lacks "
                    + " and ".join(lacking),
                    f"pip install 'smolora-recipes[track]', or remove {tracker} from the list",
                ),
            )
    if recipe.sft.optim in BITSANDBYTES_OPTIMIZERS and not (
        gpus and machine.has_module("bitsandbytes")
    ):
        found.append(
            (
                ("sft", "optim"),
                f"optimizer {recipe.sft.optim} runs on CUDA through bitsandbytes, "
                "and this machine lacks " + ("bitsandbytes" if gpus else "a CUDA GPU"),
                "use `optim: auto` (the default) or `adamw_torch`",
            ),
        )
    return [
        Problem(message, loaded.origin_of(path).location, ".".join(path), hint)
        for path, message, hint in found
    ]


def _quantization_gaps(machine: Machine) -> list[tuple[tuple[str, ...], str, str]]:
    gaps = []
    if not machine.cuda_devices:
        gaps.append(
            (
                ("model", "quantization"),
                "quantized (QLoRA) training runs on CUDA GPUs through "
                "bitsandbytes, and this machine has none",
                "remove `model.quantization` to train the full-precision model here",
            ),
        )
    if not machine.has_module("bitsandbytes"):
        gaps.append(
            (
                ("model", "quantization"),
                "quantized (QLoRA) training needs the bitsandbytes package, which is not installed",
                "pip install bitsandbytes",
            ),
        )
    return gaps
