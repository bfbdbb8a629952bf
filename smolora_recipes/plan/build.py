"""Recipe -> ordered steps, each with a content fingerprint. Pure: no torch, nothing written.

A step's fingerprint is the sha256 of canonical JSON of exactly what the step reads: its recipe
slice (input paths replaced by content hashes), its upstream fingerprints, the source of every
module its step module imports (`code_digest`), and the versions of the libraries it calls. No
timestamps, no absolute paths.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from smolora_recipes import __version__
from smolora_recipes.plan.code_digest import CodeIndex, library_versions
from smolora_recipes.plan.inputs import fingerprint_view
from smolora_recipes.plan.specs import STEP_SPECS
from smolora_recipes.recipe.loader import LoadedRecipe
from smolora_recipes.recipe.schema import Recipe
from smolora_recipes.store.hashing import digest


@dataclass
class PlannedStep:
    """One step of a plan: its fingerprint, and the material the fingerprint was computed from."""

    name: str
    summary: str
    fingerprint: str
    after: list[str]
    reads: list[str]
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)  # shown, not hashed twice
    enabled: bool = True
    skip_reason: str = ""
    material: dict[str, Any] = field(default_factory=dict)
    smolora_version: str = ""  # shown when the step code changed; not hashed
    notes: list[str] = field(default_factory=list)  # derived facts a reviewer wants; not hashed


@dataclass
class Plan:
    """The ordered steps a recipe compiles to."""

    recipe_name: str
    recipe_file: str
    steps: list[PlannedStep]

    def step(self, name: str) -> PlannedStep:
        """The step called `name`."""
        return next(step for step in self.steps if step.name == name)

    def to_text(self, statuses: dict[str, str] | None = None) -> str:
        """The plan as a person reads it: one block per step, with its status when given."""
        lines = [f"plan for {self.recipe_file} (recipe {self.recipe_name!r})"]
        for number, step in enumerate(self.steps, 1):
            status = f"skip: {step.skip_reason}" if not step.enabled else step.fingerprint[:12]
            if statuses and step.enabled:
                status += f"  {statuses[step.name]}"
            lines.append(f"{number}. {step.name:<8} {status}")
            lines.append(f"     {step.summary}")
            lines.append(f"     reads   {', '.join(step.reads)}")
            if step.after:
                lines.append(f"     after   {', '.join(step.after)}")
            for note in step.notes:
                lines.append(f"     note    {note}")
            for field_name, identity in step.inputs.items():
                kind = "commit" if "commit" in identity else "sha256"
                lines.append(
                    f"     input   {field_name} = {identity['path']} ({kind} {identity[kind][:12]})"
                )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """Plain data for `plan --json` and plan.json."""
        return {
            "recipe": self.recipe_name,
            "file": self.recipe_file,
            "steps": [asdict(step) for step in self.steps],
        }


def build_plan(loaded: LoadedRecipe) -> Plan:
    """Compile a loaded recipe into its ordered, fingerprinted steps."""
    view, inputs = fingerprint_view(loaded)
    recipe = loaded.recipe
    disabled = {
        "merge": "" if recipe.merge.enabled else "merge.enabled is false",
        "sample": "" if recipe.samples.prompts else "samples.prompts is empty",
        "eval": "" if recipe.eval.enabled else "eval.tasks is empty",
        "export": "" if recipe.export.gguf else "export.gguf is empty",
    }
    code = CodeIndex()
    fingerprints: dict[str, str] = {}
    steps: list[PlannedStep] = []
    for spec in STEP_SPECS:
        skip_reason = disabled.get(spec.name, "")
        after = [name for name in spec.after if name in fingerprints]
        material = {
            "step": spec.name,
            "code": code.code_digests(spec.module),
            "recipe": {key: _slice(view, key) for key in spec.reads},
            "upstream": {name: fingerprints[name] for name in after},
            "libraries": library_versions(spec.libraries),
        }
        fingerprint = digest(material)
        if not skip_reason:
            fingerprints[spec.name] = fingerprint
        step_inputs = {key: value for key, value in inputs.items() if _covered(key, spec.reads)}
        steps.append(
            PlannedStep(
                spec.name,
                spec.summary,
                fingerprint,
                after,
                list(spec.reads),
                step_inputs,
                not skip_reason,
                skip_reason,
                material,
                __version__,
                _batch_note(recipe) if spec.name == "train" else [],
            )
        )
    return Plan(recipe.name, loaded.label, steps)


def pinned(loaded: LoadedRecipe, plan: Plan) -> LoadedRecipe:
    """`loaded` with each hub revision replaced by the commit `plan` resolved it to, so the
    steps load exactly what was fingerprinted (and the resolved recipe shows the commit)."""
    commits = {
        name: found["commit"] for name, found in plan_inputs(plan).items() if "commit" in found
    }
    if not commits:
        return loaded
    recipe = loaded.recipe.model_copy(deep=True)
    for name, commit in commits.items():
        if name == "model.base":
            recipe.model.revision = commit
        else:  # data.sources.<i>.name
            recipe.data.sources[int(name.split(".")[2])].revision = commit  # type: ignore[union-attr]
    return replace(loaded, recipe=recipe)


def plan_inputs(plan: Plan) -> dict[str, dict[str, str]]:
    """Every input file or folder the plan's steps read: `{field: {"path", "sha256"}}`."""
    inputs: dict[str, dict[str, str]] = {}
    for step in plan.steps:
        inputs.update(step.inputs)
    return inputs


def _batch_note(recipe: Recipe) -> list[str]:
    """How many sequences one optimizer update sees, and where the factors come from."""
    sft, processes = recipe.sft, recipe.distributed.num_processes
    factors = f"{sft.batch_size} per device step x {sft.grad_accum} accumulated"
    if processes > 1:
        factors += f" x {processes} processes"
    return [f"batch   {factors} = {recipe.sequences_per_update} sequences per update"]


def _covered(key: str, reads: tuple[str, ...]) -> bool:
    return any(key == read or key.startswith(read + ".") for read in reads)


def _slice(view: dict[str, Any], dotted: str) -> Any:
    value: Any = view
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value
