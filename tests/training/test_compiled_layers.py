"""`sft.compile`: the decoder layers compiled with torch.compile, their graphs kept for re-runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from smolora_recipes.core.paths import compiled_graphs_dir
from smolora_recipes.models.runtime import Runtime
from smolora_recipes.training.compiled_layers import (
    compile_applies,
    compile_decoder_layers,
    decoder_layers,
    uncompile_decoder_layers,
)
from tests.tiny_runs import run_recipe, write_tiny_recipe

CPU = Runtime("cpu", "float32", "bfloat16")


def test_the_decoder_layers_are_the_repeated_blocks() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=3, n_embd=32, n_head=2, vocab_size=64))
    assert decoder_layers(gpt2) == list(gpt2.transformer.h)
    assert decoder_layers(torch.nn.Linear(2, 2)) == []


def test_the_setting_resolves_per_runtime() -> None:
    assert compile_applies(True, CPU) and not compile_applies(False, CPU)
    assert not compile_applies("auto", CPU)  # bench/NOTES.md: no net gain on CPU


def test_compiled_layers_run_compiled_until_uncompiled(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    assert compile_decoder_layers(model) == model.config.num_hidden_layers
    assert all(layer._compiled_call_impl is not None for layer in decoder_layers(model))
    uncompile_decoder_layers(model)
    assert all(layer._compiled_call_impl is None for layer in decoder_layers(model))


def losses(state: Any) -> list[float]:
    assert state.status == "ok", state.error
    return [entry["loss"] for entry in state.results.train.loss_history]


def test_a_compiled_training_trains_as_the_eager_one_and_keeps_its_graphs(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)  # the graphs go to the home
    recipe = write_tiny_recipe(tmp_path, tiny_model_dir)
    eager = run_recipe(recipe, "sft.compile=false", f"output.dir={tmp_path / 'eager'}")
    compiled = run_recipe(recipe, "sft.compile=true", f"output.dir={tmp_path / 'compiled'}")
    assert compiled.results.train.compiled and not eager.results.train.compiled
    assert losses(compiled) == pytest.approx(losses(eager), rel=2e-3)
    assert "compiled (sft.compile)" in (compiled.run_dir / "report.md").read_text()
    assert any(compiled_graphs_dir().rglob("*.py")), "inductor's kernels are kept in the home"
