"""Step `train`: a LoRA adapter trained with trl's SFTTrainer on the tokenized dataset.

Step modules are imported only when a run executes, so heavy imports at the top are fine here.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from smolora_recipes.checkpoints import first_interrupt_stops, last_complete_checkpoint
from smolora_recipes.data.splits import load_split
from smolora_recipes.fused_loss import causal_lm_loss, fused_loss_applies
from smolora_recipes.recipe.schema import LoraSection, Recipe, SftSection
from smolora_recipes.runtime import Runtime, load_model
from smolora_recipes.steps.context import StepContext
from smolora_recipes.varlen_attention import restore_sdpa_attention, use_varlen_attention

OUTPUT = "adapter"
TRAINED_MODEL = "trained_model"  # ctx.memory key: the adapter model, for the merge step
TRAIN_LOG = "train_log.jsonl"
SIDE_FILES = (TRAIN_LOG,)
STREAM_SHUFFLE_BUFFER = 1000  # rows a streamed training set is shuffled within
ATTENTION_NAMES = ("attn", "attention")  # module-path parts that mark an attention block


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
        from smolora_recipes.errors import Problem, UserInputError

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
        save_strategy="steps" if sft.save_steps else "no",
        save_steps=sft.save_steps or None,
        save_total_limit=sft.save_total_limit,
        seed=sft.seed,
        use_cpu=runtime.device == "cpu",
        bf16=runtime.autocast == "bfloat16" or runtime.dtype == "bfloat16",
        fp16=runtime.dtype == "float16",
        max_length=None,  # the dataset step tokenized and applied the length policy already
        packing=sft.packing,
        padding_free=sft.batching == "padding_free",
        pad_to_multiple_of=sft.pad_to_multiple_of,
        train_sampling_strategy="group_by_length" if sft.batching == "length_grouped" else "random",
        completion_only_loss=True,  # loss where the dataset's completion_mask says so
        activation_checkpointing=sft.activation_checkpointing,
        **({} if sft.optim == "auto" else {"optim": sft.optim}),
        include_num_input_tokens_seen="non_padding",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,  # our own progress line, with timestamps
        dataloader_num_workers=0,
    )


def plain_loss_trainer() -> type:
    """trl's SFTTrainer computing the loss as transformers' Trainer does, without the logits.

    SFTTrainer's own loss runs the LM head in tiles and recomputes them in the backward pass to
    log entropy and token accuracy; on CPU that costs 25% of a step (bench/NOTES.md), for two
    metrics the run report does not use. Where `fused_loss` applies (one process, a plain
    frozen LM head), the loss comes from the hidden states chunk by chunk: the same value
    without the tokens x vocabulary logits; elsewhere Trainer's own computation runs.
    """
    from transformers import Trainer
    from transformers.modeling_outputs import CausalLMOutputWithPast
    from trl import SFTTrainer

    class PlainLossSFTTrainer(SFTTrainer):
        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            one_device = self.accelerator.num_processes == 1 and self.args.n_gpu <= 1
            if not one_device or not fused_loss_applies(model):  # DDP/DataParallel: as usual
                return Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)
            with self.accelerator.autocast():  # as the prepared model's forward would run
                loss = causal_lm_loss(model, inputs, num_items_in_batch)
            return (loss, CausalLMOutputWithPast(loss=loss)) if return_outputs else loss

    return PlainLossSFTTrainer


def run(ctx: StepContext) -> dict[str, Any]:
    """Train the adapter here, or on `distributed.num_processes` worker processes."""
    if ctx.recipe.distributed.num_processes > 1:
        from smolora_recipes.distributed_launch import train_on_workers

        return train_on_workers(ctx)
    return train(ctx)


def train(ctx: StepContext) -> dict[str, Any]:
    """Train the adapter, measure eval loss before and after, save the adapter.

    In a distributed run every worker process calls this; only the first one logs, writes the
    train log and saves the adapter.
    """
    from transformers import PrinterCallback

    from smolora_recipes.train_callbacks import RowCounter, StopOnInterrupt, TrainProgress

    recipe, runtime, folder = ctx.recipe, ctx.runtime(), ctx.model_folder()
    tokenizer = ctx.tokenizer()
    quantization = recipe.model.quantization
    model = (
        load_quantized_model(folder, runtime, recipe)
        if quantization
        else load_model(folder, runtime, recipe.model.trust_remote_code)
    )
    if recipe.sft.batching == "padding_free":
        use_varlen_attention(model)
    dataset_dir = ctx.outputs["dataset"]
    train_rows = (
        streamed_training_rows(ctx, tokenizer)
        if recipe.data.streaming
        else load_split(dataset_dir, "train")
    )
    eval_rows = load_split(dataset_dir, "eval")
    has_eval = eval_rows is not None
    ctx.scratch.mkdir(parents=True, exist_ok=True)
    resume = last_complete_checkpoint(ctx.scratch)
    main_process = int(os.environ.get("RANK", "0")) == 0  # set by distributed launchers
    progress = TrainProgress(
        ctx,
        ctx.scratch / TRAIN_LOG if main_process else None,
        resume[1] if resume else 0,
        show_bar="LOCAL_RANK" not in os.environ,  # workers' output is relayed line by line
    )
    stopper = StopOnInterrupt()
    trainer = plain_loss_trainer()(
        model=model,
        args=sft_config(recipe.sft, runtime, ctx.scratch),
        train_dataset=train_rows,
        eval_dataset=eval_rows,
        processing_class=tokenizer,
        peft_config=lora_config(recipe.lora, model),
        callbacks=[progress, stopper],
    )
    trainer.remove_callback(PrinterCallback)  # it prints raw log dicts; TrainProgress logs
    rows_seen = RowCounter(trainer.data_collator)
    trainer.data_collator = rows_seen
    eval_before = trainer.evaluate()["eval_loss"] if has_eval else None
    if eval_before is not None:
        ctx.log(f"eval loss before training: {eval_before:.4f}")
    tokens_before = _tokens_at(resume[0]) if resume else 0  # rotated away after training
    if resume is not None:
        ctx.log(f"resumed from step {resume[1]} (checkpoint of this same train fingerprint)")
    started = time.perf_counter()
    rows_seen.rows = 0  # count training rows only, not the evaluation's
    with first_interrupt_stops(stopper, ctx.log):
        trainer.train(resume_from_checkpoint=str(resume[0]) if resume else None)
    if stopper.requested:
        raise KeyboardInterrupt  # checkpoint saved; the executor reports `interrupted`
    wall = time.perf_counter() - started
    rows_per_process = rows_seen.gathered(trainer.accelerator)
    eval_after = trainer.evaluate()["eval_loss"] if has_eval else None
    if eval_after is not None:
        ctx.log(f"eval loss after training: {eval_after:.4f}")
    world = trainer.accelerator.num_processes
    trained = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    restore_sdpa_attention(trained)  # and no autocast wrapper: the merge compares fp32 logits
    if main_process:
        shutil.copyfile(ctx.scratch / TRAIN_LOG, ctx.side_dir / TRAIN_LOG)
        trained.save_pretrained(ctx.output)
        tokenizer.save_pretrained(ctx.output)
    if world == 1 and not quantization:
        ctx.memory[TRAINED_MODEL] = trained  # merging it saves reloading base and adapter
    state = trainer.state
    trainable, total = trainer.model.get_nb_trainable_parameters()
    tokens = int(state.num_input_tokens_seen)
    tokens_now = tokens - tokens_before
    return {
        "steps": state.global_step,
        "epochs": round(float(state.epoch or 0), 4),
        "loss_history": progress.losses,
        "eval_history": [
            {"step": step, "eval_loss": loss}
            for step, loss in ((0, eval_before), (state.global_step, eval_after))
            if loss is not None
        ],
        "eval_loss_before": eval_before,
        "eval_loss_after": eval_after,
        "final_train_loss": progress.losses[-1]["loss"] if progress.losses else None,
        "trained_tokens": tokens,
        "world_size": world,
        "sequences_per_update": recipe.sequences_per_update,
        "rows_per_process": rows_per_process,
        "resumed_from_step": resume[1] if resume else None,
        "tokens_per_second": round(tokens_now / wall, 2) if wall > 0 else None,
        "wall_time_s": round(wall, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "peak_gpu_mb": _peak_gpu_mb(runtime),
        "target_modules": sorted(trainer.model.peft_config["default"].target_modules),
        "parameters": int(total),
        "trainable_parameters": int(trainable),
    }


def streamed_training_rows(ctx: StepContext, tokenizer: Any) -> Any:
    """`data.streaming`: an IterableDataset that reads, mixes and tokenizes while training."""
    from datasets import Features, IterableDataset, List, Value

    from smolora_recipes.data.stream import training_stream
    from smolora_recipes.data.tokenize import TokenizeOptions

    recipe = ctx.recipe
    features = Features({"input_ids": List(Value("int32")), "completion_mask": List(Value("int8"))})
    stream = IterableDataset.from_generator(
        training_stream,
        features=features,
        gen_kwargs={
            "data": recipe.data,
            "base_dir": ctx.loaded.base_dir,
            "tokenizer": tokenizer,
            "options": TokenizeOptions.of(recipe),
        },
    )
    return stream.shuffle(seed=recipe.sft.seed, buffer_size=STREAM_SHUFFLE_BUFFER)


def _tokens_at(checkpoint: Path) -> int:
    """Tokens already trained when a checkpoint was written."""
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    return int(state.get("num_input_tokens_seen") or 0)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _peak_gpu_mb(runtime: Runtime) -> float | None:
    if runtime.device != "cuda":
        return None
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**20, 1)
