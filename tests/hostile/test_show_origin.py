"""`smolora show --origin` accounts for every value of a recipe built from several places."""

from __future__ import annotations

from tests.conftest import WriteFiles, invoke


def test_every_value_shown_names_its_origin(write: WriteFiles, in_tmp_dir: object) -> None:
    write(
        "base.yaml",
        "name: base\ndata:\n  sources: [{type: jsonl, path: train.jsonl}]\nlora: {r: 8}\n",
        "train.jsonl",
        '{"text": "one"}\n',
    )
    write(
        "child.yaml",
        'extends: base.yaml\nname: child\nlora: {alpha: "${env:SMOLORA_ALPHA:-32}"}\n'
        "samples:\n  prompts: [hi, {prompt: yo, expect: x}]\n",
    )
    code, out, err = invoke("show", "child.yaml", "--origin", "--set", "sft.epochs=2")
    assert code == 0, err
    values = [line for line in out.splitlines() if not line.rstrip().endswith(":")]
    assert values and all("  # " in line for line in values), values
    assert "  r: 8  # base.yaml:4:8 (extends)" in out
    assert "  alpha: 32  # env SMOLORA_ALPHA at child.yaml:3:8" in out
    assert "  epochs: 2.0  # --set sft.epochs=2" in out
    assert "    - prompt: hi  # child.yaml:5:13" in out  # a bare string is its item's prompt
