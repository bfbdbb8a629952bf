"""Shared fixtures: an isolated SMOLORA_HOME, offline hub, and a helper to write recipe trees."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own SMOLORA_HOME and never touches the hub."""
    home = tmp_path_factory.mktemp("smolora-home")
    monkeypatch.setenv("SMOLORA_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`gpu` tests run only where CUDA is, `no_gpu` tests only where it is not: the same suite
    is green on a CPU machine and on a GPU machine."""
    marked = [item for item in items if {"gpu", "no_gpu"} & set(item.keywords)]
    if not marked:
        return
    import torch

    cuda = torch.cuda.is_available()
    for item in marked:
        if "gpu" in item.keywords and not cuda:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU (none here)"))
        if "no_gpu" in item.keywords and cuda:
            item.add_marker(pytest.mark.skip(reason="checks a machine without CUDA"))


WriteFiles = Callable[..., Path]


def invoke(*args: str) -> tuple[int, str, str]:
    """Run the `smolora` command in process: exit code, stdout, stderr."""
    from smolora_recipes.cli.main import main

    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the test's folder, as users run from the folder holding their recipes."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def write(tmp_path: Path) -> WriteFiles:
    """write("a/b.yaml", text, ...) writes dedented files under tmp_path; returns the first path."""

    def _write(*pairs: str, root: Path = tmp_path) -> Path:
        assert len(pairs) % 2 == 0
        first = None
        for name, text in zip(pairs[::2], pairs[1::2], strict=True):
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
            first = first or path
        assert first is not None
        return first

    return _write


MINIMAL_RECIPE = """
name: mini
data:
  sources:
    - type: jsonl
      path: data/train.jsonl
samples:
  prompts: [hello]
"""

TRAIN_JSONL = '{"text": "one"}\n{"text": "two"}\n'


@pytest.fixture
def minimal(write: WriteFiles) -> Path:
    """A valid minimal recipe with its data file; returns the recipe path."""
    return write("recipe.yaml", MINIMAL_RECIPE, "data/train.jsonl", TRAIN_JSONL)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local HF model folder holding a tiny Llama and a ChatML tokenizer (built once)."""
    from tests.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model") / "tiny-llama")


@pytest.fixture(scope="session")
def llama_cpp_checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """llama.cpp's converter for the installed llama-cpp-python, fetched once per session
    (export tests point SMOLORA_LLAMA_CPP here rather than fetch it into each test's home)."""
    from smolora_recipes.deploy.converter import fetch_converter, runtime_version

    folder = tmp_path_factory.mktemp("llama-cpp") / "llama.cpp"
    fetch_converter(runtime_version(), folder)
    return folder


@pytest.fixture(scope="session")
def tiny_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One complete, successful run of the tiny chat recipe (shared: it takes seconds)."""
    from tests.tiny_runs import chat_jsonl, run_recipe, tiny_recipe

    root = tmp_path_factory.mktemp("tiny-run")
    (root / "data").mkdir()
    (root / "data/train.jsonl").write_text(chat_jsonl())
    (root / "recipe.yaml").write_text(tiny_recipe(tiny_model_dir))
    state = run_recipe(root / "recipe.yaml")
    assert state.status == "ok", state.error
    return state
