"""The environment chat templates run in: the bounded sandbox, shaped like transformers' own.

A chat template comes from a recipe (`data.chat_template`) or from a model folder, and either
may be hostile. transformers renders templates in an immutable Jinja sandbox with no size
bound (`'a' * 3000000000` builds 3 GB in one call), so we render them ourselves in
`BoundedSandbox` with what transformers gives a template (its documented contract):
`trim_blocks`/`lstrip_blocks`, loop controls, `{% generation %}` blocks, `raise_exception`,
`strftime_now`, a `tojson` that does not escape HTML, `dict` and a `namespace` that refuses
underscore names; undefined values are lenient, as there. A test renders real templates both
ways and compares.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar

from jinja2 import TemplateError, nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.parser import Parser
from jinja2.runtime import Namespace
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from smolora_recipes.core.sandbox import BoundedSandbox


class _GenerationBlocks(Extension):
    """`{% generation %}...{% endgeneration %}` (marks assistant text for transformers' masks):
    rendered as its body; our loss masks come from rendering conversation prefixes."""

    tags: ClassVar[set[str]] = {"generation"}

    def parse(self, parser: Parser) -> nodes.Node:
        """The block's body, unchanged."""
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


class _TemplateNamespace(Namespace):
    """`namespace(...)` that refuses underscore names (they lead to Python internals)."""

    def __init__(*args: Any, **kwargs: Any) -> None:
        self, args = args[0], args[1:]
        values = dict(*args, **kwargs)
        for name in values:
            _check_name(name)
        Namespace.__init__(self, values)

    def __setitem__(self, name: str, value: Any) -> None:
        _check_name(name)
        Namespace.__setitem__(self, name, value)


class _TemplateDict:
    """`dict(...)` and `dict.fromkeys(...)`, without the type's other attributes."""

    def __call__(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        return dict(*args, **kwargs)

    def fromkeys(self, *args: Any) -> dict[Any, Any]:
        """A mapping with the given keys."""
        return dict.fromkeys(*args)


def _check_name(name: Any) -> None:
    if isinstance(name, str) and name.startswith("_"):
        raise SecurityError(f"a namespace attribute may not start with an underscore: {name!r}")


def _raise_exception(message: str) -> None:
    """A template's way to refuse a conversation."""
    raise TemplateError(message)


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    """JSON as written, without Jinja's HTML escaping."""
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _strftime_now(format: str) -> str:
    """Today's date or time, formatted (templates that print a knowledge cutoff use it)."""
    return datetime.now().strftime(format)


class _BoundedChatSandbox(BoundedSandbox, ImmutableSandboxedEnvironment):
    """Bounded in size and time, and lists, dicts and sets may not be changed in place."""


def chat_sandbox() -> BoundedSandbox:
    """A fresh environment for chat templates."""
    environment = _BoundedChatSandbox(
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        optimized=False,
        extensions=[_GenerationBlocks, loopcontrols],
    )
    environment.filters["tojson"] = _tojson
    environment.globals.update(
        raise_exception=_raise_exception,
        strftime_now=_strftime_now,
        dict=_TemplateDict(),
        namespace=_TemplateNamespace,
    )
    return environment
