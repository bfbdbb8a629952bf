"""The `model` section: which base model, how it is loaded, and QLoRA quantization."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from smolora_recipes.recipe.section import ModelRefMarker, Section


class QuantizationSection(Section):
    """Load the frozen base weights quantized with bitsandbytes (QLoRA); CUDA only."""

    bits: Literal[4, 8] = Field(description="4-bit (QLoRA) or 8-bit (LLM.int8) base weights.")
    quant_type: Literal["nf4", "fp4"] = Field(
        default="nf4", description="4-bit data type (`bnb_4bit_quant_type`); nf4 as in QLoRA."
    )
    double_quant: bool = Field(
        default=True,
        description="Quantize the quantization constants too (`bnb_4bit_use_double_quant`).",
    )
    compute_dtype: Literal["bfloat16", "float16", "float32"] = Field(
        default="bfloat16", description="Dtype of the matmuls on 4-bit weights."
    )


class ModelSection(Section):
    """The base model to fine-tune and where it runs."""

    base: Annotated[str, ModelRefMarker()] = Field(
        default="smollm2-135m-instruct",
        min_length=1,
        description=(
            "Base model: a built-in alias (`smollm2-135m-instruct`), a local Hugging Face model "
            "folder, a local `.gguf` file, or a hub id such as `HuggingFaceTB/SmolLM2-135M` "
            "(needs the files cached locally or network access)."
        ),
    )
    revision: str | None = Field(
        default=None,
        description=(
            "Hub revision (branch, tag or commit; empty: `main`) when `base` is a hub id; "
            "`plan` resolves it to a commit (the local cache's, offline), which the "
            "fingerprint and lock file hold."
        ),
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto",
        description=(
            "Weight dtype. `auto`: bfloat16 on CUDA with bf16 support, else float32 weights "
            "(with bf16 autocast on CPUs that support it)."
        ),
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        default="auto", description="Device. `auto` picks cuda, then mps, then cpu."
    )
    quantization: QuantizationSection | None = Field(
        default=None,
        description=(
            "Quantize the frozen base weights (QLoRA), e.g. `{bits: 4}`; CUDA with bitsandbytes "
            "only, checked by `plan`. The merged model is saved unquantized. Empty: no "
            "quantization."
        ),
    )
    trust_remote_code: bool = Field(
        default=False,
        description=(
            "Allow the model repository to run its own Python code. Off unless the recipe says "
            "so (a recipe fetched from git also needs `--trust-remote-code` on the command "
            "line); the run prints a warning and the report records it."
        ),
    )
