"""Training a LoRA adapter with trl's SFTTrainer: the loop, its loss, and the metrics it reports.

Imported only when training runs, so heavy imports at the top are fine here."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from smolora_recipes.data.splits import load_split
from smolora_recipes.models.frozen_weights import hold_frozen_linears_in
from smolora_recipes.models.memory import gpu_peak_mb, process_peak_mb
from smolora_recipes.models.runtime import load_model
from smolora_recipes.training.adapter_card import make_portable
from smolora_recipes.training.callbacks import RowCounter, StopOnInterrupt, TrainProgress
from smolora_recipes.training.checkpoints import first_interrupt_stops, last_complete_checkpoint
from smolora_recipes.training.compiled_layers import (
    compile_applies,
    compile_decoder_layers,
    uncompile_decoder_layers,
)
from smolora_recipes.training.config import load_quantized_model, lora_config, sft_config
from smolora_recipes.training.finite import StopOnNonFiniteGradients, check_eval_loss, check_loss
from smolora_recipes.training.fused_loss import causal_lm_loss, fused_loss_applies
from smolora_recipes.training.job import TRAIN_LOG, TrainingJob
from smolora_recipes.training.result import TrainResult
from smolora_recipes.training.varlen_attention import restore_sdpa_attention, use_varlen_attention

STREAM_SHUFFLE_BUFFER = 1000  # rows a streamed training set is shuffled within


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
        """SFTTrainer whose loss is Trainer's, or fused from the hidden states, and that stops
        at the first non-finite loss."""

        def training_step(self, model: Any, inputs: Any, num_items_in_batch: Any = None) -> Any:
            """Trainer's step; a NaN or infinite loss fails training at once."""
            loss = super().training_step(model, inputs, num_items_in_batch)
            check_loss(loss, self.state.global_step + 1)
            return loss

        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            """Fused from the hidden states on one device where it applies, else Trainer's."""
            one_device = self.accelerator.num_processes == 1 and self.args.n_gpu <= 1
            if not one_device or not fused_loss_applies(model):  # DDP/DataParallel: as usual
                return Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)
            with self.accelerator.autocast():  # as the prepared model's forward would run
                loss = causal_lm_loss(model, inputs, num_items_in_batch)
            return (loss, CausalLMOutputWithPast(loss=loss)) if return_outputs else loss

    return PlainLossSFTTrainer


@dataclass
class Trained:
    """A finished training: what it reports, and the adapter model (one process only)."""

    result: TrainResult
    model: Any = None  # kept for the merge step of the same run; None when not in this process


def train(job: TrainingJob) -> Trained:
    """Train the adapter, measure eval loss before and after, save the adapter.

    In a distributed run every worker process calls this; only the first one logs, writes the
    train log and saves the adapter.
    """
    model = _base_model(job)
    job.scratch.mkdir(parents=True, exist_ok=True)
    resume = last_complete_checkpoint(job.scratch)
    main_process = int(os.environ.get("RANK", "0")) == 0  # set by distributed launchers
    progress = TrainProgress(
        job.log,
        job.scratch / TRAIN_LOG if main_process else None,
        resume[1] if resume else 0,
        show_bar="LOCAL_RANK" not in os.environ,  # workers' output is relayed line by line
        listener=job.listener,
    )
    stopper = StopOnInterrupt()
    callbacks = [progress, stopper]
    if job.runtime.dtype != "float16":  # float16's loss scaler skips non-finite steps itself
        callbacks.append(StopOnNonFiniteGradients())
    trainer, rows_seen = _trainer(job, model, callbacks)
    has_eval = trainer.eval_dataset is not None
    eval_before = _eval_loss(trainer, job, "before") if has_eval else None
    tokens_before = _tokens_at(resume[0]) if resume else 0  # rotated away after training
    if resume is not None:
        job.log(f"resumed from step {resume[1]} (checkpoint of this same train fingerprint)")
    started = time.perf_counter()
    rows_seen.rows = 0  # count training rows only, not the evaluation's
    with first_interrupt_stops(stopper, job.log):
        trainer.train(resume_from_checkpoint=str(resume[0]) if resume else None)
    if stopper.requested:
        raise KeyboardInterrupt  # checkpoint saved; the executor reports `interrupted`
    wall = time.perf_counter() - started
    rows_per_process = rows_seen.gathered(trainer.accelerator)
    eval_after = _eval_loss(trainer, job, "after") if has_eval else None
    trained = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    restore_sdpa_attention(trained)  # and no autocast wrapper: the merge compares fp32 logits
    uncompile_decoder_layers(trained)
    if main_process:
        shutil.copyfile(job.scratch / TRAIN_LOG, job.side_dir / TRAIN_LOG)
        trained.save_pretrained(job.output)
        job.tokenizer.save_pretrained(job.output)
        make_portable(job.output, job.base_name, job.recipe)
    one_process = trainer.accelerator.num_processes == 1
    result = TrainResult(
        **_progress_metrics(trainer.state, progress, (eval_before, eval_after)),
        **_throughput_metrics(trainer, job, tokens_before, wall),
        rows_per_process=rows_per_process,
        compiled=compile_applies(job.recipe.sft.compile, job.runtime),
        resumed_from_step=resume[1] if resume else None,
        **_model_metrics(trainer.model),
        **(_best_checkpoint(trainer.state) if job.recipe.sft.load_best else {}),
    )
    keep = one_process and job.recipe.model.quantization is None
    return Trained(result, trained if keep else None)


