"""Field-by-field differences between two resolved recipes, and the steps they invalidate."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from smolora_recipes.core.shared_paths import shared_root
from smolora_recipes.plan.build import Plan, PlannedStep, build_plan, plan_inputs
from smolora_recipes.plan.rerun_cost import rerun_cost
from smolora_recipes.recipe.canonical import canonical_data, flatten, scalar_text
from smolora_recipes.recipe.loader import LoadedRecipe
from smolora_recipes.recipe.shared_rules import OUTPUT_FIELDS, SHARED_OUTPUT
from smolora_recipes.recipe.yaml_source import FieldPath, path_text
from smolora_recipes.store.cache import StepCache

_MISSING = "(absent)"
SHOWN_MODULES = 3  # changed modules named in a reason; the count covers the rest


@dataclass
class FieldChange:
    """One field whose resolved value differs, with where each side's value came from."""

    field: str
    old: Any
    new: Any
    old_origin: str
    new_origin: str


@dataclass
class InputChange:
    """An input file or folder whose identity differs (its path, or its content's sha256)."""

    field: str
    old_path: str | None
    new_path: str | None
    old_sha256: str | None
    new_sha256: str | None

    def describe(self) -> str:
        """`data/a.jsonl: sha256 1a2b3c4d5e6f -> 7f8e9d0c1b2a`."""
        path = self.new_path or self.old_path
        if self.old_path != self.new_path:
            path = f"{self.old_path or _MISSING} -> {self.new_path or _MISSING}"
        return f"{path}: {self.describe_sha256()}"

    def describe_sha256(self) -> str:
        """`sha256 1a2b3c4d5e6f -> 7f8e9d0c1b2a` (`commit ...` for a hub input)."""
        values = (self.old_sha256, self.new_sha256)
        kind = "commit" if any(v and v.startswith("commit ") for v in values) else "sha256"
        old, new = (_short(v.removeprefix("commit ") if v else v) for v in values)
        return f"{kind} {old} -> {new}"


@dataclass
class StepChange:
    """A step whose fingerprint differs, with the reasons."""

    step: str
    reasons: list[str]


@dataclass
class RecipeDiff:
    """Everything `smolora diff` reports."""

    old_file: str
    new_file: str
    fields: list[FieldChange] = field(default_factory=list)
    inputs: list[InputChange] = field(default_factory=list)
    steps: list[StepChange] = field(default_factory=list)
    unchanged_steps: list[str] = field(default_factory=list)
    cost: str = ""

    def to_json(self) -> dict[str, Any]:
        """Plain data for `diff --format json`."""
        return asdict(self)

    def to_text(self) -> str:
        """Human-readable diff."""
        lines = [f"--- {self.old_file}", f"+++ {self.new_file}"]
        if not self.fields:
            lines.append("no field differs")
        for change in self.fields:
            lines.append(
                f"  {change.field}: {_show(change.old)} -> {_show(change.new)}"
                f"    ({change.old_origin} -> {change.new_origin})"
            )
        lines.extend(f"  input {c.field}: {c.describe()}" for c in self.inputs)
        if self.steps:
            lines.append("steps to re-run:")
            lines.extend(f"  {c.step}: {'; '.join(c.reasons)}" for c in self.steps)
        lines.append(f"unchanged steps: {', '.join(self.unchanged_steps) or 'none'}")
        lines.append(f"re-running: {self.cost}")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """Ready to paste into a pull request: fields and inputs changed, with where each value
        came from, the steps invalidated and what re-running costs."""
        from smolora_recipes.core.text_format import cell, markdown_table

        lines = [f"#### Recipe change: `{self.old_file}` → `{self.new_file}`", ""]
        if self.fields:
            lines += markdown_table(
                ["field", "old", "new", "old value from", "new value from"],
                (
                    [
                        f"`{c.field}`",
                        _code(c.old),
                        _code(c.new),
                        cell(c.old_origin),
                        cell(c.new_origin),
                    ]
                    for c in self.fields
                ),
            )
        else:
            lines.append("No field differs.")
        if self.inputs:
            rows = (
                [
                    f"`{c.field}`",
                    _code(c.old_path or _MISSING),
                    _code(c.new_path or _MISSING),
                    cell(c.describe_sha256()),
                ]
                for c in self.inputs
            )
            lines += ["", *markdown_table(["input", "old", "new", "sha256"], rows)]
        lines += ["", "**Steps invalidated:**" if self.steps else "**No step is invalidated.**"]
        lines += [f"- `{c.step}`: {'; '.join(c.reasons)}" for c in self.steps]
        unchanged = ", ".join(f"`{name}`" for name in self.unchanged_steps) or "none"
        lines += ["", f"Unchanged steps: {unchanged}", "", f"**Re-running costs:** {self.cost}"]
        return "\n".join(lines) + "\n"


def _show(value: Any) -> str:
    return value if value is _MISSING else scalar_text(value)


def _short(sha256: str | None) -> str:
    return sha256[:12] if sha256 else _MISSING


def _code(value: Any) -> str:
    """A value as inline code inside a Markdown table cell."""
    from smolora_recipes.core.text_format import cell

    return f"`{cell(_show(value))}`"


