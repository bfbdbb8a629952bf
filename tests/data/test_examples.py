"""Records -> examples: templates (sandboxed), filters, renames, limits, formats, dedup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smolora_recipes.data.examples import ExampleStats, build_examples
from smolora_recipes.data.records import DataError
from smolora_recipes.data.selection import weighted_indices
from smolora_recipes.recipe.data_section import DataSection


def section(tmp_path: Path, lines: list[str], source: dict | None = None, **fields: Any):
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    spec = {"type": "jsonl", "path": tmp_path / "a.jsonl", **(source or {})}
    return DataSection(sources=[spec], **fields)


def build(data: DataSection, base_dir: Path) -> tuple[list[dict], ExampleStats, list[dict]]:
    stats = ExampleStats()
    rows = list(build_examples(data, base_dir, None, stats))
    return [json.loads(row["payload"]) for row in rows], stats, rows


def error_of(data: DataSection, base_dir: Path) -> str:
    with pytest.raises(DataError) as caught:
        build(data, base_dir)
    return caught.value.render()


def test_template_renders_records(tmp_path: Path) -> None:
    data = section(
        tmp_path, ['{"q": "Hi?", "a": "Yo"}'], template="Q: {{ record.q }}\nA: {{ record.a }}"
    )
    assert build(data, tmp_path)[0] == [{"text": "Q: Hi?\nA: Yo"}]


def test_template_missing_field_names_field_and_record(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = section(tmp_path, ['{"q": "x", "a": "y"}', '{"q": "x"}'], template="{{ record.a }}")
    text = error_of(data, tmp_path)
    assert "a.jsonl:2: data.template: uses a missing field" in text
    assert "'a'" in text and "fields here: q" in text


def test_sandbox_refuses_internals(tmp_path: Path) -> None:
    data = section(tmp_path, ['{"q": "x"}'], template="{{ ''.__class__.__mro__ }}")
    assert "refused by the sandbox" in error_of(data, tmp_path)


def test_filter_keeps_matching_records_and_counts_the_rest(tmp_path: Path) -> None:
    lines = ['{"text": "hello", "lang": "en"}', '{"text": "hallo", "lang": "de"}']
    data = section(tmp_path, lines, {"filter": "{{ record.lang == 'en' }}"})
    examples, stats, _ = build(data, tmp_path)
    assert examples == [{"text": "hello"}]
    assert stats.sources[0].counts.filtered_out == 1 and stats.sources[0].counts.read == 2
    bare = section(tmp_path, lines, {"filter": "record.lang != 'en'"})
    assert build(bare, tmp_path)[0] == [{"text": "hallo"}]


def test_filter_refuses_internals_and_missing_fields(tmp_path: Path) -> None:
    unsafe = section(tmp_path, ['{"text": "x"}'], {"filter": "record.__class__.__mro__"})
    assert "data.sources.0.filter: refused by the sandbox" in error_of(unsafe, tmp_path)
    missing = section(tmp_path, ['{"text": "x"}'], {"filter": "record.lang == 'en'"})
    assert "uses a missing field" in error_of(missing, tmp_path)


def test_fields_rename_columns_for_the_template(tmp_path: Path) -> None:
    data = section(
        tmp_path,
        ['{"Q": "Hi?", "A": "Yo"}'],
        {"fields": {"question": "Q", "answer": "A"}},
        template="{{ record.question }} {{ record.answer }}",
    )
    assert build(data, tmp_path)[0] == [{"text": "Hi? Yo"}]


def test_limit_stops_reading_early(tmp_path: Path) -> None:
    lines = ['{"text": "a"}', '{"text": "b"}', "not json"]
    examples, _, _ = build(section(tmp_path, lines, {"limit": 2}), tmp_path)
    assert examples == [{"text": "a"}, {"text": "b"}]  # the bad line 3 is never read


def test_shuffled_limit_is_a_reproducible_random_sample(tmp_path: Path) -> None:
    lines = [json.dumps({"text": f"t{i}"}) for i in range(50)]
    first, stats, _ = build(section(tmp_path, lines, {"limit": 5, "shuffle": True}), tmp_path)
    again, _, _ = build(section(tmp_path, lines, {"limit": 5, "shuffle": True}), tmp_path)
    other, _, _ = build(
        section(tmp_path, lines, {"limit": 5, "shuffle": True, "seed": 9}), tmp_path
    )
    assert first == again and first != other and len(first) == 5
    assert first != [{"text": f"t{i}"} for i in range(5)]
    assert stats.sources[0].counts.beyond_limit == 45
    numbers = [int(e["text"][1:]) for e in first]
    assert numbers == sorted(numbers)  # file order is kept


def test_text_field_missing(tmp_path: Path) -> None:
    text = error_of(section(tmp_path, ['{"body": "x"}']), tmp_path)
    assert "field 'text' is missing" in text and "fields here: body" in text


def test_malformed_records_are_skipped_when_asked(tmp_path: Path) -> None:
    data = section(tmp_path, ['{"body": "x"}', '{"text": "ok"}'], {"on_error": "skip"})
    examples, stats, _ = build(data, tmp_path)
    assert examples == [{"text": "ok"}] and stats.sources[0].policy.skipped == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": "x"}', "field 'messages' is missing"),
        ('{"messages": [{"role": "robot", "content": "x"}]}', "message 0 has role 'robot'"),
        ('{"messages": [{"role": "user", "content": "x"}]}', "no assistant message"),
    ],
)
def test_chat_records_are_validated(tmp_path: Path, line: str, message: str) -> None:
    assert message in error_of(section(tmp_path, [line], format="chat"), tmp_path)


def test_chat_from_prompt_completion_with_system(tmp_path: Path) -> None:
    line = '{"instruction": "Hi?", "output": "Yo", "sys": "Be brief"}'
    data = section(
        tmp_path,
        [line],
        {"prompt_field": "instruction", "completion_field": "output", "system_field": "sys"},
        format="chat",
    )
    assert build(data, tmp_path)[0] == [
        {
            "messages": [
                {"role": "system", "content": "Be brief"},
                {"role": "user", "content": "Hi?"},
                {"role": "assistant", "content": "Yo"},
            ]
        }
    ]


def test_completion_format_pairs(tmp_path: Path) -> None:
    data = section(tmp_path, ['{"prompt": "2+2=", "completion": " 4"}'], format="completion")
    assert build(data, tmp_path)[0] == [{"prompt": "2+2=", "completion": " 4"}]
    missing = section(tmp_path, ['{"prompt": "2+2="}'], format="completion")
    assert "field 'completion' is missing" in error_of(missing, tmp_path)


def test_chunking_in_build_is_counted(tmp_path: Path) -> None:
    data = section(tmp_path, ['{"text": "a b c d e f g"}'], chunking={"size": 3})
    examples, stats, rows = build(data, tmp_path)
    assert [e["text"] for e in examples] == ["a b c", "d e f", "g"]
    assert stats.chunking is not None and stats.chunking.chunks == 3
    assert {row["origin"] for row in rows} == {"a.jsonl:1"}


def test_dedup_counts(tmp_path: Path) -> None:
    lines = ['{"text": "same"}', '{"text": "same"}', '{"text": "other"}']
    examples, stats, _ = build(section(tmp_path, lines), tmp_path)
    assert len(examples) == 2 and stats.duplicates_removed == 1
    kept, stats, _ = build(section(tmp_path, lines, dedup=False), tmp_path)
    assert len(kept) == 3 and stats.duplicates_removed == 0


def test_weighted_indices_up_and_down_sample_reproducibly() -> None:
    sources = [0] * 100 + [1] * 100
    indices = weighted_indices(sources, [2.5, 0.3], seed=1)
    assert indices is not None
    from_first = sum(1 for i in indices if sources[i] == 0)
    from_second = sum(1 for i in indices if sources[i] == 1)
    assert 230 <= from_first <= 270 and 15 <= from_second <= 45
    assert weighted_indices(sources, [2.5, 0.3], seed=1) == indices
    assert weighted_indices(sources, [1.0, 1.0], seed=1) is None


def test_records_of_several_sources_keep_their_source_index(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"text": "a"}\n')
    (tmp_path / "b.csv").write_text("body\nb\n")
    data = DataSection(
        sources=[
            {"type": "jsonl", "path": tmp_path / "a.jsonl"},
            {"type": "csv", "path": tmp_path / "b.csv", "text_field": "body"},
        ]
    )
    _, stats, rows = build(data, tmp_path)
    assert [(row["source"], row["origin"]) for row in rows] == [(0, "a.jsonl:1"), (1, "b.csv:2")]
    assert [s.to_json()["examples"] for s in stats.sources] == [1, 1]
