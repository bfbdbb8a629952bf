"""Step `eval`: score the base and the tuned model on lm-evaluation-harness tasks.

The tuned model is the merged one (base + adapter when the run does not merge). The base
model's scores follow from the base model and the eval settings alone, so they are remembered
by their own fingerprint and a re-run that changed only training does not score it again. The
gate (`eval.gate`) is not part of the step's fingerprint: `verdict` judges the scores, cached
or new, against the recipe's gate after the step.
"""

from __future__ import annotations

import gc
import json
import time

from smolora_recipes.inference.harness import HarnessSettings, Scores, harness_scores
from smolora_recipes.models.runtime import load_model
from smolora_recipes.recipe.eval_section import task_config
from smolora_recipes.recipe.schema import Recipe
from smolora_recipes.steps.base_answers import base_fingerprint, keep, recalled
from smolora_recipes.steps.context import StepContext
from smolora_recipes.steps.results import EvalResult, EvalScore
from smolora_recipes.steps.sample import tuned_model

OUTPUT = "eval.json"
MEMO = "base-scores.json"


def run(ctx: StepContext) -> EvalResult:
    """Score the models `eval.models` names on every task; write eval.json."""
    evaluation = ctx.recipe.eval
    settings = HarnessSettings(
        limit=evaluation.limit,
        num_fewshot=evaluation.num_fewshot,
        batch_size=evaluation.batch_size,
        apply_chat_template=evaluation.apply_chat_template,
        device=ctx.runtime().device,
    )
    tasks = [task_config(path) for path in evaluation.tasks] + evaluation.registry_tasks
    tokenizer = ctx.tokenizer()
    started = time.perf_counter()
    scores: dict[str, Scores] = {}
    if "tuned" in evaluation.models:
        model = tuned_model(ctx)
        scores["tuned"] = harness_scores(model, tokenizer, tasks, settings)
        del model
        gc.collect()
    if "base" in evaluation.models:
        key = base_fingerprint(ctx.planned) if ctx.planned else None
        remembered = recalled(MEMO, key) if key else None
        if well_formed(remembered):
            scores["base"] = remembered
            ctx.log("base scores: reused (the base model, tasks and settings are unchanged)")
        else:
            model = load_model(
                ctx.model_folder(), ctx.runtime(), ctx.recipe.model.trust_remote_code
            )
            scores["base"] = harness_scores(model, tokenizer, tasks, settings)
            del model
            if key:
                keep(MEMO, key, scores["base"])
    result = EvalResult(scores=table(scores), seconds=round(time.perf_counter() - started, 2))
    ctx.output.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    for score in result.scores:
        ctx.log(describe(score))
    return result


def well_formed(scores: object) -> bool:
    """Whether remembered scores have the shape `harness_scores` gives (a memo may be damaged)."""
    return isinstance(scores, dict) and all(
        isinstance(metrics, dict)
        and all(
            isinstance(measured, dict) and isinstance(measured.get("value"), int | float)
            for measured in metrics.values()
        )
        for metrics in scores.values()
    )


def table(scores: dict[str, Scores]) -> list[EvalScore]:
    """One row per task and metric, with the base and tuned values side by side."""
    rows: dict[tuple[str, str], EvalScore] = {}
    for which in ("base", "tuned"):
        for task, metrics in scores.get(which, {}).items():
            for metric, measured in metrics.items():
                row = rows.setdefault(
                    (task, metric), EvalScore(task, metric, measured["higher_is_better"])
                )
                setattr(row, which, measured["value"])
                setattr(row, f"{which}_stderr", measured["stderr"])
    return [rows[key] for key in sorted(rows)]


def describe(score: EvalScore) -> str:
    """`zembria_mc/acc: base 0.083 -> tuned 1.000`."""
    parts = [
        f"{which} {value:.3f}"
        for which, value in (("base", score.base), ("tuned", score.tuned))
        if value is not None
    ]
    return f"{score.task}/{score.metric}: " + " -> ".join(parts)


def verdict(result: EvalResult, recipe: Recipe) -> str | None:
    """Why the scores fail the recipe's `eval.gate`, or None when they pass."""
    gate, misses = recipe.eval.gate, []
    by_name = {f"{score.task}/{score.metric}": score for score in result.scores}
    for name, minimum in gate.tuned_min.items():
        score = by_name.get(name)
        if score is None or score.tuned is None:
            misses.append(f"{name} has no tuned score (scored: {', '.join(by_name) or 'none'})")
        elif score.tuned < minimum:
            misses.append(
                f"{name} is {score.tuned:.3f}, {minimum - score.tuned:.3f} below the minimum "
                f"{minimum:g}"
            )
    if gate.max_regression is not None:
        for name, score in by_name.items():
            if score.base is None or score.tuned is None:
                continue
            drop = score.base - score.tuned if score.higher_is_better else score.tuned - score.base
            if drop > gate.max_regression:
                misses.append(
                    f"{name} fell from {score.base:.3f} to {score.tuned:.3f} (-{drop:.3f}, more "
                    f"than max_regression {gate.max_regression:g})"
                )
    return "; ".join(misses) or None
