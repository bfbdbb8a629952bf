"""`sft.report_to`: the run's parameters, curves, eval scores and tags read back with each
tracker's own reader (TensorBoard's event accumulator, MLflow's client, the offline W&B run
file parsed with W&B's record schema), and a cached run logging the same curves again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smolora_recipes.plan.build import build_plan
from smolora_recipes.plan.environment_check import Machine, environment_problems
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.run.executor import execute
from smolora_recipes.run.state import RunOptions, RunState
from smolora_recipes.store.cache import StepCache
from smolora_recipes.tracking.session import TrackingSession
from tests.tiny_runs import write_task, write_tiny_recipe

EVAL = "eval:\n  tasks: [tasks/facts.yaml]\n  batch_size: 4\n"
SFT = (
    "sft: {max_steps: 6, learning_rate: 5e-2, batch_size: 4, max_length: 64, logging_steps: 2, "
    "eval_steps: 2, report_to: [tensorboard, mlflow, wandb]}\n"
)


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> RunState:
    """One run of the tiny recipe logged to all three trackers (W&B offline: no login)."""
    folder = tmp_path_factory.mktemp("tracked")
    write_task(folder)
    recipe = write_tiny_recipe(folder, tiny_model_dir, eval=EVAL, sft=SFT)
    with pytest.MonkeyPatch.context() as patch:
        for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_DIR", "WANDB_PROJECT"):
            patch.delenv(name, raising=False)
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME"):
            patch.delenv(name, raising=False)
        patch.setenv("NETRC", str(folder / "no-netrc"))
        state = run(recipe)
    assert state.status == "ok", state.error
    return state


def run(recipe: Path, *overrides: str) -> RunState:
    loaded = load_recipe(recipe, overrides)
    cache = StepCache(recipe.parent / "cache")
    return execute(loaded, build_plan(loaded), "test", lambda line: None, RunOptions(cache=cache))


def report(state: RunState) -> dict[str, Any]:
    return json.loads((state.run_dir / "report.json").read_text())


def where(state: RunState, tracker: str) -> dict[str, str]:
    (found,) = [entry for entry in report(state)["tracking"] if entry["tracker"] == tracker]
    return found


def curve(state: RunState, key: str) -> list[tuple[int, float]]:
    train = state.results.train
    entries = train.loss_history if key == "loss" else train.eval_history
    return [(entry["step"], entry[key]) for entry in entries]


def assert_curve(logged: list[tuple[int, float]], expected: list[tuple[int, float]]) -> None:
    assert [step for step, _ in logged] == [step for step, _ in expected]
    assert [value for _, value in logged] == pytest.approx([value for _, value in expected])


def tuned_acc(state: RunState) -> float:
    (score,) = state.results.eval.scores
    return score.tuned


def test_tensorboard_holds_the_curves_and_the_scores(tracked: RunState) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder = Path(where(tracked, "tensorboard")["folder"])
    assert folder == tracked.run_dir / "tensorboard"
    events = EventAccumulator(str(folder))
    events.Reload()

    def scalars(name: str) -> list[tuple[int, float]]:
        return [(event.step, event.value) for event in events.Scalars(name)]

    assert_curve(scalars("train/loss"), curve(tracked, "loss"))
    assert [step for step, _ in scalars("eval/loss")] == [0, 2, 4, 6]
    assert_curve(scalars("eval/loss"), curve(tracked, "eval_loss"))
    ((_, acc),) = scalars("lm_eval/tiny_facts/acc/tuned")
    assert acc == pytest.approx(tuned_acc(tracked))
    ((_, accuracy),) = scalars("samples/tuned_accuracy")
    assert accuracy == pytest.approx(tracked.results.sample.tuned_accuracy)
    (params,) = events.Tensors("params/text_summary")  # the recipe, as TensorBoard's text
    assert "| sft.learning_rate | 0.05 |" in params.tensor_proto.string_val[0].decode()


def test_mlflow_run_has_params_curves_scores_and_tags(tracked: RunState) -> None:
    from mlflow.tracking import MlflowClient

    logged = where(tracked, "mlflow")
    assert logged["uri"] == f"sqlite:///{tracked.run_dir.parent / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=logged["uri"])
    run = client.get_run(logged["run_id"])
    assert run.info.status == "FINISHED"
    assert run.info.run_name == tracked.run_dir.name
    assert client.get_experiment(run.info.experiment_id).name == "tiny"

    def history(name: str) -> list[tuple[int, float]]:
        return [
            (point.step, point.value) for point in client.get_metric_history(run.info.run_id, name)
        ]

    assert_curve(sorted(history("train/loss")), curve(tracked, "loss"))
    assert_curve(sorted(history("eval/loss")), curve(tracked, "eval_loss"))
    assert run.data.metrics["lm_eval/tiny_facts/acc/tuned"] == pytest.approx(tuned_acc(tracked))
    live = max(
        point.timestamp for point in client.get_metric_history(run.info.run_id, "train/loss")
    )
    (score,) = client.get_metric_history(run.info.run_id, "lm_eval/tiny_facts/acc/tuned")
    assert live < score.timestamp - 200, "the loss was logged as training ran, not at the end"
    assert run.data.params["sft.learning_rate"] == "0.05"
    assert run.data.params["data.sources.0.path"] == "data/train.jsonl"
    plan = {record.name: record.fingerprint for record in tracked.records}
    assert run.data.tags["smolora.fingerprint.train"] == plan["train"]
    assert run.data.tags["smolora.recipe"] == "tiny"
    assert run.data.tags["smolora.status"] == "ok"


def wandb_records(path: Path) -> list[Any]:
    """The records of an offline W&B run file: LevelDB-log framing (32 KiB blocks of records
    with a 7-byte header each: checksum, length, kind), each record W&B's own protobuf."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    block, position, pending, records = 32768, 7, b"", []
    while position + 7 <= len(data):
        left = block - position % block
        length, kind = (
            int.from_bytes(data[position + 4 : position + 6], "little"),
            data[position + 6],
        )
        if left < 7 or kind == 0:  # the rest of a block is padding
            position += left
            continue
        pending += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a whole record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def values(items: Any) -> dict[str, Any]:
    """W&B's key/value items as a mapping (a key with a slash is kept as its parts)."""
    return {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in items}


