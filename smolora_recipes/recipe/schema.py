"""The recipe schema: one closed pydantic model per section, every field described and defaulted.

Field names mirror the library call each section feeds (peft.LoraConfig, trl.SFTConfig,
datasets.load_dataset) where the recipe language does not deliberately shorten them.
Defaults live here (data sources: `sources.py`) and only there; each has a comment when the
reason is not obvious. The shared base and the path markers are in `section.py`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from smolora_recipes.recipe.section import InputPath, ModelRefMarker, OutputPath, Section
from smolora_recipes.recipe.sources import DataSource, checked_jinja

# --------------------------------------------------------------------------- optimizers

TORCH_OPTIMIZERS = ("auto", "adamw_torch", "adamw_torch_fused", "adafactor", "sgd", "adagrad")
BITSANDBYTES_OPTIMIZERS = (  # CUDA only, through bitsandbytes
    "adamw_8bit",
    "adamw_bnb_8bit",
    "paged_adamw_8bit",
    "paged_adamw_32bit",
    "lion_8bit",
    "lion_32bit",
    "paged_lion_8bit",
)
Optimizer = Literal[TORCH_OPTIMIZERS + BITSANDBYTES_OPTIMIZERS]  # type: ignore[valid-type]


# --------------------------------------------------------------------------- model


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
        description="Hub revision (branch, tag or commit) when `base` is a hub id.",
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


# --------------------------------------------------------------------------- data


class ChunkingSection(Section):
    """Split long texts into chunks before training (`format: text`)."""

    unit: Literal["words", "tokens", "chars"] = Field(
        default="words",
        description="What `size` counts: whitespace words, the model's tokens, or characters.",
    )
    size: int = Field(default=256, ge=1, description="Chunk length in `unit`s.")
    overlap: int = Field(default=0, ge=0, description="Units shared by consecutive chunks.")
    respect: Literal["none", "sentence", "paragraph"] = Field(
        default="none",
        description=(
            "Do not cut inside a paragraph or sentence when a chunk can end at one instead "
            "(a single paragraph or sentence longer than `size` is still cut)."
        ),
    )
    min_size: int = Field(
        default=1, ge=1, description="A last chunk shorter than this many units is a leftover."
    )
    leftover: Literal["merge", "drop"] = Field(
        default="merge",
        description=(
            "A leftover joins the chunk before it (`merge`, which may exceed `size`) or is "
            "dropped and counted in the report (`drop`)."
        ),
    )

    @field_validator("overlap")
    @classmethod
    def _overlap_below_size(cls, value: int, info: ValidationInfo) -> int:
        size = info.data.get("size")
        if size is not None and value >= size:
            raise ValueError(f"overlap ({value}) must be smaller than size ({size})")
        return value

    @field_validator("min_size")
    @classmethod
    def _min_size_within_size(cls, value: int, info: ValidationInfo) -> int:
        size = info.data.get("size")
        if size is not None and value > size:
            raise ValueError(f"min_size ({value}) must not exceed size ({size})")
        return value


class DataSection(Section):
    """Where training data comes from and how records become training examples."""

    sources: list[DataSource] = Field(
        min_length=1, description="One or more data sources, each tagged by `type`."
    )
    format: Literal["text", "chat", "completion"] = Field(
        default="text",
        description=(
            "`text`: each record is a plain training text (or `template` renders one). `chat`: "
            "each record is a conversation rendered with the chat template. `completion`: a "
            "prompt and a response, the loss on the response only."
        ),
    )
    template: str | None = Field(
        default=None,
        description=(
            "`format: text`: a Jinja template rendering a record into the training text, e.g. "
            "`Q: {{ record.question }}\\nA: {{ record.answer }}`. Runs sandboxed; a missing "
            "field is an error naming the record."
        ),
    )
    chat_template: str | None = Field(
        default=None,
        description=(
            "`format: chat`: a Jinja chat template replacing the tokenizer's; the sample step "
            "and `smolora generate` use the same one, so training and inference cannot drift."
        ),
    )
    train_on: Literal["assistant", "all"] = Field(
        default="assistant",
        description=(
            "Which tokens carry the loss: `assistant` turns only (chat) or the response only "
            "(completion); or `all` tokens."
        ),
    )
    chunking: ChunkingSection | None = Field(
        default=None, description="Split long texts into chunks (`format: text`); off when absent."
    )
    dedup: bool = Field(default=True, description="Drop exact duplicate examples.")
    eval_split: float = Field(
        default=0.1,
        ge=0.0,
        lt=1.0,
        description="Fraction of examples held out to measure eval loss (0 disables).",
    )
    seed: int = Field(default=42, description="Seed for sampling, weights and the eval split.")
    num_proc: int = Field(
        default=1, ge=1, le=64, description="Processes that tokenize in parallel (`datasets.map`)."
    )
    streaming: bool = Field(
        default=False,
        description=(
            "Train from a stream (`datasets.IterableDataset`): sources are read, rendered and "
            "tokenized while training, never stored whole; needs `sft.max_steps`. The eval "
            "split is a seeded hash-chosen share of the examples (at most 1000)."
        ),
    )

    @field_validator("template", "chat_template")
    @classmethod
    def _template_parses(cls, value: str | None) -> str | None:
        return checked_jinja(value, expression=False)

    @field_validator("template", "chunking")
    @classmethod
    def _text_format_only(cls, value: object, info: ValidationInfo) -> object:
        fmt = info.data.get("format")
        if value is not None and fmt not in (None, "text"):
            raise ValueError(f"{info.field_name} applies to `format: text`, not `format: {fmt}`")
        return value

    @field_validator("chat_template")
    @classmethod
    def _chat_format_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        fmt = info.data.get("format")
        if value is not None and fmt not in (None, "chat"):
            raise ValueError(f"chat_template applies to `format: chat`, not `format: {fmt}`")
        return value


# --------------------------------------------------------------------------- lora


class LoraSection(Section):
    """The LoRA adapter; mirrors `peft.LoraConfig`."""

    r: int = Field(default=16, ge=1, le=1024, description="Adapter rank (`LoraConfig.r`).")
    alpha: int = Field(default=32, ge=1, description="Scaling numerator (`LoraConfig.lora_alpha`).")
    dropout: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description=(
            "Dropout on the adapter input (`lora_dropout`). 0 by default: on CPU, 0.05 made each "
            "training step ~20% slower (bench/NOTES.md)."
        ),
    )
    target_modules: list[str] | Literal["attention", "all-linear"] = Field(
        default="attention",
        description=(
            "Module names to adapt; `attention`: every linear layer of the attention blocks "
            "(q/k/v/o in Llama-style models); `all-linear`: every linear layer but the head. "
            "On the CPU benchmark `all-linear` reached a lower eval loss (2.815 vs 2.839) but "
            "trained 1.4x slower (bench/NOTES.md)."
        ),
    )
    bias: Literal["none", "all", "lora_only"] = Field(
        default="none", description="Which biases to train (`LoraConfig.bias`)."
    )
    use_rslora: bool = Field(default=False, description="Rank-stabilised scaling alpha/sqrt(r).")
    modules_to_save: list[str] | None = Field(
        default=None, description="Extra modules trained in full and saved with the adapter."
    )

    @field_validator("target_modules")
    @classmethod
    def _non_empty_targets(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, list) and not value:
            raise ValueError("list is empty; name at least one module, or use 'attention'")
        return value


# --------------------------------------------------------------------------- sft


class SftSection(Section):
    """Supervised fine-tuning; maps onto `trl.SFTConfig`."""

    max_steps: int | None = Field(
        default=None, ge=1, description="Optimizer steps to train. Set this or `epochs`."
    )
    epochs: float | None = Field(
        default=None,
        gt=0,
        description="Passes over the training set (`num_train_epochs`); 1 when neither is set.",
    )
    learning_rate: float = Field(default=2e-4, gt=0, lt=1, description="Peak learning rate.")
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = Field(
        default="linear", description="Learning-rate schedule (`lr_scheduler_type`)."
    )
    warmup_steps: int = Field(default=0, ge=0, description="Linear warm-up steps.")
    weight_decay: float = Field(default=0.0, ge=0.0, description="AdamW weight decay.")
    batch_size: int = Field(
        default=4,
        ge=1,
        description=(
            "Sequences per device step (`per_device_train_batch_size`); with the default "
            "`grad_accum` 2, 8 sequences per optimizer update."
        ),
    )
    grad_accum: int = Field(
        default=2, ge=1, description="Steps accumulated per update (`gradient_accumulation_steps`)."
    )
    max_length: int = Field(default=1024, ge=8, description="Longest training sequence in tokens.")
    over_length: Literal["auto", "split", "truncate", "drop", "fail"] = Field(
        default="auto",
        description=(
            "An example longer than `max_length`: `split` into consecutive pieces (text only), "
            "`truncate` it, `drop` it, or `fail` naming it. `auto`: split text, drop chat and "
            "completion examples. The report counts each outcome."
        ),
    )
    packing: bool = Field(default=False, description="Pack several examples into each sequence.")
    batching: Literal["padded", "length_grouped", "padding_free"] = Field(
        default="padding_free",
        description=(
            "How a batch's examples are laid out: `padded` to the longest one; `length_grouped` "
            "(examples of similar length batched together, less padding); `padding_free` "
            "(concatenated into one row, attention kept within each example: no padding at all)."
        ),
    )
    pad_to_multiple_of: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Pad each batch's length up to a multiple of this (`pad_to_multiple_of`), so "
            "batches repeat a few shapes; empty: no extra padding."
        ),
    )
    activation_checkpointing: bool = Field(
        default=False,
        description=(
            "Recompute activations in the backward pass: less memory for ~30% more compute "
            "(`activation_checkpointing`)."
        ),
    )
    optim: Optimizer = Field(
        default="auto",
        description=(
            "Optimizer (`optim`). `auto`: transformers' default (fused AdamW on recent torch). "
            "The 8-bit, paged and lion ones run on CUDA through bitsandbytes."
        ),
    )
    max_grad_norm: float = Field(default=1.0, gt=0, description="Gradient clipping norm.")
    logging_steps: int = Field(default=5, ge=1, description="Log the training loss every N steps.")
    save_steps: int = Field(
        default=50,
        ge=0,
        description="Checkpoint every N steps so a killed run resumes where it stopped; 0: never.",
    )
    save_total_limit: int = Field(default=2, ge=1, description="Checkpoints kept (the newest).")
    seed: int = Field(default=42, description="Seed for weight init, dropout and data order.")

    @field_validator("epochs")
    @classmethod
    def _steps_or_epochs(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("max_steps") is not None:
            raise ValueError("set either max_steps or epochs, not both")
        return value


# --------------------------------------------------------------------------- merge


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
            "Largest allowed max-abs logit difference when verifying; empty means 1e-3 for "
            "float32 weights and 5e-2 for bfloat16/float16."
        ),
    )


# --------------------------------------------------------------------------- samples


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
    seed: int = Field(default=0, description="Seed for sampling when temperature > 0.")
    compare_base: bool = Field(
        default=True, description="Also generate from the base model, for comparison."
    )

    @field_validator("prompts", mode="before")
    @classmethod
    def _strings_are_prompts(cls, value: object) -> object:
        if isinstance(value, list):
            return [{"prompt": item} if isinstance(item, str) else item for item in value]
        return value


# --------------------------------------------------------------------------- output


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


# --------------------------------------------------------------------------- distributed


class DistributedSection(Section):
    """Training on several processes, GPUs or machines. Only the train step is distributed;
    load, dataset, merge and sample run once, in the process that runs the recipe."""

    num_processes: int = Field(
        default=1,
        ge=1,
        description=(
            "Training processes in all, across machines (accelerate's `num_processes`): one "
            "per GPU, or CPU processes sharing the cores. 1 trains in the running process."
        ),
    )
    num_machines: int = Field(default=1, ge=1, description="Machines taking part.")
    machine_rank: int = Field(
        default=0, ge=0, description="This machine's rank, 0 to num_machines - 1."
    )
    main_process_ip: str | None = Field(
        default=None,
        description="Address of the machine of rank 0 (needed with several machines).",
    )
    main_process_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port of the rank-0 process; empty: a free port (one machine) or 29500.",
    )
    strategy: Literal["ddp", "fsdp", "deepspeed"] = Field(
        default="ddp",
        description=(
            "How the work is shared: `ddp` (a full copy per process; CPU or GPU), `fsdp` or "
            "`deepspeed` (sharded; CUDA only, configured by `accelerate_config`)."
        ),
    )
    accelerate_config: InputPath | None = Field(
        default=None,
        description=(
            "An `accelerate config` YAML file passed to `accelerate launch` (FSDP or DeepSpeed "
            "settings, mixed precision, ...); relative to the recipe file."
        ),
    )

    @model_validator(mode="after")
    def _machines_fit_together(self) -> DistributedSection:
        if self.num_processes % self.num_machines:
            raise ValueError(
                f"num_processes: {self.num_processes} processes do not split evenly over "
                f"num_machines {self.num_machines}"
            )
        if self.machine_rank >= self.num_machines:
            raise ValueError(
                f"machine_rank: {self.machine_rank} is not below num_machines {self.num_machines}"
            )
        if self.num_machines > 1 and not self.main_process_ip:
            raise ValueError(
                "main_process_ip: training on several machines needs the address of rank 0"
            )
        return self

    @property
    def processes_per_machine(self) -> int:
        """Training processes this machine starts."""
        return self.num_processes // self.num_machines


# --------------------------------------------------------------------------- recipe

RECIPE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class Recipe(Section):
    """A whole recipe: the program `smolora run` executes."""

    recipe_version: Literal[1] = Field(
        default=1, description="Version of the recipe language this file is written in."
    )
    name: str = Field(
        max_length=100,
        json_schema_extra={"pattern": RECIPE_NAME_PATTERN},
        description="Run name (defaults to the file name); runs go to `<output.dir>/<name>/`.",
    )
    description: str | None = Field(default=None, description="One line saying what it teaches.")
    extends: str | None = Field(
        default=None,
        description=(
            "A recipe this one builds on: a path relative to this file, `builtin:NAME`, or "
            "`git+URL@REV#path` (REV a commit, tag or branch). Mappings are deep-merged (this "
            "file wins); lists are replaced whole. Chains are allowed, cycles are not."
        ),
    )
    model: ModelSection = Field(default_factory=ModelSection, description=ModelSection.__doc__)
    data: DataSection = Field(description=DataSection.__doc__)
    lora: LoraSection = Field(default_factory=LoraSection, description=LoraSection.__doc__)
    sft: SftSection = Field(default_factory=SftSection, description=SftSection.__doc__)
    merge: MergeSection = Field(default_factory=MergeSection, description=MergeSection.__doc__)
    samples: SamplesSection = Field(
        default_factory=SamplesSection, description=SamplesSection.__doc__
    )
    output: OutputSection = Field(default_factory=OutputSection, description=OutputSection.__doc__)
    distributed: DistributedSection = Field(
        default_factory=DistributedSection, description=DistributedSection.__doc__
    )

    @property
    def sequences_per_update(self) -> int:
        """Sequences one optimizer update sees: per device step x accumulated x processes."""
        return self.sft.batch_size * self.sft.grad_accum * self.distributed.num_processes

    @field_validator("sft")
    @classmethod
    def _split_needs_text(cls, value: SftSection, info: ValidationInfo) -> SftSection:
        data = info.data.get("data")
        if data is not None and data.streaming and value.max_steps is None:
            raise ValueError(
                "sft.max_steps: data.streaming is true, so the length of an epoch is unknown; "
                "set sft.max_steps"
            )
        if value.over_length == "split" and data is not None and data.format != "text":
            raise ValueError(
                f"sft.over_length: split would cut a {data.format} example in the middle; use "
                "drop, truncate or fail with `format: " + data.format + "`"
            )
        return value

    @field_validator("name")
    @classmethod
    def _name_is_a_folder_name(cls, value: str) -> str:
        if not re.fullmatch(RECIPE_NAME_PATTERN, value):  # `$` alone would allow a newline
            raise ValueError(
                f"{value!r} is not a usable run name: use letters, digits, '_', '.' and '-', "
                "starting with a letter or digit"
            )
        return value
