"""End-to-end on the real embedded SmolLM2-135M-Instruct: the path users take, kept proven.

A few training steps only; the quickstart itself (minutes) is run by `make quickstart`.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from smolora_recipes.cli.main import main
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.e2e

SHORT_RUN = """\
name: e2e
data:
  sources: [{type: jsonl, path: data/zembria.jsonl}]
  format: chat
  eval_split: 0.1
lora: {r: 8, alpha: 16, dropout: 0.0}
sft: {max_steps: 3, learning_rate: 1e-3, batch_size: 4, grad_accum: 2, max_length: 128,
  logging_steps: 1}
samples:
  max_new_tokens: 12
  prompts:
    - {prompt: 'What is the capital of Zembria?', expect: Quillan}
    - What is the currency of Zembria?
"""


@pytest.fixture(scope="module")
def e2e_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, CliRunner]:
    """One short CLI run on the embedded model: (run dir, SMOLORA_HOME, the CLI result)."""
    home = tmp_path_factory.mktemp("e2e-home")
    work = tmp_path_factory.mktemp("e2e-work")
    (work / "data").mkdir()
    shutil.copy(REPO_ROOT / "recipes/data/zembria.jsonl", work / "data/zembria.jsonl")
    (work / "e2e.yaml").write_text(SHORT_RUN)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SMOLORA_HOME", str(home))
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.chdir(work)
        result = CliRunner().invoke(main, ["run", "e2e.yaml"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert "status: ok" in result.stdout
    return work / "runs/e2e/latest", home, result


def test_short_run_on_the_embedded_model(e2e_run: tuple[Path, Path, object]) -> None:
    run_dir, home, _ = e2e_run
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "ok"
    assert report["model"]["kind"] == "builtin"
    assert 130_000_000 < report["model"]["parameters"] < 140_000_000
    assert report["train"]["steps"] == 3
    assert report["merge"]["verified"] is True
    assert len(report["samples"]["items"]) == 2 and report["samples"]["items"][0]["base"]
    converted = list((home / "models").glob("smollm2-135m-instruct-*"))
    assert len(converted) == 1 and (converted[0] / "model.safetensors").exists()
    config = json.loads((converted[0] / "config.json").read_text())
    assert "quantization_config" not in config  # the GGUF flag must not survive conversion

    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(run_dir / "merged")
    assert merged.config.model_type == "llama"
    # saved in the upstream's bfloat16: half the float32 size
    assert report["merge"]["dtype"] == "bfloat16" and report["merge"]["verified"]
    assert 250e6 < (run_dir / "merged/model.safetensors").stat().st_size < 290e6


def test_a_converted_model_is_reused_not_converted_again(
    e2e_run: tuple[Path, Path, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """How fast that is, is the benchmark's business (bench/incremental.py); here: no
    conversion runs, and the folder is the one the run used."""
    from smolora_recipes.recipe.builtin_models import ModelRef
    from smolora_recipes.steps import load

    def no_conversion(gguf: Path, folder: Path) -> None:
        raise AssertionError("the GGUF file was converted again")

    monkeypatch.setenv("SMOLORA_HOME", str(e2e_run[1]))
    monkeypatch.setattr(load, "_convert_gguf", no_conversion)
    ref = ModelRef("builtin", "smollm2-135m-instruct")
    folder, converted_now = load.resolve_model_folder(ref, None)
    assert not converted_now
    model_json = json.loads((e2e_run[0] / "model.json").read_text())
    assert folder == Path(model_json["folder"])


def test_export_reruns_only_export_and_its_gguf_answers_like_the_merged_model(
    e2e_run: tuple[Path, Path, object], llama_cpp_checkout: Path
) -> None:
    run_dir, home, _ = e2e_run
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SMOLORA_HOME", str(home))
        patch.setenv("SMOLORA_LLAMA_CPP", str(llama_cpp_checkout))
        patch.chdir(run_dir.parent.parent.parent)
        result = CliRunner().invoke(
            main,
            [
                "run",
                "e2e.yaml",
                "--set",
                "export.gguf=[q8_0]",
                "--set",
                "export.ollama=true",
            ],
            catch_exceptions=False,
        )
    assert result.exit_code == 0, result.stderr
    report = json.loads((run_dir / "report.json").read_text())
    ran = {step["name"]: step["outcome"] for step in report["steps"]}
    assert [name for name, outcome in ran.items() if outcome.startswith("ran")] == [
        "export",
        "report",
    ]
    (q8,) = report["export"]["ggufs"]
    assert (q8["type"], q8["identical"], q8["answered"]) == ("q8_0", 2, 2)
    exported = {path.name for path in (run_dir / "export").iterdir()}
    assert exported == {"e2e-q8_0.gguf", "Modelfile", "llama-answers.jsonl"}
    modelfile = (run_dir / "export/Modelfile").read_text()
    assert modelfile.startswith("FROM ./e2e-q8_0.gguf\n")
    assert 'PARAMETER stop "<|im_end|>"' in modelfile
    assert "| `e2e-q8_0.gguf` |" in (run_dir / "report.md").read_text()


def test_a_k_quant_is_made_by_llama_cpps_quantizer_and_answers(
    e2e_run: tuple[Path, Path, object],
    llama_cpp_checkout: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three training steps leave too small a fine-tune for q4 to keep (the export step would
    rightly refuse it), so the quantizer is checked here on its own."""
    from smolora_recipes.deploy.gguf_files import write_gguf
    from smolora_recipes.deploy.llama_answers import llama_answers

    monkeypatch.setenv("SMOLORA_LLAMA_CPP", str(llama_cpp_checkout))
    target = tmp_path / "e2e-q4_k_m.gguf"
    write_gguf(e2e_run[0] / "merged", "q4_k_m", target, "e2e", tmp_path / "scratch")
    assert (tmp_path / "scratch/e2e-f16.gguf").is_file()  # the quantizer's 16-bit input
    assert 80e6 < target.stat().st_size < 120e6  # vs 145 MB for q8_0
    assert "tensor" not in "".join(capfd.readouterr())  # its report went to its own log
    (answer,) = llama_answers(target, ["What is the capital of Zembria?"], True, None, "", 8, 64)
    assert answer


