"""The `smolora` program: the click CLI, ended without tearing down the interpreter.

Once torch and a model are loaded, the interpreter's own teardown (releasing every module and
object one by one) takes ~0.9 s here, while the operating system frees a process's memory at
once. So the program flushes its output, runs the atexit handlers (logging, multiprocessing,
temporary files) and ends with `os._exit`. Tests call `cli.main` and keep the usual exit. A
command that loads a model first re-executes itself under jemalloc where the system has it
(core/allocator.py).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import sys
from typing import NoReturn

from smolora_recipes.core.allocator import run_under_jemalloc


def entry() -> NoReturn:
    """Run the CLI on the process's arguments, then end the process with its exit code."""
    run_under_jemalloc(sys.argv[1:])  # before the CLI's imports: a re-execution repeats them
    from smolora_recipes.cli.main import main

    try:
        main()
        code = 0
    except SystemExit as stop:
        code = exit_code(stop.code)
    end_process(code)


def exit_code(value: object) -> int:
    """The exit code the interpreter would give for `SystemExit(value)` (a message: 1)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    print(value, file=sys.stderr)
    return 1


def end_process(code: int) -> NoReturn:
    """Run the atexit handlers, flush every output buffer (Python's and the C library's), and
    end the process with `code`."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:  # None: the stream was closed when the process started
            with contextlib.suppress(OSError, ValueError):  # a closed pipe or file
                stream.flush()
    with contextlib.suppress(OSError, AttributeError, TypeError):  # no C library to ask
        ctypes.CDLL(None).fflush(None)
    os._exit(code)
