"""The sections about what a run leaves: `merge` (verified merged weights), `samples`
(prompts answered and scored), `export` (GGUF files and an Ollama Modelfile) and `output`
(where runs and the step cache go)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from smolora_recipes.recipe.section import OutputPath, Section


class MergeSection(Section):
    """Merge the adapter into the base weights for deployment."""

    enabled: bool = Field(default=True, description="Write a merged model under `merged/`.")
    verify: bool = Field(
        default=True,
        description="Check the merged model's logits match the adapter model's on eval inputs.",
    )
    tolerance: float | None = Field(
        default=None,
        gt=0,
        description=(
            "Largest allowed max-abs logit difference when verifying (at the training "
            "precision, before the weights are saved in `dtype`); empty means 1e-3 for float32 "
            "weights and 5e-2 for bfloat16/float16."
        ),
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto",
        description=(
            "Dtype of the saved merged weights. `auto`: the base model's published dtype (a "
            "built-in model's upstream dtype, else config.json's `dtype`; float32 when it names "
            "none), so a bfloat16 base is stored at half the size of float32. Verification then "
            "also checks that rounding to it moved the logits less than the fine-tune did."
        ),
    )


class SamplePrompt(Section):
    """One prompt, optionally with the answer it is expected to contain."""

    prompt: str = Field(
        min_length=1, description="The prompt text (a user message in chat format)."
    )
    expect: str | None = Field(
        default=None,
        description="Expected answer, checked by `samples.match`; scored in the report.",
    )


class SamplesSection(Section):
    """Generation after training, from the base and the tuned model, side by side."""

    prompts: list[SamplePrompt] = Field(
        default_factory=list,
        description="Prompts to generate for: strings, or `{prompt, expect}` mappings.",
    )
    match: Literal["contains", "exact"] = Field(
        default="contains",
        description="How `expect` is checked: substring or whole answer (case-insensitive).",
    )
    max_new_tokens: int = Field(default=64, ge=1, le=8192, description="Tokens to generate.")
    temperature: float = Field(
        default=0.0,
        ge=0.0,
        le=5.0,
        description="Sampling temperature; 0 means greedy (reproducible).",
    )
    top_p: float = Field(default=1.0, gt=0.0, le=1.0, description="Nucleus sampling threshold.")
    batch_size: int = Field(default=8, ge=1, description="Prompts generated together.")
    seed: int = Field(
        default=0, ge=0, le=2**32 - 1, description="Seed for sampling when temperature > 0."
    )
    compare_base: bool = Field(
        default=True, description="Also generate from the base model, for comparison."
    )
    tools: list[dict[str, Any]] = Field(
        default_factory=list,
        description=(
            "`format: chat`: tools the sample prompts may call (JSON schemas, as a chat record's "
            "`tools`), passed to the chat template with every prompt, as in training."
        ),
    )

    @field_validator("prompts", mode="before")
    @classmethod
    def _strings_are_prompts(cls, value: object) -> object:
        if isinstance(value, list):
            return [{"prompt": item} if isinstance(item, str) else item for item in value]
        return value


GGUF_TYPES = ("f16", "bf16", "q8_0", "q5_k_m", "q4_k_m")
GgufType = Literal["f16", "bf16", "q8_0", "q5_k_m", "q4_k_m"]


class ExportSection(Section):
    """Files for llama.cpp, Ollama and LM Studio, each proven to answer like the merged model."""

    gguf: list[GgufType] = Field(
        default_factory=list,
        description=(
            "GGUF files to write to `export/<name>-<type>.gguf`, converted from `merged/` by "
            "llama.cpp's own converter (`f16`, `bf16`, `q8_0`) and quantizer (`q5_k_m`, "
            "`q4_k_m`). Each is loaded in llama.cpp and answers the sample prompts; one that "
            "agrees with the merged model no better than the base model does fails the step. "
            "Needs the `export` extra (`pip install 'smolora-recipes[export]'`)."
        ),
    )
    ollama: bool = Field(
        default=False,
        description=(
            "Also write `export/Modelfile` for the first GGUF: FROM, the chat template as an "
            "Ollama TEMPLATE, its stop tokens and `data.system_prompt` as SYSTEM."
        ),
    )

    @field_validator("gguf")
    @classmethod
    def _each_type_once(cls, value: list[str]) -> list[str]:
        repeated = sorted({kind for kind in value if value.count(kind) > 1})
        if repeated:
            raise ValueError(f"{', '.join(repeated)} listed more than once; name each type once")
        return value

    @field_validator("ollama")
    @classmethod
    def _ollama_needs_a_gguf(cls, value: bool, info: ValidationInfo) -> bool:
        if value and not info.data.get("gguf"):
            raise ValueError(
                "a Modelfile points at a GGUF file, and export.gguf is empty; "
                "add a type, e.g. `gguf: [q8_0]`"
            )
        return value


class OutputSection(Section):
    """Where runs are written."""

    dir: OutputPath = Field(
        default=Path("runs"),
        description=(
            "Runs go to `<dir>/<name>/<run-id>/`, relative to the recipe file. A recipe file "
            "may only name a folder below its own (`..` and absolute paths elsewhere are "
            "refused); `--set output.dir=PATH` may name any. A `builtin:` or `git+` recipe's own "
            "value is not used: its runs go to `runs/` in the working directory."
        ),
    )
    cache_dir: OutputPath | None = Field(
        default=None,
        description=(
            "Step cache folder; empty means `$SMOLORA_HOME/cache` (shared by recipes). Like "
            "`dir`, below the recipe's folder unless given with `--set`. A `builtin:` or `git+` "
            "recipe's own value is not used."
        ),
    )
    link: Literal["symlink", "copy"] = Field(
        default="symlink",
        description="How a run folder refers to cached step outputs: symlinks, or full copies "
        "(self-contained, uses more disk).",
    )
