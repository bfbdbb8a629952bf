"""The shared-recipe workflow end to end on the tiny model: a team base recipe in one git
repository, a child recipe in another that extends it by `git+file://` on a branch; run, lock,
then an upstream data change is refused as drift until the lock is updated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import invoke
from tests.git_repos import GitRepo
from tests.tiny_runs import chat_jsonl, tiny_recipe


def test_run_lock_then_upstream_drift_is_refused(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = GitRepo(tmp_path / "team")
    first = team.commit(
        {
            "base.yaml": tiny_recipe(tiny_model_dir, model="").replace("name: tiny", "name: base"),
            "data/train.jsonl": chat_jsonl(),
        }
    )
    reference = f"git+{team.url}@main#base.yaml"
    mine = GitRepo(tmp_path / "mine")
    mine.commit(
        {
            "child.yaml": f"""
                extends: {reference}
                name: child
                model: {{base: {tiny_model_dir}}}
                lora: {{r: 2, alpha: 4}}
                sft: {{max_steps: 2}}
            """
        }
    )
    monkeypatch.chdir(mine.path)

    code, out, err = invoke("run", "child.yaml")
    assert code == 0, err
    report = json.loads((mine.path / "runs/child/latest/report.json").read_text())
    assert report["recipe"]["references"] == [{"reference": reference, "commit": first}]
    assert report["train"]["steps"] == 2

    code, out, _ = invoke("lock", "child.yaml")
    assert code == 0 and out == "wrote child.yaml.lock\n"
    lock = (mine.path / "child.yaml.lock").read_text()
    assert f"  - reference: {reference}\n    commit: {first}\n" in lock
    assert f"    path: {first[:12]}:data/train.jsonl\n" in lock
    assert "  model.base:\n    path: " in lock
    assert invoke("plan", "child.yaml")[0] == 0  # no drift yet

    now = team.commit({"data/train.jsonl": chat_jsonl(repeat=3)}, "more data")
    runs_before = sorted((mine.path / "runs/child").iterdir())
    code, _, err = invoke("run", "child.yaml")
    assert code == 2 and "Traceback" not in err
    assert (
        f"child.yaml.lock:5:5: {reference}: locked at commit {first[:12]}, now commit {now[:12]}"
    ) in err
    assert (
        f"child.yaml.lock:8:3: input data.sources.0.path ({now[:12]}:data/train.jsonl): "
        f"locked at sha256 {lock.split('sha256: ')[1][:12]}, now sha256 "
    ) in err
    assert (
        "hint: the recipe no longer resolves to child.yaml.lock; if that is intended, re-run "
        "with --update-lock"
    ) in err
    assert sorted((mine.path / "runs/child").iterdir()) == runs_before  # nothing ran

    code, out, err = invoke("validate", "child.yaml")
    assert code == 0 and "ok   child.yaml" in out
    assert f"warning: child.yaml.lock:5:5: {reference}: locked at commit" in err
    assert invoke("plan", "child.yaml")[0] == 2
    code, _, err = invoke("plan", "child.yaml", "--update-lock")
    assert code == 0 and "wrote child.yaml.lock" in err
    assert f"commit: {now}\n" in (mine.path / "child.yaml.lock").read_text()
    assert invoke("plan", "child.yaml")[0] == 0
