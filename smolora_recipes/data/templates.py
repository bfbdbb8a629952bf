"""Jinja over records, sandboxed (see `sandbox`): no internals, no undefined values, no bombs.

`RecordTemplate` renders a record into text (`data.template`); `RecordFilter` evaluates a
source's `filter` expression. Both see the record as `record` and nothing else.
"""

from __future__ import annotations

import re

from jinja2 import TemplateError, UndefinedError
from jinja2.sandbox import SecurityError

from smolora_recipes.core import sandbox as limits
from smolora_recipes.core.sandbox import RenderTimeout, filter_expression, sandbox, time_limit
from smolora_recipes.data.records import DataError, Record, did_you_mean, record_error

_MISSING_ATTRIBUTE = re.compile(r"has no attribute '([^']*)'")


class _Evaluated:
    """Shared error handling: sandbox refusals and missing fields become located errors."""

    field = ""

    def _call(self, record: Record, evaluate: object) -> object:
        try:
            with time_limit(limits.RENDER_SECONDS):
                return evaluate(record=record.fields)  # type: ignore[operator]
        except RenderTimeout:
            raise self._error(
                record,
                f"took longer than {limits.RENDER_SECONDS:g} s for one record",
                "look for a loop that does not end, or loops nested too deep",
            ) from None
        except SecurityError as error:
            raise self._error(
                record,
                f"refused by the sandbox: {error}",
                "templates and filters can read record fields only",
            ) from None
        except UndefinedError as error:
            missing = _MISSING_ATTRIBUTE.search(error.message or "")
            guess = did_you_mean(missing.group(1), record) if missing else ""
            raise self._error(
                record,
                f"uses a missing field: {error.message}{guess}",
                f"fields here: {', '.join(record.fields) or 'none'}",
            ) from None
        except TemplateError as error:
            raise self._error(record, f"failed: {error}", "") from None
        except MemoryError:
            raise self._error(record, "needs more memory than this machine has", "") from None
        except (TypeError, ValueError, ArithmeticError) as error:
            raise self._error(record, f"failed: {type(error).__name__}: {error}", "") from None

    def _error(self, record: Record, message: str, hint: str) -> DataError:
        return record_error(record, message, field=self.field, hint=hint)


class RecordTemplate(_Evaluated):
    """`data.template`, compiled once; renders one record exposed as `record`."""

    field = "data.template"

    def __init__(self, source: str) -> None:
        self.template = sandbox().from_string(source)

    def render(self, record: Record) -> str:
        """The training text for `record`; a missing field or unsafe access is a located error."""
        return str(self._call(record, self.template.render))


class RecordFilter(_Evaluated):
    """A source's `filter`, compiled once; True keeps the record."""

    def __init__(self, source: str, field: str) -> None:
        expression = filter_expression(source)  # undefined stays undefined: unsafe access fails
        self.expression = sandbox().compile_expression(expression, undefined_to_none=False)
        self.field = field

    def keeps(self, record: Record) -> bool:
        """Whether the expression is true for `record`."""
        return bool(self._call(record, lambda **names: bool(self.expression(**names))))
