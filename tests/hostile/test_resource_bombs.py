"""Resource bombs fail fast, with bounded memory and a located error."""

from __future__ import annotations

import json
import re
import tracemalloc
from pathlib import Path

import pytest
from jinja2.defaults import DEFAULT_FILTERS

from smolora_recipes.data import long_text, readers
from smolora_recipes.data.records import DataError, ErrorPolicy, Record
from smolora_recipes.data.templates import RecordTemplate
from smolora_recipes.plan import inputs
from smolora_recipes.recipe.data_section import DataSection
from smolora_recipes.recipe.sources import JsonlSource
from tests.conftest import MINIMAL_RECIPE, WriteFiles, invoke


def test_a_1_gb_single_line_data_file_is_refused_reading_one_bounded_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 2**20)
    data = tmp_path / "huge.jsonl"
    with data.open("wb") as handle:
        handle.truncate(2**30)  # sparse: 1 GB of NULs without a newline, no disk used
    source = JsonlSource.model_validate({"type": "jsonl", "path": data})
    tracemalloc.start()
    with pytest.raises(DataError) as raised:
        list(readers.read_source(source, 0, tmp_path, ErrorPolicy()))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * 2**20
    assert "huge.jsonl:1: data.sources.0: line longer than 1 MB" in raised.value.render()


def test_a_template_that_loops_forever_is_stopped_after_2_seconds() -> None:
    """At the documented limit itself (README: one record's evaluation stops after 2 s)."""
    template = RecordTemplate(
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
    )
    with pytest.raises(DataError, match=r"took longer than 2 s for one record"):
        template.render(Record({"text": "x"}, "d.jsonl:7"))


DOUBLING = (  # a namespace carries a value across loop turns: 2**40 characters if unbounded
    "{{% set ns = namespace(s='ab', l=['x']) %}}{{% for i in range(40) %}}{step}{{% endfor %}}"
)
DOUBLING_STEPS = (
    "{% set ns.s = ns.s ~ ns.s %}",
    "{% set ns.s = ns.s + ns.s %}",
    "{% set ns.s = ns.s|replace('a', 'aa') %}",
    "{% set ns.s = ns.s.replace('a', 'aa') %}",
    "{% set ns.l = ns.l + ns.l %}",
    "{{ ns.l.extend(ns.l) }}",
)


@pytest.mark.parametrize(
    "source",
    [
        *("{{ 'ab' * 10**9 }}", "{{ [1] * 10**7 }}", "{{ 10 ** 100000000 }}", "{{ 7 ** 99999 }}"),
        *("{{ 'x'|center(10**9) }}", "{{ 'x'.ljust(10**9) }}", "{{ record.text|indent(10**9) }}"),
        *(
            "{{ '%0999999999d' % 1 }}",
            "{{ '%999999999s'|format(1) }}",
            "{{ '{:>999999999}'.format(1) }}",
        ),
        *(
            "{{ '%*d' % (10**9, 1) }}",
            "{{ '{:{}}'.format(1, 10**9) }}",
            "{{ '%*s'|format(10**9, 1) }}",
        ),
        "{{ '{:{w}}'.format(1, w=10**9) }}",
        *("{{ ['x']|batch(400000000, 'y')|list|length }}", "{{ ['x']|slice(10**8)|list }}"),
        *(DOUBLING.format(step=step) for step in DOUBLING_STEPS),
        "{% set a = 'x' * 1000000 %}" + "".join("{% set a = a ~ a %}" for _ in range(7)),
    ],
)
def test_templates_cannot_build_huge_values(source: str) -> None:
    with pytest.raises(DataError, match=r"d\.jsonl:7: data\.template: refused by the sandbox"):
        RecordTemplate(source).render(Record({"text": "x"}, "d.jsonl:7"))


def test_ordinary_arithmetic_and_repetition_still_work() -> None:
    template = RecordTemplate(
        "{{ '-' * 3 }} {{ 2 ** 10 }} {{ record.n * 2 }} {{ '%5.1f' % 3.14 }}"
        " {{ '{:>3}'.format(7) }} {{ 'ab'|center(6) }} {{ '%s-%s'|format(1, 2) }}"
        " {{ '{}'.format(12345678901) }}"
    )
    assert (
        template.render(Record({"n": 21}, "d.jsonl:1"))
        == "--- 1024 42   3.1   7   ab   1-2 12345678901"
    )


