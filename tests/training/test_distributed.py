"""The train step on two CPU processes (gloo), and what a recipe's `distributed` section does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smolora_recipes.plan.build import build_plan
from smolora_recipes.plan.environment_check import Machine, environment_problems
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.recipe.training_sections import DistributedSection
from smolora_recipes.training.launch import launcher_command
from tests.tiny_runs import run_recipe, write_tiny_recipe

TWO = "distributed.num_processes=2"


@pytest.fixture
def recipe(tmp_path: Path, tiny_model_dir: Path) -> Path:
    return write_tiny_recipe(tmp_path, tiny_model_dir)


def test_two_processes_split_the_batch_and_save_the_adapter_once(recipe: Path) -> None:
    state = run_recipe(recipe, TWO)
    assert state.status == "ok", state.error
    train = state.results.train.to_json()
    assert train["world_size"] == 2
    assert train["steps"] == 6
    assert train["sequences_per_update"] == 4 * 2 * 2  # batch 4 x accumulation 2 x 2 processes
    assert train["rows_per_process"] == [6 * 4 * 2, 6 * 4 * 2]  # each process half of each update
    assert train["eval_loss_after"] < train["eval_loss_before"]
    assert state.results.merge.verified is True
    assert state.results.merge.adapter_source == "disk"  # the workers' model is theirs
    logged = [json.loads(line) for line in (state.run_dir / "train_log.jsonl").open()]
    assert [(entry["step"], "loss" in entry) for entry in logged] == [
        (0, False),  # the eval loss before training
        *((step, True) for step in (2, 4, 6)),
        (6, False),  # and after; all written by rank 0 alone
    ]
    run_log = (state.run_dir / "run.log").read_text()
    assert run_log.count("step 2/6 loss") == 1  # relayed from rank 0 only
    assert "training on 2 processes" in run_log
    report = json.loads((state.run_dir / "report.json").read_text())
    assert report["train"]["world_size"] == 2


def test_a_failing_rank_fails_the_step_with_that_ranks_error(
    recipe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(  # runs at start-up in every worker process
        "import os\n"
        "if os.environ.get('RANK') == '1':\n"
        "    import smolora_recipes.training.trainer as train_step\n"
        "    def broken(ctx):\n"
        "        raise RuntimeError('disk on fire (injected on rank 1)')\n"
        "    train_step.train = broken\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(hook))
    state = run_recipe(recipe, TWO)
    assert state.status == "failed" and state.exit_code == 1
    assert state.error is not None and state.error["step"] == "train"
    assert state.error["type"] == "WorkerError"
    assert "rank 1 failed: RuntimeError: disk on fire" in state.error["message"]
    assert not (state.run_dir / "adapter").exists()


def test_process_count_is_in_the_train_fingerprint_and_the_plan_says_why(recipe: Path) -> None:
    one, two = build_plan(load_recipe(recipe)), build_plan(load_recipe(recipe, [TWO]))
    assert one.step("dataset").fingerprint == two.step("dataset").fingerprint
    assert one.step("train").fingerprint != two.step("train").fingerprint
    moved = build_plan(load_recipe(recipe, [TWO, "distributed.main_process_port=29999"]))
    assert moved.step("train").fingerprint == two.step("train").fingerprint  # where, not what
    assert "4 per device step x 2 accumulated x 2 processes = 16 sequences" in two.to_text()

    from smolora_recipes.plan.diff import explain

    assert "distributed.num_processes changed 1 -> 2" in explain(
        one.step("train"), two.step("train")
    )


def test_launch_commands_for_cpu_and_cuda(tmp_path: Path) -> None:
    spec = tmp_path / "launch.json"
    cpu = launcher_command(
        DistributedSection(
            num_processes=4, num_machines=2, machine_rank=1, main_process_ip="10.0.0.1"
        ),
        "cpu",
        spec,
    )
    assert cpu[1:3] == ["-m", "torch.distributed.run"]
    assert cpu[cpu.index("--nproc_per_node") + 1] == "2"
    assert cpu[cpu.index("--node_rank") + 1] == "1"
    assert cpu[cpu.index("--master_addr") + 1] == "10.0.0.1"
    assert cpu[cpu.index("--master_port") + 1] == "29500"
    assert cpu[-3:] == ["-m", "smolora_recipes.training.worker", str(spec)]
    config = tmp_path / "fsdp.yaml"
    config.write_text("distributed_type: FSDP\n")
    gpu = launcher_command(
        DistributedSection(num_processes=8, strategy="fsdp", accelerate_config=config), "cuda", spec
    )
    assert gpu[1:3] == ["-m", "accelerate.commands.launch"]
    assert "--use_fsdp" in gpu and gpu[gpu.index("--config_file") + 1] == str(config)
    assert gpu[gpu.index("--num_processes") + 1] == "8"


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        (["distributed.strategy=fsdp"], "distributed.strategy", "no CUDA GPU|has none"),
        (["model.quantization={bits: 4}"], "model.quantization", "CUDA"),
        (["sft.optim=paged_adamw_8bit"], "sft.optim", "bitsandbytes"),
        (["model.device=cuda"], "model.device", "no CUDA GPU"),
    ],
)
def test_what_this_machine_lacks_is_named_before_running(
    recipe: Path, overrides: list[str], field: str, words: str
) -> None:
    import re

    cpu_only = Machine(cuda_devices=0, has_module=lambda name: False)
    problems = environment_problems(load_recipe(recipe, overrides), cpu_only)
    assert problems and all(problem.field == field for problem in problems)
    assert any(re.search(words, problem.message) for problem in problems)
    assert problems[0].location is not None  # the --set that asked for it
    assert environment_problems(load_recipe(recipe), cpu_only) == []


@pytest.mark.no_gpu
def test_the_plan_command_refuses_a_qlora_recipe_on_a_machine_without_cuda(recipe: Path) -> None:
    from click.testing import CliRunner

    from smolora_recipes.cli.main import main

    result = CliRunner().invoke(
        main, ["plan", str(recipe), "--set", "model.quantization={bits: 4}"]
    )
    assert result.exit_code == 2
    assert "model.quantization" in result.output and "Traceback" not in result.output


def test_sections_that_cannot_fit_together_are_refused() -> None:
    with pytest.raises(ValueError, match="do not split evenly"):
        DistributedSection(num_processes=3, num_machines=2, main_process_ip="h")
    with pytest.raises(ValueError, match="not below num_machines"):
        DistributedSection(num_processes=2, num_machines=2, machine_rank=2, main_process_ip="h")
    with pytest.raises(ValueError, match="address of rank 0"):
        DistributedSection(num_processes=2, num_machines=2)


@pytest.mark.parametrize(
    ("name", "kind"), [("ddp", "MULTI_GPU"), ("fsdp", "FSDP"), ("deepspeed", "DEEPSPEED")]
)
def test_the_documented_accelerate_configs_load(name: str, kind: str) -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    docs = Path(__file__).resolve().parents[2] / "docs" / "accelerate"
    config = load_config_from_file(str(docs / f"{name}.yaml"))
    assert config.distributed_type.name == kind


def _cuda_with_bitsandbytes() -> bool:
    import importlib.util

    import torch

    return torch.cuda.is_available() and importlib.util.find_spec("bitsandbytes") is not None


@pytest.mark.gpu
@pytest.mark.skipif(
    not _cuda_with_bitsandbytes(), reason="QLoRA needs a CUDA GPU and bitsandbytes (none here)"
)
def test_qlora_trains_and_merges_into_the_full_precision_base(recipe: Path) -> None:
    state = run_recipe(recipe, "model.quantization={bits: 4}", "sft.optim=paged_adamw_8bit")
    assert state.status == "ok", state.error
    assert state.results.merge.verified is True
    assert state.results.merge.adapter_source == "disk"  # not the 4-bit model in memory


def test_two_machines_on_loopback_train_together_and_only_machine_0_finishes_the_recipe(
    recipe: Path,
) -> None:
    import subprocess
    import sys

    from smolora_recipes.training.launch import free_port

    machines = [
        "distributed.num_processes=2",
        "distributed.num_machines=2",
        "distributed.main_process_ip=127.0.0.1",
        f"distributed.main_process_port={free_port()}",
    ]
    command = [sys.executable, "-m", "smolora_recipes", "run", str(recipe)]
    for item in [*machines, "distributed.machine_rank=1"]:
        command += ["--set", item]
    helper = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    state = run_recipe(recipe, *machines)  # machine 0, in this process
    output, _ = helper.communicate(timeout=300)
    assert state.status == "ok", state.error
    assert helper.returncode == 0, output
    assert state.results.train.world_size == 2
    assert state.results.train.rows_per_process == [48, 48]
    assert state.results.merge.verified is True
    assert "status: ok" in output and "accuracy" not in output  # machine 1 stops after train
