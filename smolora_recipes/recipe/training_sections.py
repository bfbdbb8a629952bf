"""The sections that shape training: `lora` (peft.LoraConfig), `sft` (trl.SFTConfig) and
`distributed` (processes and machines)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from smolora_recipes.recipe.section import InputPath, Section

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


Tracker = Literal["tensorboard", "mlflow", "wandb"]


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
        default=1,
        ge=1,
        description=(
            "Sequences per device step (`per_device_train_batch_size`); with the default "
            "`grad_accum` 8, 8 sequences per optimizer update. One per step holds the least "
            "memory at the same speed on CPU (bench/NOTES.md); the update is the same for any "
            "split of its 8 sequences."
        ),
    )
    grad_accum: int = Field(
        default=8, ge=1, description="Steps accumulated per update (`gradient_accumulation_steps`)."
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
            "(concatenated into one row, attention kept within each example: no padding at all; "
            "with `batch_size` 1 there is nothing to pad)."
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
    compile: bool | Literal["auto"] = Field(
        default="auto",
        description=(
            "Compile the decoder layers with torch.compile (inductor; one graph for every row "
            "length): faster steps after a first run that compiles, whose graphs are kept under "
            "$SMOLORA_HOME/inductor for every later run of the same model. `auto`: where "
            "bench/NOTES.md measured a net gain."
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
    eval_steps: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Measure the eval split's loss every N optimizer steps as well (a curve in the "
            "report); empty: before and after training only. Needs `data.eval_split` > 0."
        ),
    )
    load_best: bool = Field(
        default=False,
        description=(
            "Keep the adapter of the eval with the lowest eval loss, not the last step's "
            "(`load_best_model_at_end`): a checkpoint is saved at every eval, so `save_steps` "
            "is then `eval_steps`. Needs `eval_steps`."
        ),
    )
    report_to: list[Tracker] = Field(
        default_factory=list,
        description=(
            "Experiment trackers the run is logged to: `tensorboard` (event files in the run "
            "folder's `tensorboard/`), `mlflow` (MLFLOW_TRACKING_URI, else `mlflow.db` in the "
            "recipe's output folder; experiment MLFLOW_EXPERIMENT_NAME, else the recipe's "
            "name), `wandb` (project WANDB_PROJECT, else the recipe's name; offline unless "
            "WANDB_MODE or a W&B login says otherwise). Each gets the resolved recipe as "
            "parameters, the loss curves (live while training runs here), the eval scores and "
            "sample accuracy, and the recipe's name and step fingerprints as tags. Never part "
            "of a fingerprint: adding a tracker reuses every cached step. Needs the `track` "
            "extra."
        ),
    )
    save_steps: int = Field(
        default=50,
        ge=0,
        description="Checkpoint every N steps so a killed run resumes where it stopped; 0: never.",
    )
    save_total_limit: int = Field(default=2, ge=1, description="Checkpoints kept (the newest).")
    seed: int = Field(
        default=42, ge=0, le=2**32 - 1, description="Seed for weight init, dropout and data order."
    )

    @field_validator("load_best")
    @classmethod
    def _best_needs_evals(cls, value: bool, info: ValidationInfo) -> bool:
        if value and not info.data.get("eval_steps"):
            raise ValueError(
                "load_best keeps the checkpoint with the lowest eval loss, and sft.eval_steps "
                "is empty, so there is none to choose from; set sft.eval_steps"
            )
        return value

    @field_validator("report_to")
    @classmethod
    def _trackers_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) < len(value):
            raise ValueError("a tracker is named twice; list each once")
        return value

    @field_validator("epochs")
    @classmethod
    def _steps_or_epochs(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("max_steps") is not None:
            raise ValueError(
                "set either max_steps or epochs, not both (a `--set` of one replaces the "
                "other; `--set sft.epochs=null` clears it)"
            )
        return value

    @property
    def padding_free(self) -> bool:
        """Whether a step's sequences are concatenated into one row (`batching: padding_free`
        with more than one sequence per step)."""
        return self.batching == "padding_free" and self.batch_size > 1


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
