"""Lock files: what a recipe resolved to (git commits, input file hashes, the model), and how
the recipe has drifted from it since.

`smolora lock recipe.yaml` writes `recipe.yaml.lock` in canonical YAML, so it diffs cleanly;
`run` and `plan` refuse to proceed when the recipe no longer resolves to it (unless
`--update-lock`), and `validate` warns. The input identities are the plan's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smolora_recipes.errors import Location, Problem, RecipeError, display_path
from smolora_recipes.hashing import file_sha256
from smolora_recipes.plan import Plan, plan_inputs
from smolora_recipes.recipe.canonical import yaml_text
from smolora_recipes.recipe.loader import LoadedRecipe
from smolora_recipes.recipe.references import ResolvedReference
from smolora_recipes.recipe.shared_paths import SHORT_COMMIT, shared_root
from smolora_recipes.recipe.yaml_source import FieldPath, parse_yaml
from smolora_recipes.report import write_atomic

LOCK_VERSION = 1
_HEADER = (
    "# Written by `smolora lock`: what this recipe resolved to. `smolora run` and `plan` refuse\n"
    "# to proceed when it resolves differently; `--update-lock` accepts the change.\n"
)


def lock_file(loaded: LoadedRecipe) -> Path | None:
    """`RECIPE.lock` next to a local recipe; None for a `builtin:` or `git+` recipe."""
    if shared_root(loaded.file):
        return None
    return loaded.file.with_name(loaded.file.name + ".lock")


def lock_data(loaded: LoadedRecipe, plan: Plan) -> dict[str, Any]:
    """Every reference's commit (or a built-in recipe's hash) and every input's identity."""
    inputs = plan_inputs(plan)
    return {
        "lock_version": LOCK_VERSION,
        "references": [_pin(ref) for ref in loaded.references],
        "inputs": {name: inputs[name] for name in sorted(inputs)},
    }


def _pin(ref: ResolvedReference) -> dict[str, str]:
    if ref.commit:
        return {"reference": ref.text, "commit": ref.commit}
    return {"reference": ref.text, "sha256": file_sha256(ref.file)}


def write_lock(loaded: LoadedRecipe, plan: Plan) -> Path:
    """Write the recipe's lock file; a located error for a recipe that has no place for one."""
    path = lock_file(loaded)
    if path is None:
        raise RecipeError(
            Problem(
                "a built-in or git recipe has no folder of yours to keep a lock file in",
                Location(loaded.label, literal=True),
                hint=f"write a recipe that extends it (`extends: {loaded.label}`) and lock "
                "that one, or copy it with `smolora recipes cp`",
            )
        )
    return write_atomic(path, _HEADER + yaml_text(lock_data(loaded, plan)))


def lock_drift(loaded: LoadedRecipe, plan: Plan) -> list[Problem]:
    """One problem per reference or input that resolves differently from the lock file."""
    path = lock_file(loaded)
    if path is None or not path.is_file():
        return []
    locked, positions = _read_lock(path)
    current = lock_data(loaded, plan)
    problems: list[Problem] = []
    old_refs = {pin["reference"]: (index, pin) for index, pin in enumerate(locked["references"])}
    new_refs = {pin["reference"]: pin for pin in current["references"]}
    for text in [*new_refs, *(text for text in old_refs if text not in new_refs)]:
        index, before = old_refs.get(text, (None, None))
        after = new_refs.get(text)
        if before != after:
            where = positions.get(("references", index)) if index is not None else None
            problems.append(Problem(_pin_change(text, before, after), where or Location(str(path))))
    old_inputs, new_inputs = locked["inputs"], current["inputs"]
    for name in sorted(old_inputs.keys() | new_inputs.keys()):
        before, after = old_inputs.get(name), new_inputs.get(name)
        if (before or {}).get("sha256") != (after or {}).get("sha256"):  # paths are for people
            where = positions.get(("inputs", name)) or Location(str(path))
            problems.append(Problem(_input_change(name, before, after), where))
    if problems:
        last = problems[-1]
        problems[-1] = Problem(
            last.message,
            last.location,
            hint=f"the recipe no longer resolves to {display_path(path)}; if that is intended, "
            "re-run with --update-lock (or run `smolora lock` again)",
        )
    return problems


def _read_lock(path: Path) -> tuple[dict[str, Any], dict[FieldPath, Location]]:
    document = parse_yaml(path.read_text(encoding="utf-8"), str(path), env={})
    data = document.data
    if (
        not isinstance(data, dict)
        or data.get("lock_version") != LOCK_VERSION
        or not isinstance(data.get("references"), list)
        or not all(isinstance(pin, dict) and "reference" in pin for pin in data["references"])
        or not isinstance(data.get("inputs"), dict)
    ):
        raise RecipeError(
            Problem(
                f"not a smolora lock file (lock_version {LOCK_VERSION})",
                Location(str(path), 1),
                hint="delete it and write it again with `smolora lock`",
            )
        )
    return data, document.positions


def _short(pin: dict[str, str]) -> str:
    if "commit" in pin:
        return f"commit {str(pin['commit'])[:SHORT_COMMIT]}"
    return f"sha256 {str(pin.get('sha256'))[:SHORT_COMMIT]}"


def _pin_change(text: str, before: dict[str, str] | None, after: dict[str, str] | None) -> str:
    if before is None:
        return f"{text}: not in the lock file (a new reference)"
    if after is None:
        return f"{text}: in the lock file, but the recipe no longer uses it"
    return f"{text}: locked at {_short(before)}, now resolves to {_short(after)}"


def _input_change(name: str, before: dict[str, str] | None, after: dict[str, str] | None) -> str:
    if before is None:
        return f"input {name} ({after and after.get('path')}): not in the lock file"
    if after is None:
        return f"input {name} ({before.get('path')}): in the lock file, no longer read"
    return (
        f"input {name} ({after.get('path')}): content changed, locked sha256 "
        f"{str(before.get('sha256'))[:SHORT_COMMIT]}, now {str(after.get('sha256'))[:SHORT_COMMIT]}"
    )


def check_lock(loaded: LoadedRecipe, plan: Plan, update: bool) -> str | None:
    """Refuse a recipe that drifted from its lock file, or with `update` (re)write the lock;
    returns a line saying what was written, if anything."""
    path = lock_file(loaded)
    if path is None:
        return None
    if update:
        return f"wrote {display_path(write_lock(loaded, plan))}"
    drift = lock_drift(loaded, plan)
    if drift:
        raise RecipeError(drift)
    return None
