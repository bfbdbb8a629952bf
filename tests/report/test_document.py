"""One document model, two renderings: every block type renders in both, every section shows
in both."""

from __future__ import annotations

import copy
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


def _every_section() -> dict[str, object]:
    """FULL plus what it lacks: warnings, an error, references, skipped lines, examples."""
    report = copy.deepcopy(FULL)
    report["warnings"] = ["trust_remote_code is true"]
    report["error"] = {"step": "train", "type": "WorkerError", "message": "rank 1", "log": "l"}
    report["recipe"]["references"] = [{"reference": "builtin:quickstart", "commit": None}]
    report["data"]["sources"][0]["skipped_examples"] = ["a.jsonl:3: not JSON"]
    report["data"]["examples_preview"] = [
        {"origin": "a.jsonl:1", "tokens": 3, "loss_tokens": 1, "segments": [["Q ", 0], ["A", 1]]}
    ]
    return report


def test_every_section_of_the_document_shows_in_both_renderings() -> None:
    report = _every_section()
    blocks = document(report)
    kinds = {type(block) for block in blocks}
    assert kinds == set(typing.get_args(Block))  # the fixture reaches every block type
    headings = [block for block in blocks if isinstance(block, Heading)]
    # results first (what the run learned), then how it was made (issue 22, item 10)
    texts = [h.text for h in headings]
    order = [texts.index(name) for name in ("Samples", "Training", "Data", "Recipe", "Steps")]
    assert texts[0] == "Samples" and order == sorted(order)
    markdown, html = render_markdown(report), render_html(report)
    for block in headings:
        assert f"{'#' * block.level} {block.text}\n" in markdown, block.text
        assert f"<h{block.level}>{escape(block.text)}</h{block.level}>" in html, block.text
    for text in ("trust_remote_code is true", "rank 1", "builtin:quickstart", "not JSON"):
        assert text in markdown and escape(text) in html, text
    assert "`a.jsonl:1 · 3 tokens, 1 carry loss`" in markdown and "Q [[A]]" in markdown
    assert "Q <mark>A</mark>" in html
    assert "Run `20261125-1` in" in markdown and "Run <code>20261125-1</code> in" in html
