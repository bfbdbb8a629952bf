"""What a tracker is given, read off a run's report: its parameters, curves, scores and tags.

One naming for every tracker: `train/loss`, `eval/loss`, `lm_eval/<task>/<metric>/<model>`,
`samples/<model>_accuracy`; parameters are the resolved recipe's fields by dotted path.
"""

from __future__ import annotations

import json
from typing import Any

from smolora_recipes.recipe.canonical import flatten

CURVE_NAMES = {  # train log entry key -> tracker metric name
    "loss": "train/loss",
    "learning_rate": "train/learning_rate",
    "epoch": "train/epoch",
    "eval_loss": "eval/loss",
}
TRAIN_SUMMARY = {  # report.json `train` field -> tracker metric name
    "final_train_loss": "train/final_loss",
    "eval_loss_before": "eval/loss_before",
    "eval_loss_after": "eval/loss_after",
    "trained_tokens": "train/tokens",
    "tokens_per_second": "train/tokens_per_second",
    "wall_time_s": "train/wall_time_s",
}
PARAM_VALUE_LIMIT = 6000  # MLflow's longest parameter value


def curve_point(entry: dict[str, Any]) -> dict[str, float]:
    """One train log entry's values under their tracker names (the step is not one)."""
    return {
        CURVE_NAMES[key]: float(value)
        for key, value in entry.items()
        if key in CURVE_NAMES and value is not None
    }


def curve_entries(train: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every entry of the run's training and eval loss curves, in step order."""
    if not train:
        return []
    entries = [*train.get("loss_history", []), *train.get("eval_history", [])]
    return sorted(entries, key=lambda entry: entry["step"])


def summary_metrics(report: dict[str, Any]) -> dict[str, float]:
    """The run's end results: training totals, lm-eval scores and the samples' accuracy."""
    found: dict[str, Any] = {}
    train = report.get("train") or {}
    for key, name in TRAIN_SUMMARY.items():
        found[name] = train.get(key)
    for score in (report.get("eval") or {}).get("scores", []):
        for model in ("base", "tuned"):
            found[f"lm_eval/{score['task']}/{score['metric']}/{model}"] = score.get(model)
    samples = report.get("samples") or {}
    for model in ("base", "tuned"):
        found[f"samples/{model}_accuracy"] = samples.get(f"{model}_accuracy")
    return {name: float(value) for name, value in found.items() if value is not None}


def run_tags(recipe: str, run_id: str, fingerprints: dict[str, str]) -> dict[str, str]:
    """The recipe's name, the run's id and every step's fingerprint."""
    tags = {"smolora.recipe": recipe, "smolora.run": run_id}
    for step, fingerprint in fingerprints.items():
        tags[f"smolora.fingerprint.{step}"] = fingerprint
    return tags


def run_params(canonical: dict[str, Any]) -> dict[str, str]:
    """The resolved recipe flattened: `sft.learning_rate` -> "0.0002", lists by index."""
    params = {}
    for path, value in flatten(canonical).items():
        text = value if isinstance(value, str) else json.dumps(value)
        params[".".join(str(part) for part in path)] = text[:PARAM_VALUE_LIMIT]
    return params


def markdown_table(values: dict[str, str]) -> str:
    """A two-column Markdown table (what TensorBoard's text tab renders)."""
    rows = [f"| {key} | {_cell(value)} |" for key, value in values.items()]
    return "\n".join(["| name | value |", "|---|---|", *rows])


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")
