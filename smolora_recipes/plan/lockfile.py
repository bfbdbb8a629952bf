"""Lock files: what a recipe resolved to (git commits, input file hashes, the model), and how
the recipe has drifted from it since.

`smolora lock recipe.yaml` writes `recipe.yaml.lock` in canonical YAML, so it diffs cleanly;
`run` and `plan` refuse to proceed when the recipe no longer resolves to it (unless
`--update-lock`), and `validate` warns. The input identities are the plan's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smolora_recipes.core.atomic_write import write_atomic
from smolora_recipes.core.errors import Location, Problem, RecipeError, display_path
from smolora_recipes.core.shared_paths import SHORT_COMMIT, shared_root
from smolora_recipes.plan.build import Plan, plan_inputs
from smolora_recipes.recipe.canonical import yaml_text
from smolora_recipes.recipe.loader import LoadedRecipe
from smolora_recipes.recipe.references import ResolvedReference
from smolora_recipes.recipe.yaml_source import FieldPath, parse_yaml
from smolora_recipes.store.hashing import file_sha256

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
    before, after = _items(locked), _items(lock_data(loaded, plan))
    problems: list[Problem] = []
    for label in [*after, *(label for label in before if label not in after)]:
        old, new = before.get(label), after.get(label)
        if old and new and old.identity == new.identity:
            continue
        where = positions.get(old.place) if old else None
        problems.append(Problem(_change(label, old, new), where or Location(str(path))))
    if problems:
        last = problems[-1]
        problems[-1] = Problem(
            last.message,
            last.location,
            hint=f"the recipe no longer resolves to {display_path(path)}; if that is intended, "
            "re-run with --update-lock (or run `smolora lock` again)",
        )
    return problems


@dataclass(frozen=True)
class _Item:
    """One locked thing: where the lock file lists it, what identifies it, a note for people."""

    place: FieldPath
    identity: str  # `commit <id>` or `sha256 <hash>`: compared whole
    note: str = ""


def _items(lock: dict[str, Any]) -> dict[str, _Item]:
    """The references (by their text) and inputs (by their field) of lock data."""
    items = {
        str(pin["reference"]): _Item(("references", index), _identity(pin))
        for index, pin in enumerate(lock["references"])
    }
    for name, identity in lock["inputs"].items():
        note = f" ({identity.get('path')})" if isinstance(identity, dict) else ""
        items[f"input {name}"] = _Item(("inputs", name), _identity(identity), note)
    return items


def _identity(entry: Any) -> str:
    if isinstance(entry, dict) and "commit" in entry:
        return f"commit {entry['commit']}"
    return f"sha256 {entry.get('sha256') if isinstance(entry, dict) else entry}"


def _change(label: str, old: _Item | None, new: _Item | None) -> str:
    """`git+...: locked at commit 3f2a9c1b7d0e, now commit 77c0e2a4b1d9`."""
    if old is None:
        return f"{label}{new.note if new else ''}: not in the lock file"
    if new is None:
        return f"{label}{old.note}: in the lock file, but no longer used"
    return f"{label}{new.note}: locked at {_short(old.identity)}, now {_short(new.identity)}"


def _short(identity: str) -> str:
    kind, _, value = identity.partition(" ")
    return f"{kind} {value[:SHORT_COMMIT]}"


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