def _base_model(job: TrainingJob) -> Any:
    """The base model to adapt: quantized for QLoRA; under bfloat16 autocast with its frozen
    linear weights held in bfloat16 (models/frozen_weights.py); with per-document attention
    when the batches are padding-free; its decoder layers compiled per `sft.compile`."""
    recipe, runtime = job.recipe, job.runtime
    if recipe.model.quantization:
        model = load_quantized_model(job.model_folder, runtime, recipe)
    else:
        model = load_model(job.model_folder, runtime, recipe.model.trust_remote_code)
        if runtime.frozen_dtype:
            keep = recipe.lora.modules_to_save or ()
            hold_frozen_linears_in(model, getattr(torch, runtime.frozen_dtype), keep)
    if recipe.sft.padding_free:
        use_varlen_attention(model)
    if compile_applies(recipe.sft.compile, runtime):
        compile_decoder_layers(model)
    return model


def _trainer(job: TrainingJob, model: Any, callbacks: list[Any]) -> tuple[Any, RowCounter]:
    """The SFT trainer over the job's dataset, and the collator wrapper counting its rows."""
    from transformers import PrinterCallback

    recipe = job.recipe
    train_rows = (
        streamed_training_rows(job)
        if recipe.data.streaming
        else load_split(job.dataset_dir, "train")
    )
    trainer = plain_loss_trainer()(
        model=model,
        args=sft_config(recipe.sft, job.runtime, job.scratch),
        train_dataset=train_rows,
        eval_dataset=load_split(job.dataset_dir, "eval"),
        processing_class=job.tokenizer,
        peft_config=lora_config(recipe.lora, model),
        callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)  # it prints raw log dicts; TrainProgress logs
    rows_seen = RowCounter(trainer.data_collator)
    trainer.data_collator = rows_seen
    return trainer, rows_seen


def _eval_loss(trainer: Any, job: TrainingJob, when: str) -> float:
    """The eval split's loss now, logged; NaN or infinite fails training."""
    loss = trainer.evaluate()["eval_loss"]
    job.log(f"eval loss {when} training: {loss:.4f}")
    check_eval_loss(loss, when, trainer.state.global_step)
    return loss


def _progress_metrics(
    state: Any, progress: TrainProgress, evals: tuple[float | None, float | None]
) -> dict[str, Any]:
    """Steps, epochs and the loss curves."""
    before, after = evals
    return {
        "steps": state.global_step,
        "epochs": round(float(state.epoch or 0), 4),
        "loss_history": progress.losses,
        "eval_history": sorted(progress.evals, key=lambda entry: entry["step"]),
        "eval_loss_before": before,
        "eval_loss_after": after,
        "final_train_loss": progress.losses[-1]["loss"] if progress.losses else None,
    }


def _best_checkpoint(state: Any) -> dict[str, Any]:
    """`sft.load_best`: the step whose adapter the trainer reloaded, and its eval loss."""
    if state.best_model_checkpoint is None:
        return {}
    step = int(Path(state.best_model_checkpoint).name.rsplit("-", 1)[1])
    return {"best_step": step, "best_eval_loss": round(float(state.best_metric), 5)}


def _throughput_metrics(
    trainer: Any, job: TrainingJob, tokens_before: int, wall: float
) -> dict[str, Any]:
    """Tokens, speed and memory of this training."""
    tokens = int(trainer.state.num_input_tokens_seen)
    return {
        "trained_tokens": tokens,
        "world_size": trainer.accelerator.num_processes,
        "sequences_per_update": job.recipe.sequences_per_update,
        "tokens_per_second": round((tokens - tokens_before) / wall, 2) if wall > 0 else None,
        "wall_time_s": round(wall, 3),
        "peak_rss_mb": round(process_peak_mb(), 1),
        "peak_gpu_mb": gpu_peak_mb(),
    }


def _model_metrics(model: Any) -> dict[str, Any]:
    """Which modules were adapted, and how many parameters train."""
    trainable, total = model.get_nb_trainable_parameters()
    return {
        "target_modules": sorted(model.peft_config["default"].target_modules),
        "parameters": int(total),
        "trainable_parameters": int(trainable),
    }


def streamed_training_rows(job: TrainingJob) -> Any:
    """`data.streaming`: an IterableDataset that reads, mixes and tokenizes while training."""
    from datasets import Features, IterableDataset, List, Value

    from smolora_recipes.data.stream import training_stream
    from smolora_recipes.data.tokenize import TokenizeOptions

    recipe = job.recipe
    features = Features({"input_ids": List(Value("int32")), "completion_mask": List(Value("int8"))})
    stream = IterableDataset.from_generator(
        training_stream,
        features=features,
        gen_kwargs={
            "data": recipe.data,
            "base_dir": job.base_dir,
            "tokenizer": job.tokenizer,
            "options": TokenizeOptions.of(recipe),
        },
    )
    return stream.shuffle(seed=recipe.sft.seed, buffer_size=STREAM_SHUFFLE_BUFFER)


def _tokens_at(checkpoint: Path) -> int:
    """Tokens already trained when a checkpoint was written."""
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    return int(state.get("num_input_tokens_seen") or 0)
