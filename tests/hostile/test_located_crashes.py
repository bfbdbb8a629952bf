"""Input that used to crash with a traceback or "internal error" now gets a located error (exit
2): deep nesting in a recipe or `--set`, recursive aliases, numbers and escapes JSON allows but
text cannot hold, negative seeds, empty paths, templates loading other templates or touching
Python internals, a torn cache bookkeeping line, and damaged run folders."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from smolora_recipes.data.readers import read_source
from smolora_recipes.data.records import DataError, ErrorPolicy
from smolora_recipes.recipe.data_section import DataSection
from smolora_recipes.run.state import RunState
from smolora_recipes.store.cache import USES, StepCache
from tests.conftest import MINIMAL_RECIPE, WriteFiles, invoke
from tests.tiny_runs import write_tiny_recipe

DEEP = "[" * 500 + "]" * 500


@pytest.mark.parametrize(
    ("text", "overrides", "expected"),
    [
        (MINIMAL_RECIPE + f"lora: {{target_modules: {DEEP}}}\n", [], "r.yaml:8:"),
        (MINIMAL_RECIPE, ["--set", f"lora.r={DEEP}"], f"--set lora.r={DEEP}:1:"),
        (MINIMAL_RECIPE + "lora: {target_modules: &a [*a]}\n", [], "r.yaml:8:"),
    ],
)
def test_nesting_beyond_the_limit_is_located(
    write: WriteFiles, text: str, overrides: list[str], expected: str
) -> None:
    recipe = write("r.yaml", text, "data/train.jsonl", '{"text": "a"}\n')
    code, _, err = invoke("validate", str(recipe), *overrides)
    assert code == 2
    assert expected in err and "nested deeper than 40 levels" in err
    assert "internal error" not in err


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"text": ' + "9" * 100_000 + "}", "Exceeds the limit (4300 digits)"),
        ('{"text": "\\ud800"}', "a \\uXXXX escape gives a lone surrogate, not a character"),
        ('{"text": "\\ud83d\\ude00 fine"}', None),  # a surrogate pair is one character
    ],
)
def test_json_that_text_cannot_hold_is_a_located_record_error(
    tmp_path: Path, line: str, reason: str | None
) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "first"}\n' + line + "\n", encoding="utf-8")
    for on_error in ("skip", "fail"):
        data = DataSection.model_validate(
            {"sources": [{"type": "jsonl", "path": path, "on_error": on_error}]}
        )
        policy = ErrorPolicy(on_error)
        if reason is None:
            records = list(read_source(data.sources[0], 0, tmp_path, policy))
            assert records[1].fields["text"] == "\U0001f600 fine"
        elif on_error == "skip":
            assert len(list(read_source(data.sources[0], 0, tmp_path, policy))) == 1
            assert policy.skipped == 1 and reason in policy.quoted[0]
        else:
            with pytest.raises(DataError) as caught:
                list(read_source(data.sources[0], 0, tmp_path, policy))
            problem = caught.value.problems[0]
            assert (problem.location.line, reason in problem.message) == (2, True)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("data.seed=-1", "data.seed: input should be greater than or equal to 0; got -1"),
        ("sft.seed=-1", "sft.seed: input should be greater than or equal to 0; got -1"),
        ("data.sources.0.path=''", "data.sources.0.path: empty path"),
        ("data.sources.0.path=", "data.sources.0.path: input should be a path"),
    ],
)
def test_values_that_crashed_later_are_refused_at_validation(
    minimal: Path, setting: str, message: str
) -> None:
    code, _, err = invoke("validate", str(minimal), "--set", setting)
    assert code == 2 and f"--set {setting}: {message}" in err


@pytest.mark.parametrize(
    "tag",
    ["{% include 'x' %}", "{% import 'x' as y %}", "{% extends 'x' %}", "{% from 'x' import y %}"],
)
def test_a_template_cannot_load_other_templates(write: WriteFiles, tag: str) -> None:
    recipe = write(
        "r.yaml",
        MINIMAL_RECIPE.replace("data:\n", f'data:\n  format: text\n  template: "{tag}"\n'),
        "data/train.jsonl",
        '{"text": "a"}\n',
    )
    code, _, err = invoke("validate", str(recipe))
    assert code == 2
    assert "r.yaml:4:3: data.template: uses {% " in err
    assert "cannot load other templates" in err


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{ messages.__class__.__mro__ }}", "unsafe"),
        ("{{ 'a' * 3000000000 }}", "builds more than 1000000 items"),
        (
            "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
            "took longer than 2 s",
        ),
    ],
)
def test_a_chat_template_refused_or_stopped_names_the_conversation(
    tmp_path: Path, tiny_model_dir: Path, template: str, reason: str
) -> None:
    data = (
        "data:\n  sources: [{type: jsonl, path: data/train.jsonl}]\n  format: chat\n"
        f'  chat_template: "{template}"\n'
    )
    recipe = write_tiny_recipe(tmp_path, tiny_model_dir, data=data)
    code, _, err = invoke("preview", str(recipe))
    assert code == 2
    assert re.search(r"data/train\.jsonl:\d+: data\.chat_template: the chat template failed", err)
    assert reason in err and "internal error" not in err


def test_a_torn_line_in_a_cache_entrys_use_record_is_skipped(
    tmp_path: Path, tiny_run: RunState
) -> None:
    cache = StepCache(tmp_path / "cache")
    staging = cache.staging_dir("load", "f" * 64)
    (staging / "model.json").write_text("{}")
    entry = cache.commit("load", "f" * 64, staging, {}, "r/1")
    cache.record_use(entry, "r/2")
    with (entry.path / USES).open("a") as handle:
        handle.write('{"run": "r/3", "ti')  # a run killed mid-write
    assert [use["run"] for use in entry.uses()] == ["r/2"]
    code, out, err = invoke("cache", "ls", "--dir", str(cache.root))
    assert code == 0, err
    assert "load" in out


@pytest.fixture
def run_copy(tiny_run: RunState, tmp_path: Path) -> Path:
    """A copy of a finished run folder, to damage."""
    copy = tmp_path / "run"
    shutil.copytree(tiny_run.run_dir, copy, symlinks=False)
    return copy


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda run: truncate(run / "merged" / "model.safetensors"), "damaged weights file: "),
        (lambda run: (run / "model.json").write_text('{"runtime": '), "damaged run folder: "),
        (lambda run: (run / "model.json").write_text("{}"), "damaged run folder: "),
        (lambda run: (run / "recipe.resolved.yaml").write_text("a: [\n"), "damaged run folder: "),
        (lambda run: (run / "merged" / "tokenizer.json").unlink(), "damaged run folder: "),
    ],
)
def test_generate_on_a_damaged_run_folder_is_a_located_error(
    run_copy: Path, damage: object, message: str
) -> None:
    damage(run_copy)  # type: ignore[operator]
    code, _, err = invoke("generate", str(run_copy), "-p", "hi", "--max-new-tokens", "2")
    assert code == 2, err
    assert message in err and "internal error" not in err


def test_report_on_a_damaged_report_json_is_a_located_error(run_copy: Path) -> None:
    (run_copy / "report.json").write_text('{"report_version": 1, "steps": [')
    code, _, err = invoke("report", str(run_copy))
    assert code == 2 and "report.json is not valid JSON" in err
    report = json.dumps({"report_version": 1})
    (run_copy / "report.json").write_text(report)  # valid JSON, nothing in it: rendered as such
    code, out, err = invoke("report", str(run_copy))
    assert code == 0 and "internal error" not in err
    assert out.count("wrote ") == 2
