"""Every way a record template or filter fails, rendered whole: the record's place, the field,
what went wrong and the hint."""

from __future__ import annotations

import pytest

from smolora_recipes.core import sandbox
from smolora_recipes.data.records import DataError, Record
from smolora_recipes.data.templates import RecordFilter, RecordTemplate

RECORD = Record({"a": "x", "z": 0}, "d.jsonl:4")


class NoMemory:
    """A field value that runs out of memory when shown."""

    def __str__(self) -> str:
        raise MemoryError


def template_failure(source: str, record: Record = RECORD) -> str:
    with pytest.raises(DataError) as raised:
        RecordTemplate(source).render(record)
    return raised.value.render()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "{{ record.missing }}",
            "uses a missing field: 'dict object' has no attribute 'missing'"
            "\n    hint: fields here: a, z",
        ),
        (
            "{{ record.a.__class__ }}",
            "refused by the sandbox: access to attribute '__class__' of 'str' object is unsafe."
            "\n    hint: templates and filters can read record fields only",
        ),
        (
            "{% if record.a %}{{ record.a | nosuchfilter }}{% endif %}",
            "failed: No filter named 'nosuchfilter' found.",
        ),
        ("{{ record.a + 1 }}", 'failed: TypeError: can only concatenate str (not "int") to str'),
        ("{{ range(1, 2, 0) }}", "failed: ValueError: range() arg 3 must not be zero"),
        ("{{ 1 // record.z }}", "failed: ZeroDivisionError: integer division or modulo by zero"),
    ],
    ids=["missing field", "sandbox", "template error", "type", "value", "arithmetic"],
)
def test_a_template_failure_names_the_record_and_the_field(source: str, message: str) -> None:
    assert template_failure(source) == f"d.jsonl:4: data.template: {message}"


def test_a_record_without_fields_says_so() -> None:
    assert template_failure("{{ record.text }}", Record({}, "d.csv:2")).endswith(
        "\n    hint: fields here: none"
    )


def test_running_out_of_memory_is_a_located_error() -> None:
    record = Record({"huge": NoMemory()}, "d.jsonl:9")
    assert template_failure("{{ record.huge }}", record) == (
        "d.jsonl:9: data.template: needs more memory than this machine has"
    )


def test_a_template_running_too_long_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "RENDER_SECONDS", 0.25)
    looping = "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
    assert template_failure(looping) == (
        "d.jsonl:4: data.template: took longer than 0.25 s for one record"
        "\n    hint: look for a loop that does not end, or loops nested too deep"
    )


def test_a_filter_on_a_missing_field_fails_instead_of_dropping_the_record() -> None:
    keeps = RecordFilter("record.lang", "data.sources.1.filter")
    assert keeps.keeps(Record({"lang": "en"}, "d.jsonl:1"))
    with pytest.raises(DataError) as raised:
        keeps.keeps(Record({"text": "t"}, "d.jsonl:2"))
    assert raised.value.render() == (
        "d.jsonl:2: data.sources.1.filter: uses a missing field: 'dict object' has no "
        "attribute 'lang'\n    hint: fields here: text"
    )
