"""Recipe -> ordered steps, each with a content fingerprint. Pure: no torch, nothing written.

A step's fingerprint is the sha256 of canonical JSON of exactly what the step reads: its recipe
slice (input paths replaced by content hashes), its upstream fingerprints, the source code of
the step, and the versions of the libraries it calls. No timestamps, no absolute paths.
"""

from __future__ import annotations

import base64
import importlib.metadata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from smolora_recipes import __version__
from smolora_recipes.data.readers import local_dataset_folder
from smolora_recipes.hashing import digest, file_sha256, files_sha256, path_sha256
from smolora_recipes.models import BUILTIN_MODELS, classify_model
from smolora_recipes.recipe.canonical import canonical_data, portable_path
from smolora_recipes.recipe.loader import LoadedRecipe
from smolora_recipes.recipe.schema import Recipe
from smolora_recipes.recipe.schema_walk import marked_fields
from smolora_recipes.recipe.sources import HubSource, TextFilesSource
from smolora_recipes.recipe.yaml_source import FieldPath, path_text, set_value_at, value_at

PACKAGE_DIR = Path(__file__).resolve().parent
_MODEL_FIELDS = ("model.base", "model.revision", "model.trust_remote_code")
_CHECKPOINT_FIELDS = ("save_steps", "save_total_limit")


@dataclass(frozen=True)
class StepSpec:
    """A step: the recipe fields it reads, the steps it builds on, its code and libraries."""

    name: str
    summary: str
    reads: tuple[str, ...]
    after: tuple[str, ...]
    libraries: tuple[str, ...]
    code: tuple[str, ...]  # files or folders of this package, relative to it


