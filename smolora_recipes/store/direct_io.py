"""Weight files written around the page cache (O_DIRECT), where the system allows it.

A merged model is written once and not read back in the run (the sample step takes the model
from memory, and the file's hash is computed from the same bytes in memory). Through the page
cache every byte written first needs a free page of memory, and writing a large model evicts the
base model's pages from the cache. On the benchmark VM a fresh page costs ~11 us per 4 KB, so
writing SmolLM2's 538 MB took 0.7-1.6 s buffered and 0.3 s direct (bench/NOTES.md). Systems
without O_DIRECT (macOS, Windows) or filesystems refusing it get the ordinary buffered path.

The safetensors files written here are byte-identical to `safetensors.torch.save_file`'s
(same header, tensor order and padding), except that several metadata keys come out sorted,
where safetensors orders them at random. torch is imported inside the functions, so importing
this module is cheap.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import mmap
import os
import struct
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from smolora_recipes.store.hashing import hash_in_background_from

if TYPE_CHECKING:
    import torch

BLOCK = 4096  # direct transfers: offsets and lengths in whole blocks, buffers page-aligned
PIECE = 8 << 20  # bytes per transfer

# safetensors' dtype names, in its layout order: tensors of the first come first in the file
_DTYPE_ORDER = (
    "U64", "I64", "F64", "F32", "U32", "I32", "BF16", "F16", "U16", "I16",
    "F8_E4M3", "F8_E5M2", "I8", "U8", "BOOL",
)  # fmt: skip
_TORCH_DTYPE_NAMES = {
    "U64": "uint64", "I64": "int64", "F64": "float64", "F32": "float32", "U32": "uint32",
    "I32": "int32", "BF16": "bfloat16", "F16": "float16", "U16": "uint16", "I16": "int16",
    "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "I8": "int8", "U8": "uint8",
    "BOOL": "bool",
}  # fmt: skip


def write_safetensors(
    tensors: Mapping[str, torch.Tensor],
    path: str | os.PathLike[str],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write `tensors` as a safetensors file, bypassing the page cache where possible (same
    arguments as `safetensors.torch.save_file`, which is used where it is not). A file written
    directly from CPU tensors is hashed on the background hash thread from those tensors, so
    they must not change until it is hashed (`hashing.hash_in_background_from`)."""
    import torch

    names = _layout_order(tensors)
    plain_metadata = metadata is None or all(
        isinstance(item, str) for pair in metadata.items() for item in pair
    )  # else save_file refuses it with its own message
    if names is None or not plain_metadata or not hasattr(os, "O_DIRECT"):
        _save_buffered(tensors, path, metadata)
        return
    byte_views = [_bytes_of(tensors[name]) for name in names]
    header = _header(tensors, names, [len(view) for view in byte_views], metadata)
    sources = [torch.frombuffer(bytearray(header), dtype=torch.uint8), *byte_views]
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o666)
    except OSError as error:
        if error.errno != errno.EINVAL:
            raise
        _save_buffered(tensors, path, metadata)  # the filesystem refuses O_DIRECT
        return
    refused = False  # some filesystems accept O_DIRECT at open and refuse the first write
    try:
        _write_direct(handle, sources)
    except OSError as error:
        if error.errno != errno.EINVAL:
            raise OSError(error.errno, error.strerror, os.fspath(path)) from error
        refused = True
    finally:
        os.close(handle)
    if refused:
        _save_buffered(tensors, path, metadata)
    elif all(source.device.type == "cpu" for source in sources):
        hash_in_background_from(Path(path), lambda: (memoryview(s.numpy()) for s in sources))


@contextlib.contextmanager
def weights_written_directly() -> Iterator[None]:
    """Within: transformers' `save_pretrained` writes its weight files with `write_safetensors`
    (everything else it decides as usual: tied weights, names, shards, config files)."""
    from transformers import modeling_utils

    if not hasattr(modeling_utils, "safe_save_file"):
        yield  # a transformers that writes weights differently: its own way then
        return
    original = modeling_utils.safe_save_file
    modeling_utils.safe_save_file = write_safetensors
    try:
        yield
    finally:
        modeling_utils.safe_save_file = original


