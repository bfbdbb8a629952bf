"""Training on several processes: launch the workers, relay rank 0's log, report failures.

On CUDA the workers are started by `accelerate launch` (DDP, FSDP or DeepSpeed, with an
optional accelerate config file). On CPU, where accelerate's own launcher needs MPI, they are
started by torch's elastic launcher (`torch.distributed.run`); inside each worker the Trainer
runs on accelerate with the gloo backend either way. Each machine starts its own share of the
processes; the cores of a CPU machine are split between them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from smolora_recipes.core.errors import Problem, SmoloraError, UserInputError
from smolora_recipes.recipe.training_sections import DistributedSection
from smolora_recipes.training.job import TrainingJob
from smolora_recipes.training.result import TrainResult
from smolora_recipes.training.worker import ERRORS, LOG_PREFIX, RESULT

WORKER_MODULE = "smolora_recipes.training.worker"
DEFAULT_PORT = 29500  # torch's and accelerate's default rendezvous port
WORKERS_LOG = "workers.log"
STOP_GRACE_S = 120  # after Ctrl-C, time the workers get to save a checkpoint and stop


class WorkerError(SmoloraError):
    """A training process of a distributed run failed."""


def train_on_workers(job: TrainingJob) -> TrainResult:
    """Train on `distributed.num_processes` workers; rank 0's result."""
    dist = job.recipe.distributed
    folder = job.scratch / "launch"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in (folder / RESULT, *(folder / ERRORS).glob("*.json")):
        stale.unlink(missing_ok=True)
    launch_file = folder / "launch.json"
    launch_file.write_text(json.dumps({**job.to_json(), "folder": str(folder)}), encoding="utf-8")
    device = job.runtime.device
    command = launcher_command(dist, device, launch_file)
    job.log(
        f"training on {dist.num_processes} processes ({dist.processes_per_machine} here, "
        f"{dist.strategy}, {device}); worker output: {folder / WORKERS_LOG}"
    )
    returncode = _run_relaying(command, worker_env(dist, device), folder / WORKERS_LOG, job.log)
    if returncode != 0:
        raise _failure(folder, returncode)
    if dist.machine_rank > 0:
        return TrainResult(world_size=dist.num_processes, machine_rank=dist.machine_rank)
    return TrainResult.from_json(json.loads((folder / RESULT).read_text(encoding="utf-8")))


def launcher_command(dist: DistributedSection, device: str, launch_file: Path) -> list[str]:
    """The command that starts this machine's workers."""
    address = dist.main_process_ip or "127.0.0.1"
    port = dist.main_process_port or (free_port() if dist.num_machines == 1 else DEFAULT_PORT)
    worker = ["-m", WORKER_MODULE, str(launch_file)]
    if device == "cuda":
        command = [sys.executable, "-m", "accelerate.commands.launch"]
        command += ["--num_processes", str(dist.num_processes)]
        command += ["--num_machines", str(dist.num_machines)]
        command += ["--machine_rank", str(dist.machine_rank)]
        command += ["--main_process_ip", address, "--main_process_port", str(port)]
        command += {
            "ddp": ["--multi_gpu"],
            "fsdp": ["--use_fsdp"],
            "deepspeed": ["--use_deepspeed"],
        }[dist.strategy]
        if dist.accelerate_config is not None:
            command += ["--config_file", str(dist.accelerate_config)]
        return [*command, *worker]
    command = [sys.executable, "-m", "torch.distributed.run"]
    command += ["--nnodes", str(dist.num_machines), "--node_rank", str(dist.machine_rank)]
    command += ["--nproc_per_node", str(dist.processes_per_machine)]
    command += ["--master_addr", address, "--master_port", str(port)]
    return [*command, *worker]


def worker_env(dist: DistributedSection, device: str) -> dict[str, str]:
    """The workers' environment: unbuffered output, and on CPU the cores split between them."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if device == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        env["OMP_NUM_THREADS"] = str(max(1, (cores or 1) // dist.processes_per_machine))
    return env


def free_port() -> int:
    """A TCP port free on this machine now (for a one-machine run's rendezvous)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run_relaying(
    command: list[str], env: dict[str, str], log_file: Path, log: Callable[[str], None]
) -> int:
    """Run the launcher; rank 0's log lines go to the run log, everything to `log_file`."""
    with (
        log_file.open("w", encoding="utf-8") as sink,
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            errors="replace",
        ) as child,
    ):
        try:
            assert child.stdout is not None
            for line in child.stdout:
                sink.write(line)
                sink.flush()
                if line.startswith(LOG_PREFIX):
                    log(line[len(LOG_PREFIX) :].rstrip("\n"))
            return child.wait()
        except KeyboardInterrupt:  # the workers got the same Ctrl-C: let them checkpoint
            try:
                child.wait(timeout=STOP_GRACE_S)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):  # or a second Ctrl-C
                child.terminate()
            raise


def _failure(folder: Path, returncode: int) -> Exception:
    """The error of the rank that failed first, or the launcher's own failure."""
    records = [
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((folder / ERRORS).glob("rank-*.json"))
    ]
    log = folder / WORKERS_LOG
    if not records:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])
        return WorkerError(
            f"the distributed launcher failed (exit {returncode}) before any worker reported an "
            f"error; the last lines of {log}:\n{tail}"
        )
    first = min(records, key=lambda record: record["time"])
    if first["type"] == "KeyboardInterrupt":
        return KeyboardInterrupt()
    if first["user_input"]:
        return UserInputError(Problem(f"rank {first['rank']}: {first['message']}"))
    details = folder / ERRORS / f"rank-{first['rank']}.json"
    return WorkerError(
        f"rank {first['rank']} failed: {first['type']}: {first['message']} "
        f"(traceback in {details}; all output in {log})"
    )
