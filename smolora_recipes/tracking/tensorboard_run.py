"""A TensorBoard log: event files in the run folder, read by `tensorboard --logdir`."""

from __future__ import annotations

from pathlib import Path

from smolora_recipes.tracking.metrics import markdown_table

FLUSH_SECONDS = 10  # how stale a live view of training may be


class TensorBoardRun:
    """Scalars per step, and the recipe's parameters and tags as text."""

    name = "tensorboard"

    def __init__(self, folder: Path, params: dict[str, str], tags: dict[str, str]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.folder = folder
        self.writer = SummaryWriter(log_dir=str(folder), flush_secs=FLUSH_SECONDS)
        self.writer.add_text("params", markdown_table(params))
        self.tags = dict(tags)

    def log(self, metrics: dict[str, float], step: int) -> None:
        """Scalars at an optimizer step."""
        for name, value in metrics.items():
            self.writer.add_scalar(name, value, step)

    def finish(self, summary: dict[str, float], step: int, status: str) -> None:
        """The end results at the last step, the tags with the run's status; close the file."""
        self.log(summary, step)
        self.writer.add_text("tags", markdown_table({**self.tags, "smolora.status": status}))
        self.writer.close()

    def location(self) -> dict[str, str]:
        """Where the event files are, and how to look at them."""
        return {"folder": str(self.folder), "open": f"tensorboard --logdir {self.folder}"}
