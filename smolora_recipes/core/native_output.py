"""Quieting what libraries print: everything written to stdout and stderr for a while, by
Python code or native code (llama.cpp's quantizer, a `git` that lm-evaluation-harness starts,
progress bars), goes to a log file instead of the terminal."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import IO


@contextlib.contextmanager
def native_output_to(log: IO[str]) -> Iterator[None]:
    """Send what is printed on this process's stdout and stderr to `log` meanwhile, by native
    code, child processes or Python (llama-cpp-python passes llama.cpp's log to `sys.stderr`)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for descriptor in saved:
            os.close(descriptor)
