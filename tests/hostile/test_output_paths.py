"""Where a recipe file may send its runs: below its own folder, unless the command line says."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import MINIMAL_RECIPE, TRAIN_JSONL, WriteFiles, invoke


def write_recipe(write: WriteFiles, output: str) -> Path:
    """The minimal recipe with an `output:` section."""
    recipe = MINIMAL_RECIPE + f"output: {output}\n"
    return write("proj/r.yaml", recipe, "proj/data/train.jsonl", TRAIN_JSONL)


def test_a_symlink_out_of_the_recipe_folder_is_refused(write: WriteFiles, tmp_path: Path) -> None:
    recipe = write_recipe(write, "{dir: runs}")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "proj/runs").symlink_to(tmp_path / "elsewhere")
    code, _, err = invoke("validate", str(recipe))
    assert code == 2 and "output.dir: 'runs' leads out of the recipe's folder" in err


def test_the_recipe_folder_itself_and_below_are_allowed(write: WriteFiles, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    for output in (f"{{dir: {proj}}}", f"{{dir: {proj / 'a/b'}}}", "{cache_dir: c/d}"):
        assert invoke("validate", str(write_recipe(write, output)))[0] == 0, output


def test_the_command_line_may_send_runs_anywhere(write: WriteFiles, tmp_path: Path) -> None:
    recipe = write_recipe(write, "{dir: ../elsewhere}")
    assert invoke("validate", str(recipe))[0] == 2
    code, _, err = invoke("validate", str(recipe), "--set", "output.dir=../elsewhere")
    assert code == 0, err
    assert (
        invoke("validate", str(recipe), "--set", "output={dir: /tmp/x, cache_dir: /tmp/c}")[0] == 0
    )
