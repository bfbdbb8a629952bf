"""What a step computed from the base model alone, remembered by its own fingerprint.

The sample step asks the base model and the tuned one; the eval step scores both. Only the
tuned results depend on training: the base ones follow from the base model (the load step's
fingerprint), the step's recipe fields, code and libraries. A re-run that changed only
training (a new `lora.r`) reuses them instead of loading the base model again. Kept in
`$SMOLORA_HOME/state/` (`base-answers.json`, `base-scores.json`), the newest `KEPT` each.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from smolora_recipes.core.json_memo import read_memo, write_memo
from smolora_recipes.core.paths import state_file
from smolora_recipes.plan.build import PlannedStep
from smolora_recipes.store.hashing import digest

KEPT = 64
MEMO = "base-answers.json"


def base_fingerprint(planned: PlannedStep) -> str:
    """What the step's base results follow from: its fingerprint material without the train
    and merge steps it also builds on."""
    material = planned.material
    upstream = {"load": material["upstream"]["load"]}
    return digest({**material, "step": f"{planned.name} (base)", "upstream": upstream})


def remembered(fingerprint: str, count: int) -> list[str] | None:
    """The base answers remembered for `fingerprint` (as many as there are prompts), or None."""
    answers = recalled(MEMO, fingerprint)
    valid = isinstance(answers, list) and all(isinstance(answer, str) for answer in answers)
    return answers if valid and len(answers) == count else None  # type: ignore[arg-type]


def remember(fingerprint: str, answers: list[str]) -> None:
    """Keep the base answers for `fingerprint`."""
    keep(MEMO, fingerprint, answers)


def recalled(memo_name: str, fingerprint: str) -> Any:
    """The value kept in the memo file `memo_name` for `fingerprint`, or None."""
    entry = _read(memo_name).get(fingerprint)
    return entry.get("value") if isinstance(entry, dict) else None


def keep(memo_name: str, fingerprint: str, value: Any) -> None:
    """Keep `value` for `fingerprint` in the memo file `memo_name` (the oldest entries beyond
    `KEPT` go); a home that cannot be written only means computing it again next time."""
    memo = _read(memo_name)
    memo[fingerprint] = {"value": value, "time": datetime.now(UTC).isoformat()}
    newest = sorted(memo.items(), key=lambda item: str(item[1].get("time")), reverse=True)
    write_memo(state_file(memo_name), dict(newest[:KEPT]))


def _read(memo_name: str) -> dict[str, Any]:
    memo = read_memo(state_file(memo_name))
    return {key: value for key, value in memo.items() if isinstance(value, dict)}
