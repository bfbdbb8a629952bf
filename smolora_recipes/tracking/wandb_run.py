"""A Weights & Biases run: offline (a folder `wandb sync` uploads later) unless WANDB_MODE or a
W&B login says otherwise, so a run never waits on a network it lacks."""

from __future__ import annotations

import netrc
import os
from pathlib import Path

STEP_METRIC = "train/global_step"  # every metric is plotted against the optimizer step
WANDB_HOST = "api.wandb.ai"


def wandb_mode() -> str:
    """WANDB_MODE, else online where an API key is known (environment or ~/.netrc)."""
    chosen = os.environ.get("WANDB_MODE")
    if chosen:
        return chosen
    return "online" if os.environ.get("WANDB_API_KEY") or _netrc_has_key() else "offline"


def _netrc_has_key() -> bool:
    try:
        return netrc.netrc().authenticators(WANDB_HOST) is not None
    except (OSError, netrc.NetrcParseError):
        return False


class WandbRun:
    """One W&B run; the recipe's parameters and tags are its config."""

    name = "wandb"

    def __init__(
        self,
        project: str,
        run_name: str,
        folder: Path,
        params: dict[str, str],
        tags: dict[str, str],
    ) -> None:
        import wandb

        self.mode = wandb_mode()
        folder.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT") or project,
            name=run_name,
            dir=os.environ.get("WANDB_DIR") or str(folder),
            mode=self.mode,  # type: ignore[arg-type]
            config={**params, **tags},
            tags=[tags["smolora.recipe"]],
            reinit="create_new",
            settings=wandb.Settings(console="off", silent=True, disable_git=True),
        )
        self.run.define_metric(STEP_METRIC)
        self.run.define_metric("*", step_metric=STEP_METRIC)

    def log(self, metrics: dict[str, float], step: int) -> None:
        """Metric values at an optimizer step (in any order: the step is a metric)."""
        self.run.log({**metrics, STEP_METRIC: step})

    def finish(self, summary: dict[str, float], step: int, status: str) -> None:
        """The end results as the run's summary; the run ends with exit code 0 when it worked."""
        self.run.summary.update(summary)
        self.run.config.update({"smolora.status": status}, allow_val_change=True)
        self.run.finish(exit_code=0 if status == "ok" else 1)

    def location(self) -> dict[str, str]:
        """The run's id, and its folder (offline: `wandb sync` it) or page (online)."""
        where = {"mode": self.mode, "run_id": self.run.id}
        if self.mode == "offline":
            folder = self.run.settings.sync_dir
            return {**where, "folder": folder, "open": f"wandb sync {folder}"}
        return {**where, "url": self.run.url or ""}
