"""What a run leaves for its user: plain log lines where the output is no terminal (issue 22,
item 8), `latest` on the newest run that worked (item 10), what gc took and which field a
`--set` cleared (items 3 and 1)."""

from __future__ import annotations

from pathlib import Path

from smolora_recipes.plan.build import build_plan
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.run.executor import execute
from smolora_recipes.run.state import RunOptions
from tests.conftest import invoke
from tests.tiny_runs import write_tiny_recipe


def test_a_run_logged_to_a_file_has_no_carriage_returns(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    recipe = write_tiny_recipe(tmp_path, tiny_model_dir)
    code, out, err = invoke("run", str(recipe), "--no-cache")  # CliRunner: no terminal
    assert code == 0, err
    assert "\r" not in out + err
    assert "train: step 6/6 loss " in err and "sample: accuracy: " in err


def test_latest_stays_on_the_newest_run_that_worked(tmp_path: Path, tiny_model_dir: Path) -> None:
    recipe = write_tiny_recipe(tmp_path, tiny_model_dir)
    (tmp_path / "data/bad.jsonl").write_text('{"messages": [\n')
    code, _, err = invoke("run", str(recipe), "--set", "sft.max_steps=2")
    assert code == 0, err
    latest = tmp_path / "runs/tiny/latest"
    worked = latest.resolve()
    bad = f"data.sources.0.path={tmp_path / 'data/bad.jsonl'}"  # --set paths: from the cwd
    code, _, err = invoke("run", str(recipe), "--set", bad)
    assert code == 2, err
    runs = sorted(path for path in latest.parent.iterdir() if not path.is_symlink())
    assert len(runs) == 2 and latest.resolve() == worked == runs[0]


def test_gc_says_which_runs_lose_outputs_and_such_a_run_says_how_to_rebuild(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    recipe = write_tiny_recipe(tmp_path, tiny_model_dir)
    code, _, err = invoke("run", str(recipe), "--set", "sft.max_steps=2")
    assert code == 0, err
    run = (tmp_path / "runs/tiny/latest").resolve()
    code, out, _ = invoke("cache", "gc", "--keep-last", "0")
    assert code == 0
    lost = f" (last used by tiny/{run.name}: its run folder loses this output)"
    removed = [line for line in out.splitlines() if line.startswith("removed ")]
    assert len(removed) == 5 and all(line.endswith(lost) for line in removed)
    code, _, err = invoke("generate", str(run), "-p", "hi")
    assert code == 2
    assert (
        f"{run}: the cached outputs this run links to were removed by `smolora cache gc`: "
        "model.json, adapter, merged\n"
        "    hint: rebuild them with the command that made this run (only the removed steps run "
        f"again, from the folder it ran in): smolora run {recipe} --set sft.max_steps=2"
    ) in err


def test_the_run_log_says_which_field_a_set_cleared(tmp_path: Path, tiny_model_dir: Path) -> None:
    recipe = write_tiny_recipe(tmp_path, tiny_model_dir)  # sets sft.max_steps: 6
    loaded = load_recipe(recipe, ["sft.epochs=1"])
    lines: list[str] = []
    execute(loaded, build_plan(loaded), "test", lines.append, RunOptions(until="load"))
    assert any(line.endswith("] sft.max_steps: cleared by --set sft.epochs=1") for line in lines)
