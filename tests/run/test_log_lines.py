"""A run whose output goes to a file or CI log writes plain lines: progress bars are for a
terminal only (issue 22, item 8)."""

from __future__ import annotations

from pathlib import Path

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
