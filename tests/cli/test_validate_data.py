"""`validate --data` reads the first records of each source and makes examples of them, so a
misnamed field or template column is found in a second, with a did-you-mean, no model loaded."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import WriteFiles, invoke

CSV = "question,answr\nWhat is it?,That\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            '  template: "Q: {{ record.question }} A: {{ record.answer }}"\n',
            "d.csv:2: data.template: uses a missing field: 'dict object' has no attribute "
            "'answer'; did you mean 'answr'?\n    hint: fields here: question, answr",
        ),
        (
            "  format: completion\n",
            "d.csv:2: data: field 'prompt' is missing or not a non-empty string\n",
        ),
    ],
    ids=["template column", "no such field"],
)
def test_a_misnamed_field_is_found_with_a_did_you_mean(
    write: WriteFiles, data: str, message: str
) -> None:
    recipe = write("r.yaml", "data:\n  sources: [{type: csv, path: d.csv}]\n" + data, "d.csv", CSV)
    assert invoke("validate", str(recipe))[0] == 0  # the recipe itself is fine
    code, _, err = invoke("validate", str(recipe), "--data")
    assert code == 2 and message in err


def test_a_text_field_close_to_a_column_is_suggested(write: WriteFiles) -> None:
    source = "  sources: [{type: csv, path: d.csv, text_field: answer}]\n"
    recipe = write("r.yaml", "data:\n" + source, "d.csv", CSV)
    code, _, err = invoke("validate", str(recipe), "--data")
    assert code == 2
    assert (
        "d.csv:2: data: field 'answer' is missing or not a non-empty string; did you mean " in err
    )


def test_good_records_pass_and_no_model_library_is_imported(write: WriteFiles) -> None:
    recipe = write(
        "r.yaml",
        "data:\n  sources: [{type: csv, path: d.csv, filter: \"record.question != ''\"}]\n"
        "  template: '{{ record.question }} {{ record.answr }}'\n",
        "d.csv",
        CSV * 3,
    )
    code, out, err = invoke("validate", str(recipe), "--data")
    assert code == 0, err
    assert out.startswith(f"ok   {recipe} (recipe 'r'; its first 5 records make examples)")
    script = (
        "import sys\nfrom click.testing import CliRunner\n"
        "from smolora_recipes.cli.main import main\n"
        f"result = CliRunner().invoke(main, ['validate', {str(recipe)!r}, '--data'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted({'torch', 'transformers', 'datasets'} & set(sys.modules)))\n"
    )
    imported = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert imported.stdout.strip() == "[]", imported.stderr
