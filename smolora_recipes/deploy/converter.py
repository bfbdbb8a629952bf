"""llama.cpp's own HF -> GGUF converter, matching the installed llama.cpp runtime.

The converter (`convert_hf_to_gguf.py`, its `conversion/` package and `gguf-py/`) is not in
the `llama-cpp-python` wheel, only in its source distribution on PyPI, under
`vendor/llama.cpp/`. It is fetched once for the installed version, kept under
`$SMOLORA_HOME/tools/llama.cpp-<version>/` and reused offline; `SMOLORA_LLAMA_CPP` may name
a llama.cpp checkout to use instead. Taking the converter of the same release as the runtime
that loads the GGUF keeps the two in step (architectures, tokenizer pre-processing ids).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from smolora_recipes.core.errors import SmoloraError
from smolora_recipes.core.file_lock import held_lock
from smolora_recipes.core.paths import tools_dir
from smolora_recipes.core.text_format import last_lines

SCRIPT = "convert_hf_to_gguf.py"
VENDOR = "vendor/llama.cpp/"
KEPT = (SCRIPT, "conversion/", "gguf-py/", "LICENSE")  # what the converter needs, and its licence
EXTRA_HINT = "install the export extra: pip install 'smolora-recipes[export]'"


class ConverterUnavailable(SmoloraError):
    """llama.cpp's converter cannot be found or fetched."""


def runtime_version() -> str:
    """The installed `llama-cpp-python` version (its converter must match it)."""
    try:
        return version("llama-cpp-python")
    except PackageNotFoundError:
        raise ConverterUnavailable(f"llama-cpp-python is not installed; {EXTRA_HINT}") from None


def converter_script() -> Path:
    """The path of `convert_hf_to_gguf.py`: from `SMOLORA_LLAMA_CPP`, else the copy fetched
    for the installed runtime (fetched now when missing)."""
    configured = os.environ.get("SMOLORA_LLAMA_CPP")
    if configured:
        script = Path(configured).expanduser() / SCRIPT
        if not script.is_file():
            raise ConverterUnavailable(
                f"SMOLORA_LLAMA_CPP is {configured}, which holds no {SCRIPT}; name a llama.cpp "
                "checkout, or unset it to use the converter of the installed llama-cpp-python"
            )
        return script
    folder = tools_dir() / f"llama.cpp-{runtime_version()}"
    with held_lock(folder.with_name(folder.name + ".lock")):
        if not (folder / SCRIPT).is_file():
            fetch_converter(runtime_version(), folder)
    return folder / SCRIPT


def fetch_converter(release: str, folder: Path) -> None:
    """Download the `llama-cpp-python==release` source distribution with pip and keep the
    converter's files in `folder` (written whole or not at all)."""
    with tempfile.TemporaryDirectory(prefix="smolora-llama-cpp-") as scratch:
        download = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
                *("--no-binary", ":all:", "--retries", "1", "--timeout", "20"),
                *("--dest", scratch, f"llama-cpp-python=={release}"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        archives = list(Path(scratch).glob("*.tar.gz"))
        if download.returncode or not archives:
            last = last_lines(download.stderr, 1, "no archive")
            raise ConverterUnavailable(
                f"could not fetch llama.cpp's converter (the llama-cpp-python {release} source "
                f"distribution on PyPI): {last}. Connect to PyPI once, or set SMOLORA_LLAMA_CPP "
                "to a llama.cpp checkout"
            )
        folder.parent.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            _extract_converter(archives[0], staged)
            shutil.rmtree(folder, ignore_errors=True)
            staged.rename(folder)
        finally:
            shutil.rmtree(staged, ignore_errors=True)


def _extract_converter(archive: Path, target: Path) -> None:
    """Extract the converter's files from the source distribution (no other member)."""
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            _, _, inside = member.name.partition("/")
            if not inside.startswith(VENDOR):
                continue
            relative = inside[len(VENDOR) :]
            if relative.startswith(KEPT):
                member.name = relative
                tar.extract(member, target, filter="data")
    if not (target / SCRIPT).is_file():
        raise ConverterUnavailable(f"{archive.name} holds no {VENDOR}{SCRIPT}")
