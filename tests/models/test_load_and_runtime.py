"""Model resolution and runtime choice: fast, clear errors; sensible automatic choices."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from smolora_recipes.core.errors import UserInputError
from smolora_recipes.models.runtime import (
    choose_runtime,
    cpu_supports_bf16,
    pick_device,
    release_free_memory,
)
from smolora_recipes.recipe.builtin_models import (
    BUILTIN_MODELS,
    ModelRef,
    builtin_model_file,
    classify_model,
)
from smolora_recipes.recipe.model_section import ModelSection
from smolora_recipes.steps.load import resolve_model_folder


def test_classify_model_references(tmp_path: Path) -> None:
    assert classify_model("smollm2-135m-instruct").kind == "builtin"
    assert classify_model("HuggingFaceTB/SmolLM2-135M").kind == "hub"
    assert classify_model(str(tmp_path)).kind == "local_dir"
    assert classify_model(str(tmp_path / "m.gguf")).kind == "gguf_file"


def test_builtin_model_file_is_found_in_its_wheel() -> None:
    path = builtin_model_file(BUILTIN_MODELS["smollm2-135m-instruct"])
    assert path.name.endswith(".gguf") and path.stat().st_size > 50_000_000


def test_hub_model_offline_fails_fast_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(UserInputError) as caught:
        resolve_model_folder(ModelRef("hub", "nobody/no-such-model-xyz"), None)
    assert time.perf_counter() - started < 10
    text = caught.value.render()
    assert "not in the local Hugging Face cache" in text and "model.base" in text
    assert "set `model.base: ./path/to/folder`" in text


def test_local_folder_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"no config\.json"):
        resolve_model_folder(ModelRef("local_dir", str(tmp_path), tmp_path), None)


def test_local_folder_is_used_in_place(tiny_model_dir: Path) -> None:
    ref = ModelRef("local_dir", str(tiny_model_dir), tiny_model_dir)
    assert resolve_model_folder(ref, None) == (tiny_model_dir, False)


def test_a_file_that_is_not_gguf_gives_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "broken.gguf"
    fake.write_bytes(b"this is not a gguf file at all" * 10)
    with pytest.raises(UserInputError, match=r"cannot read .* as a GGUF model"):
        resolve_model_folder(ModelRef("gguf_file", str(fake), fake), None)
    assert not list((tmp_path.parent).glob(".broken-*.tmp-*"))


@pytest.mark.no_gpu
def test_auto_runtime_on_this_cpu() -> None:
    runtime = choose_runtime(ModelSection())
    assert runtime.device in ("cpu", "mps")
    if runtime.device == "cpu":
        assert runtime.dtype == "float32"
        assert runtime.autocast == ("bfloat16" if cpu_supports_bf16() else None)


@pytest.mark.gpu
def test_auto_runtime_on_a_cuda_machine() -> None:
    import torch

    runtime = choose_runtime(ModelSection())
    assert runtime.device == "cuda" and runtime.autocast is None
    assert runtime.dtype == ("bfloat16" if torch.cuda.is_bf16_supported() else "float16")


def test_explicit_dtype_is_respected() -> None:
    assert choose_runtime(ModelSection(dtype="bfloat16")).dtype == "bfloat16"
    assert choose_runtime(ModelSection(dtype="float32")).autocast is None


def test_unavailable_device_is_a_clear_error() -> None:
    import torch

    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    missing = [
        name for name, there in (("cuda", torch.cuda.is_available()), ("mps", mps)) if not there
    ]
    if not missing:
        pytest.skip("both CUDA and MPS are available here")
    with pytest.raises(UserInputError, match=f"device '{missing[0]}' is not available"):
        pick_device(missing[0])


def test_release_free_memory_asks_glibc_to_trim_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """How much memory comes back is the allocator's business (bench/NOTES.md measures it);
    what smolora owns is the call: malloc_trim(0) on glibc, nothing elsewhere."""
    import ctypes

    from smolora_recipes.models import runtime

    calls: list[tuple[str, int]] = []

    class FakeLibc:
        def __init__(self, name: str) -> None:
            self.name = name

        def malloc_trim(self, pad: int) -> int:
            calls.append((self.name, pad))
            return 1

    monkeypatch.setattr(ctypes, "CDLL", FakeLibc)
    monkeypatch.setattr(runtime, "_glibc", lambda: True)
    release_free_memory()
    assert calls == [("libc.so.6", 0)]
    monkeypatch.setattr(runtime, "_glibc", lambda: False)
    release_free_memory()
    assert calls == [("libc.so.6", 0)]