def diff_recipes(
    old: LoadedRecipe, new: LoadedRecipe, cache: StepCache | None = None
) -> RecipeDiff:
    """Compare two loaded recipes field by field, input by input and step by step; `cache`
    (where the new recipe's steps would be found) sharpens the estimate of re-running."""
    old_plan, new_plan = build_plan(old), build_plan(new)
    result = RecipeDiff(old_plan.recipe_file, new_plan.recipe_file)
    old_fields, new_fields = flatten(canonical_data(old)), flatten(canonical_data(new))
    ordered = [*new_fields, *(path for path in old_fields if path not in new_fields)]
    for path in ordered:
        before, after = old_fields.get(path, _MISSING), new_fields.get(path, _MISSING)
        if before != after and not _unused(old, path) and not _unused(new, path):
            result.fields.append(
                FieldChange(
                    path_text(path),
                    before,
                    after,
                    old.origin_of(path).describe(),
                    new.origin_of(path).describe(),
                )
            )
    result.inputs = compare_inputs(old_plan, new_plan)
    result.steps, result.unchanged_steps = compare_plans(old_plan, new_plan)
    result.cost = rerun_cost(new, new_plan, [c.step for c in result.steps], cache)
    return result


def _unused(loaded: LoadedRecipe, path: FieldPath) -> bool:
    """A shared (fetched or committed) recipe does not choose its output paths, written or
    default (its runs go to the working folder), so they are not compared."""
    if path in OUTPUT_FIELDS and shared_root(loaded.file):
        return True
    return loaded.origin_of(path).detail == SHARED_OUTPUT


def compare_inputs(old: Plan, new: Plan) -> list[InputChange]:
    """Input files whose path or content differs between two plans, by field."""
    before, after = plan_inputs(old), plan_inputs(new)
    changes = []
    for name in sorted(before.keys() | after.keys()):
        a, b = before.get(name, {}), after.get(name, {})
        if a != b:
            changes.append(InputChange(name, a.get("path"), b.get("path"), _digest(a), _digest(b)))
    return changes


def _digest(identity: dict[str, str]) -> str | None:
    """An input's content hash, or its hub commit (`commit 1a2b...`)."""
    if "commit" in identity:
        return f"commit {identity['commit']}"
    return identity.get("sha256")


def compare_plans(old: Plan, new: Plan) -> tuple[list[StepChange], list[str]]:
    """Steps whose fingerprints differ (with reasons), and the names of those that do not."""
    changed, unchanged = [], []
    for new_step in new.steps:
        old_step = old.step(new_step.name)
        if not new_step.enabled:
            continue
        if old_step.fingerprint == new_step.fingerprint and old_step.enabled:
            unchanged.append(new_step.name)
        else:
            changed.append(StepChange(new_step.name, explain(old_step, new_step)))
    return changed, unchanged


def explain(old: PlannedStep, new: PlannedStep) -> list[str]:
    """Why a step's fingerprint changed, in recipe terms."""
    if not old.enabled:
        return [f"was skipped ({old.skip_reason})"]
    before, after = old.material, new.material
    reasons: list[str] = []
    old_slice, new_slice = flatten(before["recipe"]), flatten(after["recipe"])
    for path in sorted(old_slice.keys() | new_slice.keys(), key=_sort_key):
        a, b = old_slice.get(path, _MISSING), new_slice.get(path, _MISSING)
        if a == b:
            continue
        name = ".".join(str(p) for p in path if p != "sha256")
        if path[-1] == "sha256":
            shown = new.inputs.get(name, old.inputs.get(name, {})).get("path", name)
            reasons.append(f"{shown} content changed")
        else:
            reasons.append(f"{name} changed {_show(a)} -> {_show(b)}")
    for name in sorted(before["upstream"].keys() | after["upstream"].keys()):
        if before["upstream"].get(name) != after["upstream"].get(name):
            reasons.append(f"upstream {name} changed")
    for lib in sorted(after["libraries"]):
        if before["libraries"].get(lib) != after["libraries"][lib]:
            reasons.append(f"{lib} {before['libraries'].get(lib)} -> {after['libraries'][lib]}")
    if before["code"] != after["code"]:
        reasons.append(_code_change(old, new))
    return reasons or ["fingerprint changed"]


def _code_change(old: PlannedStep, new: PlannedStep) -> str:
    """`smolora_recipes 0.1.0 -> 0.2.0 changed step code (2 modules: steps/train.py, ...)`."""
    before, after = old.material["code"], new.material["code"]
    if isinstance(before, dict):
        files = sorted(f for f in before.keys() | after.keys() if before.get(f) != after.get(f))
        shown = ", ".join(files[:SHOWN_MODULES]) + (", ..." if len(files) > SHOWN_MODULES else "")
        where = f" ({len(files)} module{'' if len(files) == 1 else 's'}: {shown})"
    else:  # recorded before code digests were kept per file
        where = ""
    versions = old.smolora_version, new.smolora_version
    if versions[0] != versions[1]:
        return f"smolora_recipes {versions[0]} -> {versions[1]} changed step code{where}"
    return f"step code changed{where}"


def _sort_key(path: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(f"{p:08d}" if isinstance(p, int) else p for p in path)
