"""The Jinja environment recipe templates run in: sandboxed, strict, and bounded in size and time.

Jinja's sandbox already refuses internals (`__class__`, `__globals__`), and without a loader
there is no `import` or `include` of files. On top of it: `*` and `**` may not build huge values
(`'a' * 10**9`), and one evaluation stops after `RENDER_SECONDS` (a loop that does not end).
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment, SecurityError

MAX_VALUE_SIZE = 1_000_000  # items or characters one `*` may build; a record is never bigger
MAX_POWER_BITS = 10_000  # `**` results beyond this many bits are a bomb, not arithmetic
RENDER_SECONDS = 2.0  # one record takes microseconds; seconds mean a runaway loop


class RenderTimeout(Exception):
    """A template or filter ran longer than `RENDER_SECONDS`."""


class BoundedSandbox(SandboxedEnvironment):
    """A sandbox whose `*` and `**` refuse results too big to be meant."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Check the size of `left * right` and `left ** right` before computing them."""
        if operator == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
        elif operator == "**" and _power_bits(left, right) > MAX_POWER_BITS:
            raise SecurityError(f"{left} ** {right} is too large to compute")
        return super().call_binop(context, operator, left, right)


def _power_bits(base: Any, exponent: Any) -> float:
    """About how many bits `base ** exponent` has (0 when it is not an integer power)."""
    if not (isinstance(base, int) and isinstance(exponent, int)) or abs(base) < 2:
        return 0
    return exponent * math.log2(abs(base))


def _check_repeat(sequence: Any, times: Any) -> None:
    repeats = isinstance(sequence, str | list | tuple) and isinstance(times, int)
    if repeats and len(sequence) * times > MAX_VALUE_SIZE:
        raise SecurityError(
            f"repeating a value {times} times builds more than {MAX_VALUE_SIZE} items"
        )


def sandbox() -> BoundedSandbox:
    """The environment every recipe-supplied template runs in."""
    return BoundedSandbox(undefined=StrictUndefined, autoescape=False)


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise RenderTimeout in the block after `seconds`. Signals reach the main thread only,
    so elsewhere (and without SIGALRM) the block runs unbounded."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise RenderTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
