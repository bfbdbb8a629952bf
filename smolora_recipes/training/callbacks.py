"""Trainer callbacks: progress logging, and stopping cleanly on request.

Imported only when training runs: transformers takes seconds to import.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from smolora_recipes.training.finite import check_eval_loss


class StopOnInterrupt(TrainerCallback):
    """On the first Ctrl-C: save a checkpoint at the end of the current step, then stop."""

    def __init__(self) -> None:
        self.requested = False

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        """Once an interrupt was requested: save a checkpoint and stop."""
        if self.requested:
            control.should_save = True
            control.should_training_stop = True
        return control


class TrainProgress(TrainerCallback):
    """Logs loss with timestamps, appends train_log.jsonl, and shows a progress bar on a
    terminal.

    Resuming from step N keeps the log's entries up to N (later ones are trained again), so
    the loss history of a resumed run is the whole curve.
    """

    def __init__(
        self,
        log: Callable[[str], None],
        log_path: Path | None,
        resumed_step: int,
        show_bar: bool = True,
        listener: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.log = log
        self.listener = listener  # told each new entry (an experiment tracker, live)
        self.log_path = log_path  # None in the processes of a distributed run other than rank 0
        self.show_bar = show_bar
        kept = _log_entries(log_path, up_to=resumed_step) if log_path and resumed_step else []
        if log_path is not None:
            log_path.write_text("".join(json.dumps(entry) + "\n" for entry in kept))
        entries = [{key: value for key, value in entry.items() if key != "time"} for entry in kept]
        self.losses: list[dict[str, float]] = [entry for entry in entries if "loss" in entry]
        self.evals: list[dict[str, float]] = [entry for entry in entries if "eval_loss" in entry]
        self.bar: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Open the progress bar (in the process that writes the train log, when shown)."""
        if not (self.show_bar and self.log_path is not None):
            return
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=state.max_steps,
            initial=state.global_step,
            desc="train",
            unit="step",
            leave=False,
            disable=None,  # no bar where stderr is no terminal: a log file gets no `\r` lines
        )

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Advance the progress bar."""
        if self.bar is not None:
            self.bar.update(1)

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        """Record a logged training or eval loss: in its history, train_log.jsonl and the log
        (an eval loss measured during training that is not finite fails it)."""
        if not logs or self.log_path is None:
            return
        if "eval_loss" in logs:
            self._record_eval(state, float(logs["eval_loss"]))
        if "loss" not in logs:
            return
        entry = {
            "step": state.global_step,
            "loss": round(float(logs["loss"]), 5),
            "learning_rate": float(logs.get("learning_rate", 0.0)),
            "epoch": round(float(logs.get("epoch", 0.0)), 4),
        }
        self.losses.append(entry)
        self._append(entry)
        message = (
            f"step {state.global_step}/{state.max_steps} loss {entry['loss']:.4f} "
            f"lr {entry['learning_rate']:.2e}"
        )
        if self.bar is not None:
            self.bar.set_postfix_str(f"loss {entry['loss']:.4f}")
            self.bar.clear()
        self.log(message)

    def _record_eval(self, state: Any, loss: float) -> None:
        """An eval loss: kept once per step (measured again at a step, the weights are the
        same), and logged when measured during training (the trainer logs the ones before and
        after training itself)."""
        step = state.global_step
        if any(entry["step"] == step for entry in self.evals):
            return
        self.evals.append({"step": step, "eval_loss": round(loss, 5)})
        self._append(self.evals[-1])
        if 0 < step < state.max_steps:
            check_eval_loss(loss, "during", step)
            self.log(f"step {step}/{state.max_steps} eval loss {loss:.4f}")

    def _append(self, entry: dict[str, float]) -> None:
        """Add a timestamped entry to train_log.jsonl."""
        assert self.log_path is not None
        if self.listener is not None:
            self.listener(entry)
        stamped = {"time": datetime.now(UTC).isoformat(timespec="seconds"), **entry}
        with self.log_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(stamped) + "\n")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Close the progress bar."""
        if self.bar is not None:
            self.bar.close()


class RowCounter:
    """A data collator wrapper counting the rows this process trains on."""

    def __init__(self, collator: Any) -> None:
        self.collator = collator
        self.rows = 0

    def __call__(self, examples: list[Any]) -> Any:
        self.rows += len(examples)
        return self.collator(examples)

    def gathered(self, accelerator: Any) -> list[int]:
        """Every process's count, in rank order (a collective: all processes must call it)."""
        import torch

        counts = accelerator.gather(torch.tensor([self.rows], device=accelerator.device))
        return [int(count) for count in counts.tolist()]


def _log_entries(path: Path, up_to: int) -> list[dict[str, Any]]:
    """The train log's entries at or before step `up_to` (a torn last line is dropped)."""
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("step", up_to + 1) <= up_to:
            entries.append(entry)
    return entries
