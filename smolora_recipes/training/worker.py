"""One process of a distributed training run, started by `launch`.

    python -m smolora_recipes.training.worker LAUNCH.json

LAUNCH.json (written by `launch`) holds the training job: the validated recipe and its paths.
Every process trains (accelerate's Trainer shares the work); rank 0 logs through its standard
output, which the launching process relays, and writes the result. A process
that fails writes its error to `errors/rank-N.json` so the step reports that rank's error.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

LOG_PREFIX = "[smolora] "  # lines rank 0 writes for the run log; the rest goes to workers.log
RESULT = "result.json"
ERRORS = "errors"


def main(argv: list[str] | None = None) -> int:
    """Train as one rank of the run described by the launch file; the process exit code."""
    launch = json.loads(Path((argv or sys.argv[1:])[0]).read_text(encoding="utf-8"))
    rank = int(os.environ.get("RANK", "0"))
    folder = Path(launch["folder"])
    try:
        _use_local_gpu()
        from smolora_recipes.models.runtime import import_libraries, quiet_libraries

        import_libraries(tuple(launch["libraries"]))  # as the executor does: then
        quiet_libraries()  # their progress bars and chatter can be silenced
        from smolora_recipes.training.job import TrainingJob
        from smolora_recipes.training.trainer import train

        log = _rank_zero_log if rank == 0 else _silent
        trained = train(TrainingJob.from_json(launch, log))
        if rank == 0:
            (folder / RESULT).write_text(json.dumps(trained.result.to_json()), encoding="utf-8")
        _leave_process_group()
        return 0
    except BaseException as error:  # recorded for the launcher, which reports the first one
        _record_error(folder, rank, error)
        return 130 if isinstance(error, KeyboardInterrupt) else getattr(error, "exit_code", 1)


def _rank_zero_log(message: str) -> None:
    """Rank 0's log lines, marked for the launching process to relay to the run log."""
    print(LOG_PREFIX + message, flush=True)


def _silent(message: str) -> None:
    """The other ranks' log: nothing (rank 0 speaks for the run)."""


def _leave_process_group() -> None:
    """Wait for every rank, then close the process group before the interpreter exits.

    A rank that exits while the group is open can abort in the C++ teardown ("terminate called
    without an active exception", SIGABRT), which fails a run whose training succeeded.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _use_local_gpu() -> None:
    """On GPUs, make `cuda` mean this process's own device before anything is loaded there."""
    if "LOCAL_RANK" not in os.environ:
        return
    import torch

    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))


def _record_error(folder: Path, rank: int, error: BaseException) -> None:
    from smolora_recipes.core.errors import UserInputError, error_text

    errors = folder / ERRORS
    errors.mkdir(parents=True, exist_ok=True)
    record = {
        "rank": rank,
        "time": time.time(),
        "type": type(error).__name__,
        "message": error_text(error),
        "user_input": isinstance(error, UserInputError),
        "traceback": traceback.format_exc(),
    }
    (errors / f"rank-{rank}.json").write_text(json.dumps(record), encoding="utf-8")
    print(f"rank {rank} failed: {record['type']}: {record['message']}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