def _layout_order(tensors: Mapping[str, torch.Tensor]) -> list[str] | None:
    """Tensor names in safetensors' file order (wider dtypes first, then by name); None when a
    dtype has no safetensors name here, or a tensor is not contiguous, or two share memory
    (cases left to save_file, which refuses the last two with its own messages)."""
    names = _safetensors_dtype_names()
    if any(t.dtype not in names or not t.is_contiguous() for t in tensors.values()):
        return None
    storages = [
        (tensor.device, tensor.untyped_storage().data_ptr())
        for tensor in tensors.values()
        if tensor.numel()
    ]
    if len(set(storages)) != len(storages):
        return None
    rank = {dtype: position for position, dtype in enumerate(_DTYPE_ORDER)}
    return sorted(tensors, key=lambda name: (rank[names[tensors[name].dtype]], name))


@functools.cache
def _safetensors_dtype_names() -> dict[torch.dtype, str]:
    import torch

    return {getattr(torch, name): short for short, name in _TORCH_DTYPE_NAMES.items()}


def _header(
    tensors: Mapping[str, torch.Tensor],
    names: list[str],
    sizes: list[int],
    metadata: Mapping[str, str] | None,
) -> bytes:
    """safetensors' header: length, then JSON padded with spaces to a multiple of 8 bytes."""
    entries: dict[str, object] = {}
    if metadata is not None:
        entries["__metadata__"] = dict(sorted(metadata.items()))
    offset = 0
    for name, size in zip(names, sizes, strict=True):
        tensor = tensors[name]
        entries[name] = {
            "dtype": _safetensors_dtype_names()[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    text = json.dumps(entries, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text


def _bytes_of(tensor: torch.Tensor) -> torch.Tensor:
    """A contiguous tensor's bytes as a flat uint8 view."""
    import torch

    flat = tensor.detach().reshape(-1)
    return flat.view(torch.uint8) if flat.numel() else torch.empty(0, dtype=torch.uint8)


def _write_direct(handle: int, sources: list[torch.Tensor]) -> None:
    """Copy `sources` one after another into two page-aligned buffers in turn, each sent to
    the file by a writer thread while the other fills; then cut the file to its true size."""
    import torch

    buffers = [mmap.mmap(-1, PIECE) for _ in range(2)]
    views = [torch.frombuffer(buffer, dtype=torch.uint8) for buffer in buffers]
    sent: list[Future[None] | None] = [None, None]
    turn, filled, total = 0, 0, sum(len(source) for source in sources)
    with ThreadPoolExecutor(1, "direct-write") as writer:
        for source in sources:
            done = 0
            while done < len(source):
                if filled == 0 and (previous := sent[turn]) is not None:
                    previous.result()  # this buffer's last transfer is over
                count = min(PIECE - filled, len(source) - done)
                views[turn][filled : filled + count].copy_(source[done : done + count])
                filled, done = filled + count, done + count
                if filled == PIECE:
                    sent[turn] = writer.submit(_write_all, handle, memoryview(buffers[turn]))
                    turn, filled = 1 - turn, 0
        if filled:
            whole_blocks = memoryview(buffers[turn])[: -(-filled // BLOCK) * BLOCK]
            sent[turn] = writer.submit(_write_all, handle, whole_blocks)
        for transfer in sent:
            if transfer is not None:
                transfer.result()
    os.ftruncate(handle, total)


def _write_all(handle: int, data: memoryview) -> None:
    while data:
        data = data[os.write(handle, data) :]


def _save_buffered(
    tensors: Mapping[str, torch.Tensor],
    path: str | os.PathLike[str],
    metadata: Mapping[str, str] | None,
) -> None:
    from safetensors.torch import save_file

    save_file(dict(tensors), path, metadata=None if metadata is None else dict(metadata))