def test_wandb_offline_run_has_params_curves_and_scores(tracked: RunState) -> None:
    logged = where(tracked, "wandb")
    assert logged["mode"] == "offline"
    folder = Path(logged["folder"])
    assert folder.parent == tracked.run_dir / "wandb" / "wandb"
    (run_file,) = folder.glob("run-*.wandb")
    history, summary, config = [], {}, {}
    for record in wandb_records(run_file):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            history.append(values(record.history.item))
        elif kind == "summary":
            summary.update(values(record.summary.update))
        elif kind == "run":
            config.update(values(record.run.config.update))
    losses = [
        (row["train/global_step"], row["train/loss"]) for row in history if "train/loss" in row
    ]
    assert_curve(losses, curve(tracked, "loss"))
    assert summary["lm_eval/tiny_facts/acc/tuned"] == pytest.approx(tuned_acc(tracked))
    assert config["sft.learning_rate"] == "0.05"
    assert config["smolora.recipe"] == "tiny"


def test_report_names_where_the_run_was_logged(tracked: RunState) -> None:
    markdown = (tracked.run_dir / "report.md").read_text()
    assert "## Tracking" in markdown
    assert where(tracked, "mlflow")["run_id"] in markdown
    assert str(tracked.run_dir / "tensorboard") in markdown


def test_a_cached_run_logs_the_whole_curve_again(tracked: RunState) -> None:
    from mlflow.tracking import MlflowClient

    recipe = tracked.loaded.file
    again = run(recipe, "sft.report_to=[mlflow]")
    assert again.status == "ok", again.error
    computed = [record for record in again.records if record.status == "ok"][:-1]  # not report
    assert {record.outcome.split(" ")[0] for record in computed} == {"cached"}, (
        "report_to is no part of a fingerprint"
    )
    logged = where(again, "mlflow")
    client = MlflowClient(tracking_uri=logged["uri"])
    points = client.get_metric_history(logged["run_id"], "train/loss")
    assert_curve(sorted((point.step, point.value) for point in points), curve(tracked, "loss"))


def test_a_tracker_that_cannot_start_is_a_warning(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "nosuchscheme://nowhere")
    recipe = write_tiny_recipe(tmp_path, tiny_model_dir)
    state = run(recipe, "sft.report_to=[mlflow]", "sft.max_steps=2")
    assert state.status == "ok", state.error
    assert any(warning.startswith("mlflow: not logged:") for warning in state.warnings)
    assert "mlflow: not logged" in (state.run_dir / "report.md").read_text()


class Recorder:
    """A tracker run that remembers what it was sent."""

    name = "recorder"

    def __init__(self) -> None:
        self.points: list[tuple[int, dict[str, float]]] = []
        self.finished: tuple[dict[str, float], int, str] | None = None

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.points.append((step, metrics))

    def finish(self, summary: dict[str, float], step: int, status: str) -> None:
        self.finished = (summary, step, status)

    def location(self) -> dict[str, str]:
        return {}


def test_curve_points_sent_live_are_not_sent_again() -> None:
    session = TrackingSession(warn=lambda message: None)
    recorder = Recorder()
    session.runs.append(recorder)
    session.curve({"step": 4, "loss": 1.5, "learning_rate": 0.1, "epoch": 1.0})
    report = {
        "status": "failed",
        "train": {
            "steps": 4,
            "loss_history": [
                {"step": 2, "loss": 2.0, "learning_rate": 0.2, "epoch": 0.5},  # before a resume
                {"step": 4, "loss": 1.5, "learning_rate": 0.1, "epoch": 1.0},
            ],
            "eval_history": [{"step": 4, "eval_loss": 1.7}],
            "final_train_loss": 1.5,
        },
        "eval": None,
        "samples": {"base_accuracy": 0.0, "tuned_accuracy": 0.5},
    }
    session.finish(report)
    assert [step for step, _ in recorder.points] == [4, 2, 4]
    assert recorder.points[2][1] == {"eval/loss": 1.7}
    summary, step, status = recorder.finished  # type: ignore[misc]
    assert (step, status) == (4, "failed")
    assert summary == {
        "train/final_loss": 1.5,
        "samples/base_accuracy": 0.0,
        "samples/tuned_accuracy": 0.5,
    }


@pytest.mark.parametrize(
    ("tracker", "module"),
    [("tensorboard", "tensorboard"), ("mlflow", "alembic"), ("wandb", "wandb")],
)
def test_plan_refuses_a_tracker_that_is_not_installed(
    minimal: Path, tracker: str, module: str
) -> None:
    loaded = load_recipe(minimal, (f"sft.report_to=[{tracker}]",), env={})
    machine = Machine(cuda_devices=0, has_module=lambda name: name != module)
    (problem,) = environment_problems(loaded, machine)
    assert problem.field == "sft.report_to"
    assert f"lacks {module}" in problem.message
    assert "smolora-recipes[track]" in problem.hint