STEP_SPECS: tuple[StepSpec, ...] = (
    StepSpec(
        "load",
        "resolve the base model and convert it to a local safetensors copy if needed",
        reads=("model",),
        after=(),
        libraries=("torch", "transformers", "gguf", "safetensors"),
        code=("models.py", "steps/load.py"),
    ),
    StepSpec(
        "dataset",
        "read the sources, render, chunk, dedup, tokenize and split train/eval",
        reads=("data", *_MODEL_FIELDS, "sft.max_length", "sft.over_length"),
        after=(),  # needs only the tokenizer, whose identity is the model fields it reads
        libraries=("datasets", "transformers", "tokenizers", "jinja2"),
        code=("data", "steps/dataset.py"),
    ),
    StepSpec(
        "train",
        "train the LoRA adapter with trl's SFTTrainer",
        reads=("lora", "sft", "distributed.num_processes"),  # processes change the batch
        after=("load", "dataset"),
        libraries=("torch", "transformers", "peft", "trl", "accelerate", "datasets"),
        code=(
            "checkpoints.py",
            "train_callbacks.py",
            "varlen_attention.py",
            "distributed_launch.py",
            "train_worker.py",
            "steps/train.py",
        ),
    ),
    StepSpec(
        "merge",
        "merge the adapter into the base weights and verify the logits",
        reads=("merge",),
        after=("load", "dataset", "train"),
        libraries=("torch", "transformers", "peft", "safetensors"),
        code=("steps/merge.py",),
    ),
    StepSpec(
        "sample",
        "generate for every prompt from the base and the tuned model, and score expectations",
        reads=("samples", "data.format"),
        after=("load", "train", "merge"),
        libraries=("torch", "transformers", "peft"),
        code=("steps/sample.py",),
    ),
    StepSpec(
        "report",
        "write report.json, report.md and report.html",
        reads=("name", "description"),
        after=("load", "dataset", "train", "merge", "sample"),
        libraries=(),
        code=("report.py", "report_builder.py", "report_html.py", "svg_charts.py"),
    ),
)
STEP_SPEC_BY_NAME = {spec.name: spec for spec in STEP_SPECS}


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
                lines.append(
                    f"     input   {field_name} = {identity['path']} "
                    f"(sha256 {identity['sha256'][:12]})"
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
    }
    fingerprints: dict[str, str] = {}
    steps: list[PlannedStep] = []
    for spec in STEP_SPECS:
        skip_reason = disabled.get(spec.name, "")
        after = [name for name in spec.after if name in fingerprints]
        material = {
            "step": spec.name,
            "code": code_digests(spec.code),
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


def fingerprint_view(loaded: LoadedRecipe) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """Canonical data with each input path replaced by the hash of what it names.

    Returns the view and, per dotted field, `{"path": portable path, "sha256": content hash}`
    so a plan can show which files went into which step.
    """
    data = canonical_data(loaded)
    data.pop("output", None)  # where runs are written never changes what a step computes
    for name in _CHECKPOINT_FIELDS:  # nor how often training checkpoints are kept
        data.get("sft", {}).pop(name, None)
    inputs: dict[str, dict[str, str]] = {}
    resolved = loaded.recipe.model_dump(mode="python")
    for path, _marker in marked_fields(data):
        if path[0] == "output":
            continue
        identity = _input_identity(path, resolved, loaded)
        if identity is not None:
            inputs[path_text(path)] = identity
            set_value_at(data, path, {"sha256": identity["sha256"]})
    for index, source in enumerate(loaded.recipe.data.sources):
        hub = isinstance(source, HubSource)
        folder = local_dataset_folder(source, loaded.base_dir) if hub else None
        if folder is not None:  # a save_to_disk folder: identified by content, like a file
            path = ("data", "sources", index, "name")
            sha = path_sha256(folder)
            inputs[path_text(path)] = {
                "path": portable_path(str(folder), loaded.base_dir),
                "sha256": sha,
            }
            set_value_at(data, path, {"sha256": sha})
    return data, inputs


def _input_identity(
    path: FieldPath, resolved: dict[str, Any], loaded: LoadedRecipe
) -> dict[str, str] | None:
    value = value_at(resolved, path)
    if path == ("model", "base"):
        return _model_identity(str(value), loaded)
    source = _source_at(path, loaded)
    target = Path(value)
    if isinstance(source, TextFilesSource) and target.is_dir():
        sha = files_sha256(target, (p for p in target.glob(source.glob) if p.is_file()))
    else:
        sha = path_sha256(target)
    return {"path": portable_path(str(target), loaded.base_dir), "sha256": sha}


def _source_at(path: FieldPath, loaded: LoadedRecipe) -> object:
    if len(path) >= 3 and path[:2] == ("data", "sources") and isinstance(path[2], int):
        return loaded.recipe.data.sources[path[2]]
    return None


def _model_identity(base: str, loaded: LoadedRecipe) -> dict[str, str] | None:
    ref = classify_model(base)
    if ref.kind == "hub":
        return None  # identified by its id and `model.revision`, which the slice already holds
    if ref.kind == "builtin":
        model = BUILTIN_MODELS[base]
        return {
            "path": f"builtin:{base}",
            "sha256": _wheel_file_sha256(model.distribution, model.filename),
        }
    assert ref.path is not None
    return {"path": portable_path(str(ref.path), loaded.base_dir), "sha256": path_sha256(ref.path)}


def _wheel_file_sha256(distribution: str, filename: str) -> str:
    """The sha256 a wheel's RECORD lists for one of its files (instant), else hash it."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return f"not-installed:{distribution}"
    for file in dist.files or ():
        if file.name == filename:
            if file.hash and file.hash.mode == "sha256":
                raw = base64.urlsafe_b64decode(file.hash.value + "=" * (-len(file.hash.value) % 4))
                return raw.hex()
            return file_sha256(Path(str(dist.locate_file(file))))
    return f"missing:{distribution}/{filename}"


def code_digests(entries: tuple[str, ...]) -> dict[str, str | None]:
    """Hash of each of this package's source files a step runs (line endings normalised)."""
    files: dict[str, str | None] = {}
    for entry in entries:
        target = PACKAGE_DIR / entry
        paths = sorted(target.rglob("*.py")) if target.is_dir() else [target]
        for path in paths:
            rel = path.relative_to(PACKAGE_DIR).as_posix()
            text = path.read_bytes().replace(b"\r\n", b"\n") if path.is_file() else None
            files[rel] = digest(text.decode("utf-8", "replace")) if text is not None else None
    return files


def library_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Installed versions, read from package metadata (does not import the libraries)."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _covered(key: str, reads: tuple[str, ...]) -> bool:
    return any(key == read or key.startswith(read + ".") for read in reads)


def _slice(view: dict[str, Any], dotted: str) -> Any:
    value: Any = view
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value
