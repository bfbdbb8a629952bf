"""Jinja templates over records, sandboxed: no attribute access to internals, no undefined."""

from __future__ import annotations

from jinja2 import StrictUndefined, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from smolora_recipes.data.records import DataError, Record, record_error


class RecordTemplate:
    """`data.template`, compiled once; renders one record exposed as `record`."""

    def __init__(self, source: str) -> None:
        environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self.template = environment.from_string(source)

    def render(self, record: Record) -> str:
        """The training text for `record`; a missing field or unsafe access is a located error."""
        try:
            return self.template.render(record=record.fields)
        except SecurityError as error:
            raise self._error(
                record,
                f"template refused by the sandbox: {error}",
                "templates can read record fields only",
            ) from None
        except UndefinedError as error:
            raise self._error(
                record,
                f"template uses a missing field: {error.message}",
                f"fields here: {', '.join(record.fields) or 'none'}",
            ) from None
        except TemplateError as error:
            raise self._error(record, f"template failed: {error}", "") from None

    @staticmethod
    def _error(record: Record, message: str, hint: str) -> DataError:
        return record_error(record, message, field="data.template", hint=hint)
