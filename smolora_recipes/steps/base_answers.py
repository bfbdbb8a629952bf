"""The base model's sample answers, remembered by their own fingerprint.

The sample step asks the base model and the tuned one. Only the tuned answers depend on
training: the base ones follow from the base model (the load step's fingerprint), the sample
step's recipe fields, code and libraries. A re-run that changed only training (a new `lora.r`)
reuses them instead of loading the base model and generating again. Kept in
`$SMOLORA_HOME/state/base-answers.json`, the newest `KEPT` fingerprints.
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
    """What the base answers follow from: the sample step's fingerprint material without the
    train and merge steps it also builds on."""
    material = planned.material
    upstream = {"load": material["upstream"]["load"]}
    return digest({**material, "step": "sample (base answers)", "upstream": upstream})


def remembered(fingerprint: str, count: int) -> list[str] | None:
    """The base answers remembered for `fingerprint` (as many as there are prompts), or None."""
    entry = _read().get(fingerprint)
    answers = entry.get("answers") if isinstance(entry, dict) else None
    valid = isinstance(answers, list) and all(isinstance(answer, str) for answer in answers)
    return answers if valid and len(answers) == count else None


def remember(fingerprint: str, answers: list[str]) -> None:
    """Keep `answers` for `fingerprint` (the oldest entries beyond `KEPT` go); a home that
    cannot be written only means generating them again next time."""
    memo = _read()
    memo[fingerprint] = {"answers": answers, "time": datetime.now(UTC).isoformat()}
    newest = sorted(memo.items(), key=lambda item: str(item[1].get("time")), reverse=True)
    write_memo(state_file(MEMO), dict(newest[:KEPT]))


def _read() -> dict[str, Any]:
    memo = read_memo(state_file(MEMO))
    return {key: value for key, value in memo.items() if isinstance(value, dict)}
