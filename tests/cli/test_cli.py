"""The command line through click's CliRunner: exit codes, output, files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from smolora_recipes.cli.main import main
from tests.conftest import REPO_ROOT, invoke

pytestmark = pytest.mark.usefixtures("in_tmp_dir")


def test_every_command_has_help() -> None:
    for name, command in main.commands.items():
        assert command.help, f"command {name} has no help text"
        code, out, _ = invoke(name, "--help")
        assert code == 0 and "Usage:" in out


def test_main_help_lists_every_command() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    listing = out.split("Commands:\n", 1)[1].splitlines()
    listed = {line.split()[0] for line in listing if line.startswith("  ") and line.strip()}
    assert listed == set(main.commands)
    assert len(listed) >= 14


def test_validate_ok_and_failure_exit_codes(minimal: Path, write) -> None:
    code, out, _ = invoke("validate", str(minimal))
    assert code == 0 and "ok" in out
    bad = write("bad.yaml", "lora:\n  rank: 3\n")
    code, _, err = invoke("validate", str(minimal), str(bad))
    assert code == 2
    assert "FAIL" in err and "bad.yaml:1:1: data: required field is missing" in err
    assert "bad.yaml:2:3: lora.rank: unknown field; did you mean 'lora.r'?" in err
    assert "Traceback" not in err


def test_yaml_python_tag_exits_2_without_traceback(write) -> None:
    bad = write("evil.yaml", "name: !!python/object/apply:os.system ['true']\n")
    code, _, err = invoke("validate", str(bad))
    assert code == 2 and "evil.yaml:1:7: name: YAML tag" in err and "Traceback" not in err


def test_plan_text_and_json(minimal: Path) -> None:
    code, out, _ = invoke("plan", str(minimal))
    assert code == 0
    for step in ("load", "dataset", "train", "merge", "sample", "report"):
        assert step in out
    code, out, _ = invoke("plan", str(minimal), "--json", "--set", "lora.r=4")
    data = json.loads(out)
    assert data["steps"][0]["name"] == "load"
    assert data["steps"][2]["material"]["recipe"]["lora"]["r"] == 4


def test_show_is_canonical_yaml_that_round_trips(minimal: Path, tmp_path: Path) -> None:
    code, out, _ = invoke("show", str(minimal))
    assert code == 0
    assert out.index("model:") < out.index("data:") < out.index("lora:")
    snapshot = tmp_path / "snapshot.yaml"
    snapshot.write_text(out)
    code, again, _ = invoke("show", str(snapshot))
    assert code == 0 and again == out


def test_show_origin_names_every_source(minimal: Path, write) -> None:
    write("base.yaml", "lora: {alpha: 64}\n")
    minimal.write_text("extends: base.yaml\n" + minimal.read_text())
    code, out, _ = invoke("show", str(minimal), "--origin", "--set", "lora.r=4")
    assert code == 0
    assert "  r: 4  # --set lora.r=4" in out
    assert "  alpha: 64  # base.yaml:1:8 (extends)" in out
    assert "  dropout: 0.0  # default" in out
    assert "name: mini  # recipe.yaml:2:1" in out


def test_diff_lists_fields_and_invalidated_steps(minimal: Path, write) -> None:
    other = write(
        "other.yaml", minimal.read_text().replace("name: mini", "name: mini\nlora: {r: 32}")
    )
    code, out, _ = invoke("diff", str(minimal), str(other))
    assert code == 0
    assert "lora.r: 16 -> 32" in out
    assert "train: lora.r changed 16 -> 32" in out
    assert "merge: upstream train changed" in out
    assert "unchanged steps: load, dataset" in out
    code, out, _ = invoke("diff", str(minimal), str(other), "--format", "json")
    data = json.loads(out)
    assert data["fields"][0]["field"] == "lora.r"
    assert [s["step"] for s in data["steps"]] == ["train", "merge", "sample", "report"]


def test_diff_names_a_changed_data_file(minimal: Path, write) -> None:
    other_dir = minimal.parent / "v2"
    other = write("v2/recipe.yaml", minimal.read_text(), "v2/data/train.jsonl", '{"text": "new"}\n')
    assert other.parent == other_dir
    code, out, _ = invoke("diff", str(minimal), str(other))
    assert code == 0
    assert "no field differs" in out
    assert "dataset: data/train.jsonl content changed" in out


def test_schema_json_and_markdown() -> None:
    code, out, _ = invoke("schema")
    assert code == 0 and json.loads(out)["title"] == "Recipe"
    code, out, _ = invoke("schema", "--format", "markdown")
    assert code == 0 and "## `lora`" in out


def test_schema_file_is_not_stale() -> None:
    _, out, _ = invoke("schema")
    stored = (REPO_ROOT / "schemas" / "recipe.schema.json").read_text()
    assert stored == out, "schemas/recipe.schema.json is stale: smolora schema > it"


def test_reference_doc_is_not_stale() -> None:
    _, out, _ = invoke("schema", "--format", "markdown")
    stored = (REPO_ROOT / "docs" / "reference.md").read_text()
    assert stored == out, "docs/reference.md is stale: smolora schema --format markdown > it"


def test_init_writes_a_recipe_that_validates_and_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "new" / "starter.yaml"
    code, _, _ = invoke("init", str(target))
    assert code == 0 and target.exists() and (target.parent / "data/starter.jsonl").exists()
    assert invoke("validate", str(target))[0] == 0
    assert target.read_text().startswith("# Run me with:")
    code, _, err = invoke("init", str(target))
    assert code == 2 and "already exists" in err


@pytest.mark.parametrize("recipe", sorted((REPO_ROOT / "recipes").glob("*.yaml")), ids=str)
def test_every_shipped_recipe_validates_and_says_how_to_run_it(recipe: Path) -> None:
    code, _, err = invoke("validate", str(recipe))
    assert code == 0, err
    assert recipe.read_text().startswith("# Run: smolora run")


def test_importing_the_cli_and_validating_imports_no_heavy_library(minimal: Path) -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from smolora_recipes.cli.main import main\n"
        f"for args in (['validate', {str(minimal)!r}], ['plan', {str(minimal)!r}],\n"
        f"             ['show', {str(minimal)!r}], ['--help']):\n"
        "    assert CliRunner().invoke(main, args).exit_code == 0, args\n"
        "heavy = {'torch', 'transformers', 'datasets', 'peft', 'trl', 'accelerate'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
