"""Records -> examples: templates (sandboxed), chat validation, chunking, dedup, split."""

from __future__ import annotations

from pathlib import Path

import pytest

from smolora_recipes.data.chunking import chunk_words
from smolora_recipes.data.examples import Example, build_examples, split_examples
from smolora_recipes.data.records import DataError
from smolora_recipes.recipe.schema import DataSection


def section(tmp_path: Path, lines: list[str], **fields: object) -> DataSection:
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    return DataSection(sources=[{"type": "jsonl", "path": tmp_path / "a.jsonl"}], **fields)


def error_of(data: DataSection, base_dir: Path) -> str:
    with pytest.raises(DataError) as caught:
        build_examples(data, base_dir)
    return caught.value.render()


def test_template_renders_records(tmp_path: Path) -> None:
    data = section(
        tmp_path,
        ['{"q": "Hi?", "a": "Yo"}'],
        eval_split=0,
        template="Q: {{ record.q }}\nA: {{ record.a }}",
    )
    assert build_examples(data, tmp_path).train[0].text == "Q: Hi?\nA: Yo"


def test_template_missing_field_names_field_and_record(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = section(tmp_path, ['{"q": "x", "a": "y"}', '{"q": "x"}'], template="{{ record.a }}")
    text = error_of(data, tmp_path)
    assert "a.jsonl:2: data.template: template uses a missing field" in text
    assert "'a'" in text and "fields here: q" in text


def test_sandbox_refuses_internals(tmp_path: Path) -> None:
    data = section(tmp_path, ['{"q": "x"}'], template="{{ ''.__class__.__mro__ }}")
    assert "refused by the sandbox" in error_of(data, tmp_path)


def test_text_field_missing(tmp_path: Path) -> None:
    text = error_of(section(tmp_path, ['{"body": "x"}']), tmp_path)
    assert "field 'text' is missing" in text and "fields here: body" in text


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": "x"}', "field 'messages' is missing"),
        ('{"messages": [{"role": "robot", "content": "x"}]}', "message 0 must be"),
        ('{"messages": [{"role": "user", "content": "x"}]}', "no assistant message"),
    ],
)
def test_chat_records_are_validated(tmp_path: Path, line: str, message: str) -> None:
    assert message in error_of(section(tmp_path, [line], format="chat"), tmp_path)


def test_chunking_keeps_every_word_with_overlap() -> None:
    words = [f"w{i}" for i in range(10)]
    chunks = chunk_words(" ".join(words), size=4, overlap=1)
    assert chunks == ["w0 w1 w2 w3", "w3 w4 w5 w6", "w6 w7 w8 w9"]
    assert {w for chunk in chunks for w in chunk.split()} == set(words)
    assert chunk_words("a b", 4, 0) == ["a b"] and chunk_words("   ", 4, 0) == []


def test_chunking_in_build(tmp_path: Path) -> None:
    data = section(
        tmp_path, ['{"text": "a b c d e f g"}'], eval_split=0, chunking={"size": 3, "overlap": 0}
    )
    built = build_examples(data, tmp_path)
    assert sorted(e.text for e in built.train) == ["a b c", "d e f", "g"]
    assert built.stats.rows_total == 1 and built.stats.rows_after_chunking == 3


def test_dedup_counts(tmp_path: Path) -> None:
    lines = ['{"text": "same"}', '{"text": "same"}', '{"text": "other"}']
    built = build_examples(section(tmp_path, lines, eval_split=0), tmp_path)
    assert len(built.train) == 2 and built.stats.duplicates_removed == 1
    kept = build_examples(section(tmp_path, lines, eval_split=0, dedup=False), tmp_path)
    assert len(kept.train) == 3 and kept.stats.duplicates_removed == 0


def test_split_is_deterministic_and_sized() -> None:
    examples = [Example(f"t{i}", None, f"f:{i}") for i in range(20)]
    train, held = split_examples(examples, 0.1, seed=7)
    assert len(held) == 2 and len(train) == 18
    assert split_examples(examples, 0.1, seed=7) == (train, held)
    assert split_examples(examples, 0.1, seed=8) != (train, held)
    assert split_examples(examples, 0.0, seed=7)[1] == []
    assert len(split_examples(examples[:3], 0.01, seed=7)[1]) == 1  # at least one when asked


def test_no_examples_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text("\n\n")
    data = DataSection(sources=[{"type": "jsonl", "path": tmp_path / "a.jsonl"}])
    assert "produced no examples" in error_of(data, tmp_path)


def test_stats_per_source(tmp_path: Path) -> None:
    built = build_examples(section(tmp_path, ['{"text": "a"}', '{"text": "b"}']), tmp_path)
    assert built.stats.sources == [{"name": "a.jsonl", "type": "jsonl", "rows": 2}]
    assert built.stats.train_rows + built.stats.eval_rows == 2
