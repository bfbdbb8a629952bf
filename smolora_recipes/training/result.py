"""What a training reports: steps, losses, throughput, memory and the adapted modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from smolora_recipes.core.json_record import JsonRecord

DIVERGED = 1.25  # eval loss after / before above which a training is flagged in the report


@dataclass
class TrainResult(JsonRecord):
    """The train step's result (a helper machine of a multi-machine run knows only its rank).

    The fields keep the order report.json's `train` section has always had.
    """

    steps: int | None = None
    epochs: float | None = None
    loss_history: list[dict[str, float]] = field(default_factory=list)
    eval_history: list[dict[str, float]] = field(default_factory=list)
    eval_loss_before: float | None = None
    eval_loss_after: float | None = None
    final_train_loss: float | None = None
    trained_tokens: int | None = None
    world_size: int = 1
    sequences_per_update: int | None = None
    rows_per_process: list[int] = field(default_factory=list)
    resumed_from_step: int | None = None
    tokens_per_second: float | None = None
    wall_time_s: float | None = None
    peak_rss_mb: float | None = None
    peak_gpu_mb: float | None = None
    target_modules: list[str] = field(default_factory=list)
    parameters: int | None = None
    trainable_parameters: int | None = None
    machine_rank: int | None = None  # set on the helper machines of a multi-machine run
    best_step: int | None = None  # `sft.load_best`: the step whose adapter was kept
    best_eval_loss: float | None = None
    compiled: bool = False  # `sft.compile`: the decoder layers ran compiled

    def to_json(self) -> dict[str, Any]:
        """Plain data for JSON; `machine_rank` only where it is set (on a helper machine)."""
        data = super().to_json()
        if self.machine_rank is None:
            del data["machine_rank"]
        return data

    def warnings(self) -> list[str]:
        """What the run report must flag: an eval loss that rose markedly during training."""
        before, after = self.eval_loss_before, self.eval_loss_after
        if before is None or after is None or after <= before * DIVERGED:
            return []
        return [
            f"eval loss rose during training ({before:.4f} -> {after:.4f}): the run diverged or "
            "overfit; try a lower sft.learning_rate, more sft.warmup_steps or fewer steps"
        ]

    def report_section(self) -> dict[str, Any]:
        """report.json's `train` section: everything but the parameter counts (under `model`)."""
        data = self.to_json()
        for moved in ("parameters", "trainable_parameters"):
            data.pop(moved)
        return data
