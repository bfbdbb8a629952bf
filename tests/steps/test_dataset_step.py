"""The dataset step end to end on the tiny model: sources, mixing, length policy, preview."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from smolora_recipes.cli.main import main
from smolora_recipes.plan.build import build_plan
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.run.executor import execute
from smolora_recipes.run.state import RunOptions, RunState
from smolora_recipes.store.cache import StepCache
from tests.tiny_runs import chat_jsonl

LONG = "the quick brown fox jumps over the lazy dog. " * 6


def dataset_only(recipe: Path, *overrides: str) -> RunState:
    """Run load and dataset only, with a step cache next to the recipe."""
    loaded = load_recipe(recipe, overrides)
    options = RunOptions(cache=StepCache(recipe.parent / "cache"), until="dataset")
    return execute(loaded, build_plan(loaded), "test", lambda line: None, options)


def write_recipe(folder: Path, model: Path, data: str, sft: str = "{max_length: 64}") -> Path:
    recipe = folder / "r.yaml"
    recipe.write_text(f"name: d\nmodel: {{base: {model}}}\ndata:\n{data}\nsft: {sft}\n")
    return recipe


def test_csv_with_a_template_and_token_chunking(tmp_path: Path, tiny_model_dir: Path) -> None:
    (tmp_path / "facts.csv").write_text(f'topic,body\nfox,"{LONG}"\ndog,short one\n')
    recipe = write_recipe(
        tmp_path,
        tiny_model_dir,
        "  sources: [{type: csv, path: facts.csv}]\n"
        "  template: '{{ record.topic }}: {{ record.body }}'\n"
        "  chunking: {unit: tokens, size: 40, overlap: 8, respect: sentence}\n"
        "  eval_split: 0\n",
    )
    state = dataset_only(recipe)
    assert state.status == "ok", state.error
    data = state.results.dataset.to_json()
    assert data["chunking"]["chunked"] == 1 and data["chunking"]["chunks"] > 2
    assert data["examples"] == data["chunking"]["chunks"]
    assert data["split"] == 0 and data["train_rows"] == data["examples"]
    texts = [e["segments"][0][0] for e in data["examples_preview"]]
    assert any(text.startswith("fox: the quick brown fox") for text in texts)
    assert {s["name"] for s in data["sources"]} == {"facts.csv"}
    statuses = {record.name: record.status for record in state.records}
    assert statuses["train"] == statuses["merge"] == "not run"  # preview-style: dataset only


def test_two_sources_mixed_by_weight(tmp_path: Path, tiny_model_dir: Path) -> None:
    (tmp_path / "a.jsonl").write_text("".join(f'{{"text": "alpha {i}"}}\n' for i in range(20)))
    (tmp_path / "b.jsonl").write_text("".join(f'{{"text": "beta {i}"}}\n' for i in range(20)))
    recipe = write_recipe(
        tmp_path,
        tiny_model_dir,
        "  sources:\n"
        "    - {type: jsonl, path: a.jsonl, weight: 3}\n"
        "    - {type: jsonl, path: b.jsonl, weight: 0.5}\n"
        "  eval_split: 0.2\n",
    )
    state = dataset_only(recipe)
    assert state.status == "ok", state.error
    from datasets import load_from_disk

    train = load_from_disk(str(state.outputs["dataset"] / "train"))
    held_out = load_from_disk(str(state.outputs["dataset"] / "eval"))
    sources = list(train["source"])
    alpha, beta = sources.count(0), sources.count(1)
    held_alpha = list(held_out["source"]).count(0)
    assert alpha == 3 * (20 - held_alpha)  # every alpha example three times
    assert 0 < beta < 20 - (len(held_out) - held_alpha)  # about half the beta examples
    assert len(held_out) == 8  # eval keeps one copy of each held-out example


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("truncate", {"truncated": 1, "dropped": 0}), ("drop", {"truncated": 0, "dropped": 1})],
)
def test_length_policy_is_counted_in_the_statistics(
    tmp_path: Path, tiny_model_dir: Path, policy: str, expected: dict[str, int]
) -> None:
    (tmp_path / "c.jsonl").write_text(
        json.dumps({"prompt": "long?", "completion": LONG})  # truncated, it keeps some loss
        + "\n"
        + json.dumps({"prompt": "short?", "completion": " no"})
        + "\n"
    )
    recipe = write_recipe(
        tmp_path,
        tiny_model_dir,
        "  sources: [{type: jsonl, path: c.jsonl}]\n  format: completion\n  eval_split: 0\n",
        f"{{max_length: 32, over_length: {policy}}}",
    )
    state = dataset_only(recipe)
    assert state.status == "ok", state.error
    data = state.results.dataset.to_json()
    assert {key: data[key] for key in expected} == expected
    assert data["train_rows"] == 2 - expected["dropped"]


def test_fail_policy_names_the_example(tmp_path: Path, tiny_model_dir: Path) -> None:
    (tmp_path / "t.jsonl").write_text(json.dumps({"text": LONG}) + "\n")
    recipe = write_recipe(
        tmp_path,
        tiny_model_dir,
        "  sources: [{type: jsonl, path: t.jsonl}]\n  eval_split: 0\n",
        "{max_length: 16, over_length: fail}",
    )
    state = dataset_only(recipe)
    assert state.exit_code == 2 and state.error is not None
    assert state.error["message"].startswith("t.jsonl:1: sft.over_length: this example has")


@pytest.mark.parametrize(
    ("data", "sft", "message"),
    [
        ("format: chat", "{over_length: split}", "split would cut a chat example"),
        ("format: chat\n  streaming: true", "{epochs: 2}", "data.streaming is true"),
    ],
)
def test_cross_section_rules(
    tmp_path: Path, tiny_model_dir: Path, data: str, sft: str, message: str
) -> None:
    (tmp_path / "c.jsonl").write_text(chat_jsonl())
    recipe = write_recipe(
        tmp_path, tiny_model_dir, f"  sources: [{{type: jsonl, path: c.jsonl}}]\n  {data}\n", sft
    )
    result = CliRunner().invoke(main, ["validate", str(recipe)])
    assert result.exit_code == 2 and message in result.stderr


def test_parallel_tokenizing_gives_the_same_rows(tmp_path: Path, tiny_model_dir: Path) -> None:
    (tmp_path / "c.jsonl").write_text(chat_jsonl(repeat=4))
    recipe = write_recipe(
        tmp_path,
        tiny_model_dir,
        "  sources: [{type: jsonl, path: c.jsonl}]\n  format: chat\n",
    )
    from datasets import load_from_disk

    one = dataset_only(recipe)
    two = dataset_only(recipe, "data.num_proc=2")
    assert one.status == two.status == "ok", two.error
    rows = [
        load_from_disk(str(state.outputs["dataset"] / "train")).to_dict() for state in (one, two)
    ]
    assert rows[0] == rows[1]


def test_skipped_rows_are_reported(tmp_path: Path, tiny_model_dir: Path) -> None:
    (tmp_path / "t.jsonl").write_text('{"text": "fine"}\nbroken\n{"text": "also fine"}\n')
    recipe = write_recipe(
        tmp_path,
        tiny_model_dir,
        "  sources: [{type: jsonl, path: t.jsonl, on_error: skip}]\n  eval_split: 0\n",
    )
    state = dataset_only(recipe)
    assert state.status == "ok", state.error
    source = state.results.dataset.sources[0]
    assert source["skipped_errors"] == 1 and source["examples"] == 2
    report = (state.run_dir / "report.md").read_text()
    assert "| t.jsonl (jsonl): skipped as malformed | 1 |" in report
    assert "t.jsonl:2: data.sources.0: expected a JSON object" in report
    assert "| `data.sources` | jsonl t.jsonl (on_error: skip) |" in report


def test_preview_command_shows_masked_examples_and_stats(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "c.jsonl").write_text(chat_jsonl())
    (tmp_path / "t.jsonl").write_text(
        '{"messages": [{"role": "user", "content": "x?"}, {"role": "assistant", "content": "y"}]}\n'
    )
    recipe = write_recipe(
        tmp_path,
        tiny_model_dir,
        "  sources: [{type: jsonl, path: c.jsonl}, {type: jsonl, path: t.jsonl}]\n"
        "  format: chat\n  eval_split: 0\n",
    )
    monkeypatch.setenv("SMOLORA_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    first = runner.invoke(main, ["preview", str(recipe), "-n", "2"])
    assert first.exit_code == 0, first.output
    assert "(ran)" in first.stdout and first.stdout.count("── ") == 2
    assert "<|im_start|>assistant\n[[" in first.stdout  # the answer and only it is marked
    assert "c.jsonl (jsonl): rows read" in first.stdout
    again = runner.invoke(main, ["preview", str(recipe), "--source", "t.jsonl", "--json"])
    shown = json.loads(again.stdout)
    assert shown["outcome"].startswith("cached")
    assert [e["origin"] for e in shown["examples"]] == ["t.jsonl:1"]
    assert shown["examples"][0]["segments"][-1] == ["y<|im_end|>\n", True]
    missing = runner.invoke(main, ["preview", str(recipe), "--source", "nope.jsonl"])
    assert missing.exit_code == 2 and "no data source named 'nope.jsonl'" in missing.stderr
    assert not (tmp_path / "runs").exists()  # a preview leaves no run folder behind


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in (Path(__file__).parents[2] / "recipes").glob("*.yaml"))
)
def test_every_example_recipe_builds_its_dataset(
    name: str, tmp_path: Path, tiny_model_dir: Path
) -> None:
    recipe = Path(__file__).parents[2] / "recipes" / f"{name}.yaml"
    overrides = [f"model.base={tiny_model_dir}", f"output.dir={tmp_path}"]
    overrides.append("sft.max_length=4096")  # the tiny tokenizer spends a token per byte or so
    loaded = load_recipe(recipe, overrides)
    options = RunOptions(cache=StepCache(tmp_path / "cache"), until="dataset")
    state = execute(loaded, build_plan(loaded), "test", lambda line: None, options)
    assert state.status == "ok", state.error
    assert state.results.dataset.train_rows > 0


def test_streaming_trains_without_materialising_the_training_split(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    (tmp_path / "c.jsonl").write_text(chat_jsonl(repeat=4))
    recipe = write_recipe(
        tmp_path,
        tiny_model_dir,
        "  sources: [{type: jsonl, path: c.jsonl}]\n  format: chat\n  streaming: true\n"
        "  eval_split: 0.25\n",
        "{max_steps: 5, batch_size: 4, grad_accum: 2, max_length: 64, learning_rate: 0.05}",
    )
    loaded = load_recipe(recipe)
    state = execute(loaded, build_plan(loaded), "test", lambda line: None, RunOptions())
    assert state.status == "ok", state.error
    dataset_dir = state.run_dir / "dataset"
    assert not (dataset_dir / "train").exists() and (dataset_dir / "train_sample").is_dir()
    data = state.results.dataset.to_json()
    assert data["train_rows"] is None and data["streaming"]["examples_read"] == 12  # deduped
    assert 0 < data["eval_rows"] < 12
    train = state.results.train.to_json()
    assert train["steps"] == 5 and train["eval_loss_after"] < train["eval_loss_before"]
    from datasets import load_from_disk

    held = set(load_from_disk(str(dataset_dir / "eval"))["origin"])
    sampled = set(load_from_disk(str(dataset_dir / "train_sample"))["origin"])
    assert held and sampled and not held & sampled  # eval never streams into training
