"""The Jinja environment recipe templates run in: sandboxed, strict, and bounded in size and time.

Jinja's sandbox already refuses internals (`__class__`, `__globals__`), and without a loader
there is no `import` or `include` of files. On top of it nothing may build a huge value in one
C-level call that no timer can interrupt (`'a' * 10**9`, `'a'|center(10**9)`, `'%0999999999d' % 1`,
`x|replace('a', x)`, `batch(400000000)`), no joining (`~`, `+`) or namespace value may grow past
`MAX_TEXT_SIZE` (a doubling loop would reach gigabytes in a second), and one evaluation stops
after `RENDER_SECONDS` (a loop that does not end).
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
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Namespace
from jinja2.sandbox import SandboxedEnvironment, SecurityError

MAX_VALUE_SIZE = 1_000_000  # items or characters one `*` may build; a record is never bigger
MAX_POWER_BITS = 10_000  # `**` results beyond this many bits are a bomb, not arithmetic
MAX_TEXT_SIZE = 64 * 2**20  # characters a joined text may reach: the largest record line's size
RENDER_SECONDS = 2.0  # one record takes microseconds; seconds mean a runaway loop
_WIDTH_FILTERS = ("center", "indent", "wordwrap", "truncate", "batch", "slice")
_WIDTH_METHODS = ("center", "ljust", "rjust", "zfill", "expandtabs")
_HUGE_FORMAT = re.compile(r"%[-+ #0]*\d*\.?\d{7,}|\{[^{}]*:[^{}]*\d{7,}[^{}]*\}")
_ARGUMENT_WIDTH = re.compile(r"%[-+ #0]*\d*\.?\*|\{[^{}]*:[^{}]*\{")  # `%*d`, `{:{}}`


class RenderTimeout(Exception):
    """A template or filter ran longer than `RENDER_SECONDS`."""


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles `a ~ b` to a call the sandbox checks (Jinja writes it inline)."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        """`environment.joined((a, b, ...))` instead of `str_join((a, b, ...))`."""
        self.write("environment.joined((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(SandboxedEnvironment):
    """A sandbox whose operators, string methods and width filters refuse huge results."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset(["*", "**", "%", "+"])

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        for name in _WIDTH_FILTERS:
            self.filters[name] = _with_check(self.filters[name], _check_widths)
        self.filters["format"] = _with_check(self.filters["format"], _check_format)
        self.filters["replace"] = _with_check(self.filters["replace"], _check_replace_filter)

    def joined(self, values: tuple[Any, ...]) -> str:
        """`a ~ b ~ ...`, refused past `MAX_TEXT_SIZE` characters."""
        parts = [str(value) for value in values]
        _check_text_size(sum(map(len, parts)))
        return "".join(parts)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """An attribute; a namespace's value past `MAX_TEXT_SIZE` is refused (a loop grows
        values only through a namespace: Jinja's loops do not carry other assignments)."""
        value = super().getattr(obj, attribute)
        if isinstance(obj, Namespace) and isinstance(value, str | list | tuple | dict):
            _check_built(value, len(value))
        return value

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Check the size of `left * right`, `left ** right`, `left + right` and
        `format % values` first."""
        if operator == "+":
            sized = isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple)
            _check_built(left, len(left) + len(right) if sized else 0)
        elif operator == "*":
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
        elif isinstance(owner, str) and name == "replace":
            _check_replace(owner, *args)
        elif isinstance(owner, list) and name in ("append", "extend", "insert"):
            added = args[-1] if name == "extend" and args else [None]
            _check_built(owner, len(owner) + (len(added) if hasattr(added, "__len__") else 1))
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


def _check_text_size(size: int) -> None:
    """Refuse building a text of more than `MAX_TEXT_SIZE` characters."""
    if size > MAX_TEXT_SIZE:
        raise SecurityError(f"building a text of more than {MAX_TEXT_SIZE} characters")


def _check_built(kind: Any, size: int) -> None:
    """Refuse a text past `MAX_TEXT_SIZE` characters, or a list, tuple or mapping past
    `MAX_VALUE_SIZE` items (each item is a pointer at least)."""
    if isinstance(kind, str):
        _check_text_size(size)
    elif size > MAX_VALUE_SIZE:
        raise SecurityError(f"building a collection of more than {MAX_VALUE_SIZE} items")


def _check_replace(text: Any, old: Any = "", new: Any = "", count: Any = -1, *_: Any) -> None:
    """Refuse `text.replace(old, new)` whose result would pass `MAX_TEXT_SIZE`."""
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    _check_text_size(len(text) + found * max(0, len(new) - len(old)))


def _check_replace_filter(_eval_context: Any, text: Any, *arguments: Any) -> None:
    """The `replace` filter's check (Jinja passes it the evaluation context first)."""
    _check_replace(str(text) if text is not None else text, *arguments)


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
    # not `optimized`: Jinja's optimizer evaluates constant expressions while compiling, so
    # `validate` (which only compiles) would run a recipe's code
    return BoundedSandbox(undefined=StrictUndefined, autoescape=False, optimized=False)


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
