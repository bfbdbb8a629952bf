"""Per step of a plan: cached, or will run and why, compared with the recipe's last good run."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from smolora_recipes.plan.build import Plan, PlannedStep
from smolora_recipes.store.cache import StepCache

INDEX = ".index"


@dataclass
class StepStatus:
    """What running the plan now would do with one step."""

    step: str
    state: str  # cached | will run | skipped
    reasons: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """`cached (from run r/1)`, `will run: lora.r changed 8 -> 16`, `skipped: ...`."""
        if self.state == "cached":
            return f"cached ({'; '.join(self.reasons)})"
        return f"{self.state}: {'; '.join(self.reasons)}" if self.reasons else self.state


def _index_file(cache: StepCache, recipe_name: str) -> Path:
    return cache.root / INDEX / f"{recipe_name}.json"


def record_plan(cache: StepCache, plan: Plan) -> None:
    """Remember the plan of a successful run, to explain what the next plan changes."""
    path = _index_file(cache, plan.recipe_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({s.name: asdict(s) for s in plan.steps}))
    temporary.replace(path)


def last_plan(cache: StepCache, recipe_name: str) -> dict[str, PlannedStep]:
    """The steps of the recipe's last successful run, by name (empty if none)."""
    path = _index_file(cache, recipe_name)
    try:
        stored: dict[str, dict[str, Any]] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {name: PlannedStep(**fields) for name, fields in stored.items()}


def plan_status(plan: Plan, cache: StepCache | None, force: str | None = None) -> list[StepStatus]:
    """What `smolora run` would do now, step by step, with reasons."""
    from smolora_recipes.plan.diff import explain

    previous = last_plan(cache, plan.recipe_name) if cache else {}
    statuses: list[StepStatus] = []
    forced = False
    for step in plan.steps:
        forced = forced or force == step.name
        if not step.enabled:
            statuses.append(StepStatus(step.name, "skipped", [step.skip_reason]))
        elif step.name == "report":
            statuses.append(StepStatus(step.name, "will run", ["written by every run"]))
        elif cache is None:
            statuses.append(StepStatus(step.name, "will run", ["--no-cache"]))
        elif forced:
            statuses.append(StepStatus(step.name, "will run", [f"--force {force}"]))
        elif (entry := cache.lookup(step.name, step.fingerprint)) is not None:
            statuses.append(StepStatus(step.name, "cached", [f"from run {entry.manifest['run']}"]))
        else:
            before = previous.get(step.name)
            if before is None:
                reasons = ["no earlier run of this recipe"]
            elif before.fingerprint == step.fingerprint:
                reasons = ["its cache entry is gone (removed by cache gc?)"]
            else:
                reasons = explain(before, step)
            statuses.append(StepStatus(step.name, "will run", reasons))
    return statuses
