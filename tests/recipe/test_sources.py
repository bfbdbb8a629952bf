"""Data source models: Jinja checks of filters and templates, and the rules between fields."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from smolora_recipes.recipe.sources import CsvSource, JsonlSource, checked_jinja


@pytest.mark.parametrize(
    ("value", "expression", "error"),
    [
        (None, True, None),
        (None, False, None),
        ("hello world", False, None),  # plain text is a template
        ("record.lang == 'en'", True, None),
        ("{{ record.lang == 'en' }}", True, None),
        (
            "hello world",
            True,
            "does not parse as a Jinja expression (its line 1): chunk after expression",
        ),
        (
            "{{ a",
            False,
            "does not parse as a Jinja template (its line 1): unexpected end of template, "
            "expected 'end of print statement'.",
        ),
    ],
)
def test_checked_jinja(value: str | None, expression: bool, error: str | None) -> None:
    if error is None:
        assert checked_jinja(value, expression) == value
        return
    with pytest.raises(ValueError) as caught:
        checked_jinja(value, expression)
    assert str(caught.value) == error


def test_a_source_filter_is_checked_as_an_expression() -> None:
    assert JsonlSource(type="jsonl", path=Path("a"), filter="record.n > 1").filter == "record.n > 1"
    with pytest.raises(ValidationError) as caught:
        JsonlSource(type="jsonl", path=Path("a"), filter="two words")
    assert "does not parse as a Jinja expression (its line 1)" in str(caught.value)


def test_shuffle_needs_a_limit() -> None:
    with pytest.raises(ValidationError) as caught:
        CsvSource(type="csv", path=Path("a.csv"), shuffle=True)
    assert "shuffle picks `limit` records at random, so it needs `limit`" in str(caught.value)
    chosen = CsvSource(type="csv", path=Path("a.csv"), shuffle=True, limit=3)
    assert chosen.shuffle is True and chosen.limit == 3
    assert CsvSource(type="csv", path=Path("a.csv"), shuffle=False).shuffle is False


def test_one_file_sources_describe_their_path() -> None:
    assert JsonlSource.model_fields["path"].description == (
        "The .jsonl file, relative to the recipe that names it."
    )
    assert CsvSource.model_fields["path"].description == (
        "The CSV file, relative to the recipe that names it."
    )
