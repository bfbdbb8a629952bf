"""Weight files written around the page cache: the same bytes as safetensors, and fallbacks."""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from smolora_recipes.store import direct_io, hashing
from smolora_recipes.store.direct_io import weights_written_directly, write_safetensors
from smolora_recipes.store.hashing import cancel_background_hashing, file_sha256


@pytest.fixture(autouse=True)
def no_pending_hashes() -> Iterator[None]:
    """Each test starts and ends with no background hash pending."""
    cancel_background_hashing()
    yield
    cancel_background_hashing()


def mixed_tensors() -> dict[str, torch.Tensor]:
    """One tensor of every dtype the writer knows, odd sizes, a scalar, an empty tensor, and one
    large enough to span several pieces."""
    torch.manual_seed(0)
    tensors = {
        "f32": torch.randn(3, 5),
        "bf16": torch.randn(7).bfloat16(),
        "f16": torch.randn(2).half(),
        "f64": torch.randn(3, dtype=torch.float64),
        "i64": torch.arange(5),
        "i32": torch.arange(3, dtype=torch.int32),
        "i16": torch.arange(3, dtype=torch.int16),
        "i8": torch.arange(3, dtype=torch.int8),
        "u8": torch.arange(3, dtype=torch.uint8),
        "u16": torch.arange(3).to(torch.uint16),
        "u32": torch.arange(3).to(torch.uint32),
        "u64": torch.arange(3).to(torch.uint64),
        "bool": torch.tensor([True, False, True]),
        "f8_e4m3": torch.ones(3).to(torch.float8_e4m3fn),
        "f8_e5m2": torch.ones(3).to(torch.float8_e5m2),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 4),
        "model.layers.0.big": torch.randn(3 * direct_io.PIECE // 4 + 123),
        "naïve 名": torch.ones(2),
    }
    return tensors


@pytest.fixture
def direct_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Writes under tmp_path must take the O_DIRECT path: the buffered fallback fails the test
    (skipped where this filesystem refuses O_DIRECT). Returns the paths written directly."""
    try:
        os.close(os.open(tmp_path / "probe", os.O_WRONLY | os.O_CREAT | os.O_DIRECT))
    except (AttributeError, OSError):
        pytest.skip("this filesystem or system has no O_DIRECT")

    def refuse(tensors: object, path: Path, metadata: object) -> None:
        raise AssertionError(f"{path} was written through the buffered fallback")

    monkeypatch.setattr(direct_io, "_save_buffered", refuse)
    written: list[Path] = []
    real = direct_io.write_safetensors

    def spy(tensors: Any, path: Any, metadata: Any = None) -> None:
        written.append(Path(path))
        real(tensors, path, metadata)

    monkeypatch.setattr(direct_io, "write_safetensors", spy)
    return written


def test_file_is_byte_identical_to_safetensors(tmp_path: Path, direct_only: list[Path]) -> None:
    tensors = mixed_tensors()
    save_file(
        {k: v.contiguous() for k, v in tensors.items()}, tmp_path / "reference.st", {"a": "b"}
    )
    write_safetensors(tensors, tmp_path / "direct.st", {"a": "b"})
    assert (tmp_path / "direct.st").read_bytes() == (tmp_path / "reference.st").read_bytes()
    loaded = load_file(tmp_path / "direct.st")
    assert all(torch.equal(loaded[name], tensor) for name, tensor in tensors.items())


def test_empty_and_non_text_metadata_are_handled_as_safetensors_does(tmp_path: Path) -> None:
    tensors = {"x": torch.ones(3)}
    save_file(tensors, tmp_path / "reference.st", {})
    write_safetensors(tensors, tmp_path / "direct.st", {})
    assert (tmp_path / "direct.st").read_bytes() == (tmp_path / "reference.st").read_bytes()
    with pytest.raises(TypeError):
        write_safetensors(tensors, tmp_path / "bad.st", {"step": 3})  # type: ignore[dict-item]


def test_metadata_keys_come_out_sorted(tmp_path: Path) -> None:
    write_safetensors({"x": torch.ones(1)}, tmp_path / "m.st", {"zeta": "1", "alpha": "2"})
    header = (tmp_path / "m.st").read_bytes()[8:80]
    assert header.startswith(b'{"__metadata__":{"alpha":"2","zeta":"1"}')


def test_hash_of_a_direct_write_comes_from_memory_and_follows_renames(tmp_path: Path) -> None:
    write_safetensors(mixed_tensors(), tmp_path / "staging.st")
    assert len(hashing._PENDING) == 1  # started from the tensors, not by reading the file
    final = tmp_path / "final.st"
    (tmp_path / "staging.st").rename(final)
    assert file_sha256(final) == hashlib.sha256(final.read_bytes()).hexdigest()
    assert not hashing._PENDING


def test_systems_without_o_direct_write_buffered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "O_DIRECT")
    tensors = mixed_tensors()
    write_safetensors(tensors, tmp_path / "buffered.st")
    save_file(tensors, tmp_path / "reference.st")
    assert (tmp_path / "buffered.st").read_bytes() == (tmp_path / "reference.st").read_bytes()
    assert not hashing._PENDING  # read back by the ordinary background hash instead


@pytest.mark.parametrize("refused_at", ["open", "write"])
def test_a_filesystem_refusing_o_direct_gets_a_buffered_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refused_at: str
) -> None:
    real_open = os.open

    def open_refusing_direct(path: str, flags: int, *args: int) -> int:
        if refused_at == "open" and flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *args)

    def write_refused(handle: int, data: memoryview) -> int:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(direct_io.os, "open", open_refusing_direct)
    if refused_at == "write":
        monkeypatch.setattr(direct_io.os, "write", write_refused)
    tensors = {"w": torch.randn(1000)}
    write_safetensors(tensors, tmp_path / "fallback.st")
    assert torch.equal(load_file(tmp_path / "fallback.st")["w"], tensors["w"])


def test_a_full_disk_is_reported_not_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(handle: int, data: memoryview) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(direct_io.os, "write", disk_full)
    with pytest.raises(OSError, match="No space left") as raised:
        write_safetensors({"w": torch.randn(1000)}, tmp_path / "full.st")
    assert raised.value.filename == str(tmp_path / "full.st")  # the report names the file


def test_shared_and_non_contiguous_tensors_are_refused_as_safetensors_refuses_them(
    tmp_path: Path,
) -> None:
    weight = torch.randn(4, 4)
    with pytest.raises(RuntimeError, match="share memory"):
        write_safetensors({"a": weight, "b": weight}, tmp_path / "shared.st")
    with pytest.raises(ValueError, match="non contiguous"):
        write_safetensors({"a": weight.t()}, tmp_path / "transposed.st")


def test_save_pretrained_inside_the_context_writes_the_same_folder(
    tmp_path: Path, tiny_model_dir: Path, direct_only: list[Path]
) -> None:
    from transformers import AutoModelForCausalLM, modeling_utils

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model.save_pretrained(tmp_path / "plain")
    with weights_written_directly():
        model.save_pretrained(tmp_path / "direct")
    plain = sorted(p.name for p in (tmp_path / "plain").iterdir())
    assert plain == sorted(p.name for p in (tmp_path / "direct").iterdir())
    for name in plain:
        assert (tmp_path / "direct" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes()
    assert direct_only == [tmp_path / "direct" / "model.safetensors"]  # written directly
    assert modeling_utils.safe_save_file is not direct_io.write_safetensors  # restored
