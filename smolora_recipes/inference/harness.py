"""Scoring a loaded model on lm-evaluation-harness tasks, in process: the harness's HF wrapper
takes the model and tokenizer a step already holds, on the run's device."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from typing import Any

from smolora_recipes.core.native_output import native_output_to


@dataclass(frozen=True)
class HarnessSettings:
    """How the harness runs: examples per task, few-shot examples, batching, chat template."""

    limit: int | None = None
    num_fewshot: int = 0
    batch_size: int = 8
    apply_chat_template: bool = False
    device: str = "cpu"


# task -> metric -> {"value", "stderr" (None when the harness gives none), "higher_is_better"}
Scores = dict[str, dict[str, dict[str, Any]]]


def harness_scores(
    model: Any, tokenizer: Any, tasks: list[dict[str, Any] | str], settings: HarnessSettings
) -> Scores:
    """Each task's metrics for `model` (task configs as lm-evaluation-harness reads its YAML,
    or the names of its own tasks)."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    # its warnings, progress bars, tables and a `git` it starts go to a scratch log: ours says it
    with tempfile.TemporaryFile("w+") as log, native_output_to(log):
        wrapped = HFLM(
            pretrained=model,
            tokenizer=tokenizer,
            device=settings.device,
            batch_size=settings.batch_size,
        )
        output = simple_evaluate(
            wrapped,
            tasks=tasks,
            num_fewshot=settings.num_fewshot,
            limit=settings.limit,
            apply_chat_template=settings.apply_chat_template,
            log_samples=False,
            bootstrap_iters=1000,
            verbosity="ERROR",
        )
    assert output is not None, "simple_evaluate returns results in the main process"
    better = output.get("higher_is_better") or {}
    return {
        task: _metrics(values, better.get(task) or {}) for task, values in output["results"].items()
    }


def _metrics(values: dict[str, Any], better: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`{"acc": {"value": 0.75, "stderr": 0.1, "higher_is_better": True}}` from the harness's
    `{"acc,none": 0.75, "acc_stderr,none": 0.1}`."""
    metrics = {}
    for key, value in values.items():
        name, _, kind = key.partition(",")
        if not kind or name.endswith("_stderr") or isinstance(value, bool):
            continue
        if not isinstance(value, int | float):
            continue
        stderr = values.get(f"{name}_stderr,{kind}")
        metrics[name] = {
            "value": float(value),
            "stderr": float(stderr) if isinstance(stderr, int | float) else None,
            "higher_is_better": bool(better.get(name, True)),
        }
    return metrics