def test_validation_compiles_filters_and_templates_without_running_them(
    write: WriteFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    real = DEFAULT_FILTERS["batch"]
    monkeypatch.setitem(DEFAULT_FILTERS, "batch", lambda *a, **k: calls.append(a) or real(*a, **k))
    bomb = "('x'|batch(3, 'y')|list|length) > 0"  # constant: compiling may not run it
    source = f'path: data/train.jsonl\n      filter: "{bomb}"'
    recipe = write(
        "r.yaml",
        MINIMAL_RECIPE.replace("path: data/train.jsonl", source),
        "data/train.jsonl",
        '{"text": "a"}\n',
    )
    code, _, err = invoke("validate", str(recipe))
    assert code == 0, err
    assert calls == []  # Jinja's optimizer folds (runs) constant expressions while compiling


def test_a_sparse_3_gb_recipe_is_refused_reading_no_more_than_the_limit(tmp_path: Path) -> None:
    recipe = tmp_path / "sparse.yaml"
    with recipe.open("wb") as handle:
        handle.truncate(3 * 2**30)  # sparse: no disk used
    tracemalloc.start()
    code, _, err = invoke("validate", str(recipe))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert code == 2 and "sparse.yaml: file is larger than 1000 kB" in err
    assert peak < 16 * 2**20  # it read 1 MB, not 3 GB


def test_a_model_base_that_is_no_model_folder_is_refused_before_hashing(
    minimal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[Path] = []
    monkeypatch.setattr(inputs, "path_sha256", lambda path: hashed.append(path) or "0" * 64)
    code, _, err = invoke("plan", str(minimal), "--set", f"model.base={minimal.parent}")
    assert code == 2
    assert f"model.base: {minimal.parent} is not a model folder (no config.json)" in err
    assert minimal.parent not in hashed


def test_an_oversized_recipe_is_refused_before_parsing(tmp_path: Path) -> None:
    recipe = tmp_path / "big.yaml"
    recipe.write_text("name: big\ndescription: '" + "x" * 1_100_000 + "'\n")
    code, _, err = invoke("validate", str(recipe))
    assert code == 2 and "big.yaml: file is larger than 1000 kB" in err


@pytest.mark.parametrize(
    ("source", "name"),
    [({"type": "json"}, "huge.json"), ({"type": "text_files", "split_by": "file"}, "huge.txt")],
)
def test_a_file_read_whole_is_refused_when_too_big_for_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: dict, name: str
) -> None:
    monkeypatch.setattr(readers, "MAX_WHOLE_FILE_BYTES", 2**20)
    data = tmp_path / name
    with data.open("wb") as handle:
        handle.truncate(2**30)  # sparse, as above
    section = DataSection.model_validate({"sources": [{**source, "path": data}]})
    with pytest.raises(DataError) as raised:
        list(readers.read_source(section.sources[0], 0, tmp_path, ErrorPolicy()))
    assert f"{name}: data.sources.0: file is larger than 1 MB" in raised.value.render()


def test_a_minified_json_file_longer_than_a_line_limit_still_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 100)
    data = tmp_path / "one-line.json"
    data.write_text(json.dumps([{"text": f"record {i}"} for i in range(50)]))
    section = DataSection.model_validate({"sources": [{"type": "json", "path": data}]})
    assert len(list(readers.read_source(section.sources[0], 0, tmp_path, ErrorPolicy()))) == 50


def test_a_huge_record_line_is_tokenized_a_window_at_a_time(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 1 MB text line (the limit is 64 MB) never reaches the tokenizer whole, and its rows
    hold exactly the tokens of one whole call."""
    from transformers import AutoTokenizer
    from transformers.tokenization_utils_base import PreTrainedTokenizerBase

    from tests.tiny_runs import write_tiny_recipe

    text = " ".join(f"word{index % 97} déjà\n" for index in range(110_000))
    recipe = write_tiny_recipe(
        tmp_path,
        tiny_model_dir,
        data="data:\n  sources: [{type: jsonl, path: data/big.jsonl}]\n  format: text\n",
    )
    (tmp_path / "data/big.jsonl").write_text(json.dumps({"text": text}) + "\n")
    longest = []
    original_call = PreTrainedTokenizerBase.__call__

    def recording_call(self: object, text: object = None, *args: object, **options: object):
        texts = [text] if isinstance(text, str) else list(text or [])
        longest.append(max(map(len, texts), default=0))
        return original_call(self, text, *args, **options)

    monkeypatch.setattr(PreTrainedTokenizerBase, "__call__", recording_call)
    code, out, err = invoke("preview", str(recipe))
    monkeypatch.undo()
    assert code == 0, err
    assert len(text) > 4 * long_text.WINDOW_CHARS and max(longest) == long_text.WINDOW_CHARS
    whole = AutoTokenizer.from_pretrained(tiny_model_dir)(text)["input_ids"]
    assert re.search(rf"train tokens\s+{len(whole) + 1}\b", out)  # + eos