def test_generate_streams_from_the_run(e2e_run: tuple[Path, Path, object]) -> None:
    result = CliRunner().invoke(
        main, ["generate", str(e2e_run[0]), "--max-new-tokens", "8"], input="Hello there\n"
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip()


def test_the_init_starter_learns_visibly(
    e2e_run: tuple[Path, Path, object], tmp_path: Path
) -> None:
    """`smolora init x.yaml && smolora run x.yaml`: its own scored prompts go up (issue 22)."""
    _, home, _ = e2e_run  # the embedded model is converted there already
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SMOLORA_HOME", str(home))
        patch.chdir(tmp_path)
        runner = CliRunner()
        assert runner.invoke(main, ["init", "x.yaml"]).exit_code == 0
        result = runner.invoke(main, ["run", "x.yaml"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    samples = json.loads((tmp_path / "runs/x/latest/report.json").read_text())["samples"]
    assert samples["scored"] == 4
    assert samples["tuned_accuracy"] - samples["base_accuracy"] >= 0.5


@pytest.mark.parametrize(
    ("recipe", "trained"),
    [
        ("builtin:sharegpt", "Zembria"),  # gpt turns: the answers
        ("builtin:tool-calls", '"name": "'),  # an assistant's tool call
    ],
)
def test_conversation_recipes_run_end_to_end(
    e2e_run: tuple[Path, Path, object], tmp_path: Path, recipe: str, trained: str
) -> None:
    _, home, _ = e2e_run  # its converted model is reused
    short = [
        "--set",
        "sft.max_steps=2",
        "--set",
        "eval.tasks=[]",
        "--set",
        "samples.max_new_tokens=8",
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SMOLORA_HOME", str(home))
        patch.chdir(tmp_path)
        result = CliRunner().invoke(main, ["run", recipe, *short], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        preview = CliRunner().invoke(main, ["preview", recipe, "-n", "8"], catch_exceptions=False)
    assert preview.exit_code == 0, preview.stderr
    spans = re.findall(r"\[\[(.*?)\]\]", preview.stdout, re.DOTALL)  # what carries loss
    assert any(trained in span for span in spans)
    assert not any("<|im_start|>" in span for span in spans)  # no user, system or tool turn
