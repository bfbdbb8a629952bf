"""The Jinja environment recipe templates run in: sandboxed, strict, and bounded in size and time.

Jinja's sandbox already refuses internals (`__class__`, `__globals__`), and without a loader
there is no `import` or `include` of files. On top of it nothing may build a huge value in one
C-level call that no timer can interrupt (`'a' * 10**9`, `'a'|center(10**9)`, `'%0999999999d' % 1`),
and one evaluation stops after `RENDER_SECONDS` (a loop that does not end).
"""

from __future__ import annotations

import functools
import math
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

MAX_VALUE_SIZE = 1_000_000  # items or characters one `*` may build; a record is never bigger
MAX_POWER_BITS = 10_000  # `**` results beyond this many bits are a bomb, not arithmetic
RENDER_SECONDS = 2.0  # one record takes microseconds; seconds mean a runaway loop
_WIDTH_FILTERS = ("center", "indent", "wordwrap", "truncate")
_WIDTH_METHODS = ("center", "ljust", "rjust", "zfill", "expandtabs")
_HUGE_FORMAT = re.compile(r"%[-+ #0]*\d*\.?\d{7,}|\{[^{}]*:[^{}]*\d{7,}[^{}]*\}")
_ARGUMENT_WIDTH = re.compile(r"%[-+ #0]*\d*\.?\*|\{[^{}]*:[^{}]*\{")  # `%*d`, `{:{}}`


class RenderTimeout(Exception):
    """A template or filter ran longer than `RENDER_SECONDS`."""


class BoundedSandbox(SandboxedEnvironment):
    """A sandbox whose operators, string methods and width filters refuse huge results."""

    intercepted_binops = frozenset(["*", "**", "%"])

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        for name in _WIDTH_FILTERS:
            self.filters[name] = _with_check(self.filters[name], _check_widths)
        self.filters["format"] = _with_check(self.filters["format"], _check_format)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Check the size of `left * right`, `left ** right` and `format % values` first."""
        if operator == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
        elif operator == "**" and _power_bits(left, right) > MAX_POWER_BITS:
            raise SecurityError(f"{left} ** {right} is too large to compute")
        elif operator == "%":
            _check_format(left, *_items(right))
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Check the widths string methods get (`'x'.center(10**9)`, `'{:9999999}'.format`)."""
        method = getattr(__obj, "__wrapped__", __obj)  # str.format comes wrapped by the sandbox
        owner, name = getattr(method, "__self__", None), getattr(method, "__name__", "")
        if isinstance(owner, str) and name in _WIDTH_METHODS:
            _check_widths(*args, *kwargs.values())
        elif isinstance(owner, str) and name in ("format", "format_map"):
            _check_format(owner, *args, *kwargs.values(), *_items(args[0] if args else ()))
        return super().call(__context, __obj, *args, **kwargs)


def _with_check(function: Any, check: Any) -> Any:
    """`function` (a filter) calling `check` on all its arguments first (for `format`, the
    first is the format string)."""

    @functools.wraps(function)  # keeps `jinja_pass_arg`: Jinja then passes what it wants
    def checked(*args: Any, **kwargs: Any) -> Any:
        check(*args, *kwargs.values())
        return function(*args, **kwargs)

    return checked


def _is_huge(value: Any) -> bool:
    return isinstance(value, int) and abs(value) > MAX_VALUE_SIZE


def _check_widths(*values: Any) -> None:
    """Refuse a width or count of more than `MAX_VALUE_SIZE`."""
    if any(_is_huge(value) for value in values):
        raise SecurityError(f"a width of more than {MAX_VALUE_SIZE} is not allowed")


def _items(value: Any) -> tuple[Any, ...]:
    """The values inside a tuple, list or mapping given to a format; else the value itself."""
    if isinstance(value, dict):
        return tuple(value.values())
    return tuple(value) if isinstance(value, tuple | list) else (value,)


def _check_format(text: Any, *values: Any) -> None:
    """Refuse a format string (`%` or `str.format`) with a huge width, written in it or taken
    from `values` (`'%*d' % (10**9, 1)`)."""
    if not isinstance(text, str):
        return
    from_values = _ARGUMENT_WIDTH.search(text) and any(_is_huge(value) for value in values)
    if _HUGE_FORMAT.search(text) or from_values:
        raise SecurityError(f"a format width of more than {MAX_VALUE_SIZE} is not allowed")


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


def filter_expression(text: str) -> str:
    """`{{ record.lang == 'en' }}` or `record.lang == 'en'` -> the bare expression."""
    stripped = text.strip()
    if stripped.startswith("{{") and stripped.endswith("}}"):
        return stripped[2:-2].strip()
    return stripped


def template_syntax_problem(source: str, expression: bool = False) -> str | None:
    """The Jinja syntax error of a template or filter expression, or None when it parses."""
    try:
        if expression:
            sandbox().compile_expression(filter_expression(source))
            return None
        tree = sandbox().parse(source)
    except TemplateSyntaxError as error:
        kind = "expression" if expression else "template"
        return f"does not parse as a Jinja {kind} (its line {error.lineno}): {error.message}"
    for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        tag = type(node).__name__.lower().replace("fromimport", "from ... import")
        return (
            f"uses {{% {tag} %}} (its line {node.lineno}): a template here is one piece of "
            "text and cannot load other templates"
        )
    return None
