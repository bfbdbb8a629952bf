"""The steps a recipe compiles to: what each reads, what it builds on, which module runs it."""

from __future__ import annotations

from dataclasses import dataclass

_MODEL_FIELDS = ("model.base", "model.revision", "model.trust_remote_code")


@dataclass(frozen=True)
class StepSpec:
    """A step: the recipe fields it reads, the steps it builds on, its code and libraries.

    `module` is the step's module; its code identity is every module of this package that
    module imports, directly or not (`code_digest.import_closure`), so no list is kept here.
    """

    name: str
    summary: str
    reads: tuple[str, ...]
    after: tuple[str, ...]
    libraries: tuple[str, ...]
    module: str


STEP_SPECS: tuple[StepSpec, ...] = (
    StepSpec(
        "load",
        "resolve the base model and convert it to a local safetensors copy if needed",
        reads=("model",),
        after=(),
        libraries=("torch", "transformers", "gguf", "safetensors"),
        module="smolora_recipes.steps.load",
    ),
    StepSpec(
        "dataset",
        "read the sources, render, chunk, dedup, tokenize and split train/eval",
        reads=("data", *_MODEL_FIELDS, "sft.max_length", "sft.over_length"),
        after=(),  # needs only the tokenizer, whose identity is the model fields it reads
        libraries=("datasets", "transformers", "tokenizers", "jinja2"),
        module="smolora_recipes.steps.dataset",
    ),
    StepSpec(
        "train",
        "train the LoRA adapter with trl's SFTTrainer",
        reads=("lora", "sft", "distributed.num_processes"),  # processes change the batch
        after=("load", "dataset"),
        libraries=("torch", "transformers", "peft", "trl", "accelerate", "datasets"),
        module="smolora_recipes.steps.train",
    ),
    StepSpec(
        "merge",
        "merge the adapter into the base weights and verify the logits",
        reads=("merge",),
        after=("load", "dataset", "train"),
        libraries=("torch", "transformers", "peft", "safetensors"),
        module="smolora_recipes.steps.merge",
    ),
    StepSpec(
        "sample",
        "generate for every prompt from the base and the tuned model, and score expectations",
        reads=("samples", "data.format", "data.system_prompt", "data.completion_separator"),
        after=("load", "train", "merge"),
        libraries=("torch", "transformers", "peft"),
        module="smolora_recipes.steps.sample",
    ),
    StepSpec(
        "eval",
        "score the base and the tuned model on the lm-evaluation-harness tasks",
        reads=("eval",),  # its gate is left out of the fingerprint (plan/inputs.py)
        after=("load", "train", "merge"),
        libraries=("lm_eval", "torch", "transformers", "datasets"),
        module="smolora_recipes.steps.eval",
    ),
    StepSpec(
        "export",
        "convert the merged model to GGUF with llama.cpp and check its answers to the prompts",
        reads=("name", "export", "data.format", "data.system_prompt", "data.completion_separator"),
        after=("load", "merge", "sample"),  # the sample step's answers are what it must match
        libraries=("llama_cpp", "transformers"),
        module="smolora_recipes.steps.export",
    ),
    StepSpec(
        "report",
        "write report.json, report.md and report.html",
        reads=("name", "description"),
        after=("load", "dataset", "train", "merge", "sample", "eval", "export"),
        libraries=(),
        module="smolora_recipes.report.files",
    ),
)


STEP_SPEC_BY_NAME = {spec.name: spec for spec in STEP_SPECS}
