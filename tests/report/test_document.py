"""One document model, two renderings: every block type renders in both, every section shows
in both."""

from __future__ import annotations

import dataclasses
import typing
from html import escape

import pytest

from smolora_recipes.report.document import Block, Cell, Heading, Text, document
from smolora_recipes.report.html import block_html, render_html
from smolora_recipes.report.markdown import block_lines, render_markdown
from tests.report.test_report import FULL

SAMPLE_VALUES: dict[str, object] = {
    "parts": [Text("a"), Text("b", "code"), Text("c", "strong")],
    "rows": [[Cell("x"), Cell("y", code=True), Cell("z", mark=True)]],
    "items": [("python", "3.11")],
    "lines": ["a bad line"],
    "examples": [],
    "level": 2,
    "header": ["one", "two", "three"],
    "row_classes": ["good"],
}


def _example(kind: type) -> Block:
    values = {
        field.name: SAMPLE_VALUES.get(field.name, "text")
        for field in dataclasses.fields(kind)
        if field.default is dataclasses.MISSING or field.name in SAMPLE_VALUES
    }
    return kind(**values)


@pytest.mark.parametrize("kind", typing.get_args(Block), ids=lambda kind: kind.__name__)
def test_every_block_type_has_both_renderings(kind: type) -> None:
    block = _example(kind)
    assert isinstance(block_lines(block), list)
    assert isinstance(block_html(block), str) and block_html(block)


def test_every_section_of_the_document_shows_in_both_renderings() -> None:
    headings = [block.text for block in document(FULL) if isinstance(block, Heading)]
    assert headings[:3] == ["Recipe", "Steps", "Training"] and "Samples" in headings
    markdown, html = render_markdown(FULL), render_html(FULL)
    for text in headings:
        assert f"# {text}\n" in markdown, text
        assert f">{escape(text)}</h" in html, text
    assert "Run `20261125-1` in" in markdown and "Run <code>20261125-1</code> in" in html
