"""One process of a distributed training run, started by the train step's launcher.

    python -m smolora_recipes.train_worker LAUNCH.json

LAUNCH.json (written by `distributed_launch`) holds the validated recipe and the paths of the
step. Every process trains (accelerate's Trainer shares the work); rank 0 logs through its
standard output, which the launching process relays, and writes the step's metrics. A process
that fails writes its error to `errors/rank-N.json` so the step reports that rank's error.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

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
        from smolora_recipes.plan import STEP_SPEC_BY_NAME
        from smolora_recipes.runtime import import_libraries, quiet_libraries
        from smolora_recipes.steps.train import train

        import_libraries(STEP_SPEC_BY_NAME["train"].libraries)  # as the executor does: then
        quiet_libraries()  # their progress bars and chatter can be silenced
        metrics = train(_context(launch, rank))
        if rank == 0:
            (folder / RESULT).write_text(json.dumps(metrics, default=str), encoding="utf-8")
        return 0
    except BaseException as error:  # recorded for the launcher, which reports the first one
        _record_error(folder, rank, error)
        return 130 if isinstance(error, KeyboardInterrupt) else getattr(error, "exit_code", 1)


def _context(launch: dict[str, Any], rank: int) -> Any:
    """The train step's context, rebuilt in this process from the launch file."""
    from smolora_recipes.recipe.loader import LoadedRecipe
    from smolora_recipes.recipe.schema import Recipe
    from smolora_recipes.steps.context import StepContext

    loaded = LoadedRecipe(Recipe.model_validate(launch["recipe"]), Path(launch["recipe_file"]), {})
    return StepContext(
        loaded=loaded,
        run_dir=Path(launch["run_dir"]),
        output=Path(launch["output"]),
        side_dir=Path(launch["side_dir"]),
        scratch=Path(launch["scratch"]),
        outputs={name: Path(path) for name, path in launch["outputs"].items()},
        metrics={},
        log=(lambda message: print(LOG_PREFIX + message, flush=True))
        if rank == 0
        else (lambda message: None),
    )


def _use_local_gpu() -> None:
    """On GPUs, make `cuda` mean this process's own device before anything is loaded there."""
    if "LOCAL_RANK" not in os.environ:
        return
    import torch

    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))


def _record_error(folder: Path, rank: int, error: BaseException) -> None:
    from smolora_recipes.errors import UserInputError, error_text

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
