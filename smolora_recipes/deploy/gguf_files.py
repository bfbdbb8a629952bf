"""GGUF files from a merged model folder, by llama.cpp's own tools: its converter writes the
16-bit and q8_0 types, its quantizer (through `llama-cpp-python`) the k-quants from f16."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from smolora_recipes.core.errors import SmoloraError
from smolora_recipes.core.native_output import native_output_to
from smolora_recipes.core.text_format import last_lines
from smolora_recipes.deploy.converter import converter_script

CONVERTED = ("f16", "bf16", "q8_0")  # written by convert_hf_to_gguf.py directly
QUANTIZED = {"q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M", "q5_k_m": "LLAMA_FTYPE_MOSTLY_Q5_K_M"}


class GgufExportError(SmoloraError):
    """llama.cpp could not convert or quantize the merged model."""


def gguf_name(model_name: str, kind: str) -> str:
    """`<name>-<type>.gguf`."""
    return f"{model_name}-{kind}.gguf"


def write_gguf(merged: Path, kind: str, target: Path, model_name: str, scratch: Path) -> None:
    """Write `merged` as a GGUF of type `kind` to `target`. A k-quant is made from the f16
    GGUF beside `target` when there is one, else from one made once in `scratch`."""
    if kind in CONVERTED:
        convert(merged, kind, target, model_name)
        return
    f16 = target.with_name(gguf_name(model_name, "f16"))
    if not f16.is_file():
        f16 = scratch / f16.name
    if not f16.is_file():
        scratch.mkdir(parents=True, exist_ok=True)
        convert(merged, "f16", f16, model_name)
    quantize(f16, kind, target)


def convert(merged: Path, kind: str, target: Path, model_name: str) -> None:
    """Run llama.cpp's converter on `merged` (in a child process: it imports torch and its own
    gguf package, and frees all it used when it ends)."""
    command = [
        *(sys.executable, str(converter_script()), str(merged)),
        *("--outtype", kind, "--outfile", str(target), "--model-name", model_name),
    ]
    environment = {key: value for key, value in os.environ.items() if key != "NO_LOCAL_GGUF"}
    finished = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    if finished.returncode or not target.is_file():
        raise GgufExportError(
            f"llama.cpp's converter could not write a {kind} GGUF of {merged.name}/: "
            f"{last_lines(finished.stderr, 3)}"
        )


def quantize(source: Path, kind: str, target: Path) -> None:
    """Quantize a 16-bit GGUF to `kind` with llama.cpp's quantizer (tensors a k-quant cannot
    hold, such as rows not a multiple of 256 wide, fall back to a type llama.cpp chooses)."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANTIZED[kind])
    params.nthread = os.cpu_count() or 1
    with tempfile.TemporaryFile("w+") as log, native_output_to(log):
        status = llama_cpp.llama_model_quantize(
            str(source).encode(), str(target).encode(), llama_cpp.byref(params)
        )
        log.seek(0)
        if status != 0 or not target.is_file():
            raise GgufExportError(
                f"llama.cpp's quantizer could not write a {kind} GGUF (status {status}): "
                f"{last_lines(log.read(), 3)}"
            )
