"""An adapter trained on a hub model loads anywhere that model is known: peft resolves the base
by the hub id written in its config, here from a local Hugging Face cache, offline (issue 20)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.tiny_runs import run_recipe, write_tiny_recipe

HUB_ID = "smolora-tests/tiny-llama"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def hub_cache_with(model_dir: Path, cache: Path) -> None:
    """`model_dir` laid out as the hub cache holds `HUB_ID` at `main`."""
    repo = cache / f"models--{HUB_ID.replace('/', '--')}"
    shutil.copytree(model_dir, repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)


def test_an_adapter_of_a_hub_model_loads_by_its_id(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    hub_cache_with(tiny_model_dir, cache)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    work = tmp_path / "work"
    work.mkdir()
    state = run_recipe(write_tiny_recipe(work, Path(HUB_ID)), "sft.max_steps=2")
    assert state.status == "ok", state.error
    adapter = state.run_dir / "adapter"
    elsewhere = tmp_path / "copied-adapter"  # no path of the training machine inside
    shutil.copytree(adapter, elsewhere)
    from peft import AutoPeftModelForCausalLM

    model = AutoPeftModelForCausalLM.from_pretrained(elsewhere)
    assert model.peft_config["default"].base_model_name_or_path == HUB_ID
