"""jemalloc for the commands that load models, where the system has it.

glibc's malloc keeps the holes left by one training step's tensors, which the next step's
tensors of other sizes do not fit: on the bench's varied corpus a run's peak RSS was 2.46 GB with
glibc and 2.16 GB with jemalloc at the same speed, against a live peak of ~1.7 GB
(bench/NOTES.md). A malloc cannot be swapped inside a running process, so `smolora` re-executes
itself once with jemalloc preloaded, as Intel's PyTorch CPU launcher does. No PyPI package ships
the library; Debian and Ubuntu do (`libjemalloc2`), and conda-forge (`jemalloc`).
`SMOLORA_ALLOCATOR=system` keeps the C library's malloc.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from pathlib import Path

LIBRARY = "libjemalloc.so.2"
SWITCH = "SMOLORA_ALLOCATOR"  # "system": no preload
MODEL_COMMANDS = frozenset({"run", "generate", "serve"})  # commands that load a model


def library_dirs() -> list[Path]:
    """Where a system or conda jemalloc is installed on Linux."""
    multiarch = sysconfig.get_config_var("MULTIARCH") or f"{platform.machine()}-linux-gnu"
    return [
        Path(sys.prefix) / "lib",
        Path("/usr/lib") / multiarch,
        Path("/usr/lib64"),
        Path("/usr/lib"),
        Path("/usr/local/lib"),
    ]


def preload_environment(
    argv: Sequence[str], environ: Mapping[str, str], dirs: Sequence[Path]
) -> dict[str, str] | None:
    """The environment to re-run `smolora argv` in with jemalloc preloaded; None when the
    command loads no model, the user chose the system allocator, jemalloc is preloaded already
    or not installed."""
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    if command not in MODEL_COMMANDS or environ.get(SWITCH, "jemalloc") == "system":
        return None
    preloaded = environ.get("LD_PRELOAD", "")
    if "jemalloc" in preloaded:
        return None
    library = next((folder / LIBRARY for folder in dirs if (folder / LIBRARY).is_file()), None)
    if library is None:
        return None
    return {**environ, "LD_PRELOAD": " ".join(filter(None, [str(library), preloaded]))}


def run_under_jemalloc(argv: Sequence[str]) -> None:
    """Re-execute this process with jemalloc preloaded when `preload_environment` says so (Linux
    only); otherwise, or when the interpreter cannot be executed again, return and let the
    command run as it is."""
    if platform.system() != "Linux":
        return
    environ = preload_environment(argv, os.environ, library_dirs())
    if environ is None or not sys.executable:
        return
    sys.stdout.flush()
    with contextlib.suppress(OSError):  # the interpreter cannot be started again: run as is
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], environ)


def allocator_in_use() -> str:
    """`jemalloc` or `tcmalloc` when mapped into this process, else `system`."""
    try:
        maps = Path("/proc/self/maps").read_text(errors="replace")
    except OSError:
        return "system"
    return next((name for name in ("jemalloc", "tcmalloc") if name in maps), "system")
