"""The library configurations a recipe describes: peft.LoraConfig, trl.SFTConfig, and QLoRA's
quantized base model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smolora_recipes.models.runtime import Runtime
from smolora_recipes.recipe.schema import Recipe
from smolora_recipes.recipe.training_sections import LoraSection, SftSection

ATTENTION_NAMES = ("attn", "attention")  # module-path parts that mark an attention block
# Liger's kernels for what the model computes; its losses stay off, the loss is fused_loss.py's
LIGER_KERNELS = {"fused_linear_cross_entropy": False, "cross_entropy": False}


def lora_config(lora: LoraSection, model: Any) -> Any:
    """The peft.LoraConfig a recipe's `lora` section describes, for this model."""
    from peft import LoraConfig

    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=resolve_targets(lora.target_modules, model),
        bias=lora.bias,
        use_rslora=lora.use_rslora,
        modules_to_save=lora.modules_to_save,
        task_type="CAUSAL_LM",
    )


def resolve_targets(targets: list[str] | str, model: Any) -> list[str] | str:
    """`attention` -> the names of the linear layers inside the model's attention blocks."""
    if targets != "attention":
        return targets
    from torch import nn
    from transformers.pytorch_utils import Conv1D

    names = sorted(  # "self_attn.q_proj": peft matches name suffixes, so MLP layers stay out
        {
            ".".join(name.split(".")[-2:])
            for name, module in model.named_modules()
            if isinstance(module, nn.Linear | Conv1D)
            and any(part in ATTENTION_NAMES or part.endswith("_attn") for part in name.split("."))
        }
    )
    if not names:
        from smolora_recipes.core.errors import Problem, UserInputError

        raise UserInputError(
            Problem(
                f"lora.target_modules is 'attention', but {type(model).__name__} has no linear "
                "layer inside a module named like attn/attention",
                field="lora.target_modules",
                hint="list the module names to adapt, or use 'all-linear'",
            )
        )
    return names


def load_quantized_model(folder: Path, runtime: Runtime, recipe: Recipe) -> Any:
    """The base model with bitsandbytes-quantized frozen weights, ready for k-bit LoRA (QLoRA).

    CUDA only; `plan` refuses a quantized recipe on a machine without CUDA or bitsandbytes.
    """
    import torch
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    settings = recipe.model.quantization
    assert settings is not None
    config = BitsAndBytesConfig(
        load_in_4bit=settings.bits == 4,
        load_in_8bit=settings.bits == 8,
        bnb_4bit_quant_type=settings.quant_type,
        bnb_4bit_use_double_quant=settings.double_quant,
        bnb_4bit_compute_dtype=getattr(torch, settings.compute_dtype),
    )
    model = AutoModelForCausalLM.from_pretrained(
        folder,
        quantization_config=config,
        dtype=runtime.torch_dtype,
        device_map={"": torch.cuda.current_device()},
        trust_remote_code=recipe.model.trust_remote_code,
    )
    return prepare_model_for_kbit_training(
        model, use_gradient_checkpointing=recipe.sft.activation_checkpointing
    )


def liger_applies(runtime: Runtime) -> bool:
    """Liger's Triton kernels (RMSNorm, SwiGLU, RoPE) run where they can: on CUDA, when the
    `liger-kernel` package is installed (the `gpu` extra)."""
    import importlib.util

    return runtime.device == "cuda" and importlib.util.find_spec("liger_kernel") is not None


def sft_config(sft: SftSection, runtime: Runtime, output_dir: Path) -> Any:
    """The trl.SFTConfig a recipe's `sft` section describes, for this runtime."""
    from trl import SFTConfig

    length = (
        {"max_steps": sft.max_steps} if sft.max_steps else {"num_train_epochs": sft.epochs or 1}
    )
    return SFTConfig(
        output_dir=str(output_dir),
        **length,
        learning_rate=sft.learning_rate,
        lr_scheduler_type=sft.lr_scheduler,
        warmup_steps=sft.warmup_steps,
        weight_decay=sft.weight_decay,
        per_device_train_batch_size=sft.batch_size,
        per_device_eval_batch_size=sft.batch_size,
        gradient_accumulation_steps=sft.grad_accum,
        max_grad_norm=sft.max_grad_norm,
        logging_steps=sft.logging_steps,
        save_strategy="steps" if sft.save_steps or sft.load_best else "no",
        save_steps=sft.eval_steps if sft.load_best else sft.save_steps or None,
        load_best_model_at_end=sft.load_best,
        metric_for_best_model="eval_loss" if sft.load_best else None,
        save_total_limit=sft.save_total_limit,
        seed=sft.seed,
        use_cpu=runtime.device == "cpu",
        bf16=runtime.autocast == "bfloat16" or runtime.dtype == "bfloat16",
        fp16=runtime.dtype == "float16",
        max_length=None,  # the dataset step tokenized and applied the length policy already
        packing=sft.packing,
        padding_free=sft.padding_free,
        pad_to_multiple_of=sft.pad_to_multiple_of,
        train_sampling_strategy="group_by_length" if sft.batching == "length_grouped" else "random",
        completion_only_loss=True,  # loss where the dataset's completion_mask says so
        activation_checkpointing=sft.activation_checkpointing,
        **(
            {"use_liger_kernel": True, "liger_kernel_config": LIGER_KERNELS}
            if liger_applies(runtime)
            else {}
        ),
        **({} if sft.optim == "auto" else {"optim": sft.optim}),
        include_num_input_tokens_seen="non_padding",
        eval_strategy="steps" if sft.eval_steps else "no",
        eval_steps=sft.eval_steps,
        report_to="none",
        logging_nan_inf_filter=False,  # a NaN loss fails training (training/finite.py)
        disable_tqdm=True,  # our own progress line, with timestamps
        dataloader_num_workers=0,
    )
