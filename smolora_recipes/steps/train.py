"""Step `train`: a LoRA adapter trained with trl's SFTTrainer on the tokenized dataset.

The training itself lives in `training/`; this step builds its job from the run and hands the
trained model on to `merge`. Training modules are imported inside `run`, after the executor has
imported (and timed) the libraries.
"""

from __future__ import annotations

from smolora_recipes.plan.specs import STEP_SPEC_BY_NAME
from smolora_recipes.recipe.builtin_models import published_name
from smolora_recipes.steps.context import StepContext
from smolora_recipes.training.job import TRAIN_LOG, TrainingJob
from smolora_recipes.training.result import TrainResult

OUTPUT = "adapter"
SIDE_FILES = (TRAIN_LOG,)


def run(ctx: StepContext) -> TrainResult:
    """Train the adapter here, or on `distributed.num_processes` worker processes."""
    job = TrainingJob(
        recipe=ctx.recipe,
        base_dir=ctx.loaded.base_dir,
        model_folder=ctx.model_folder(),
        runtime=ctx.runtime(),
        dataset_dir=ctx.outputs["dataset"],
        output=ctx.output,
        side_dir=ctx.side_dir,
        scratch=ctx.scratch,
        log=ctx.log,
        tokenizer=ctx.tokenizer(),
        libraries=STEP_SPEC_BY_NAME["train"].libraries,
        base_name=published_name(ctx.loaded_model.kind, ctx.loaded_model.base),
        listener=ctx.handoffs.train_curve,
    )
    if ctx.recipe.distributed.num_processes > 1:
        from smolora_recipes.training.launch import train_on_workers

        return train_on_workers(job)
    from smolora_recipes.training.trainer import train

    trained = train(job)
    ctx.handoffs.trained_model = trained.model  # merging it saves reloading base and adapter
    return trained.result
