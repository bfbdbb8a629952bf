"""`data.system_prompt` leads every conversation that has no system message, in training and
in every place the model is asked afterwards (samples, `generate`, `serve`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smolora_recipes.core.errors import RecipeError
from smolora_recipes.data.conversations import with_system_prompt
from smolora_recipes.inference.finished_run import FinishedRun
from smolora_recipes.inference.requests import prompt_texts as request_texts
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.steps.sample import prompt_texts
from tests.tiny_runs import write_tiny_recipe

USER = {"role": "user", "content": "hi"}
OWN = {"role": "system", "content": "mine"}


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.mark.parametrize(
    ("messages", "system_prompt", "expected"),
    [
        ([USER], "Be brief.", [{"role": "system", "content": "Be brief."}, USER]),
        ([USER], "", [{"role": "system", "content": ""}, USER]),
        ([OWN, USER], "Be brief.", [OWN, USER]),  # a conversation's own system message wins
        ([USER], None, [USER]),  # the chat template decides
    ],
)
def test_a_conversation_without_a_system_message_gets_the_recipes(
    messages: list[dict[str, str]], system_prompt: str | None, expected: list[dict[str, str]]
) -> None:
    assert with_system_prompt(messages, system_prompt) == expected


def chat_recipe(tmp_path: Path, model: Path, extra: str) -> Any:
    data = "data:\n  sources: [{type: jsonl, path: data/train.jsonl}]\n  format: chat\n" + extra
    return load_recipe(write_tiny_recipe(tmp_path, model, data=data)).recipe


def test_samples_and_served_requests_are_asked_with_it(
    tmp_path: Path, tiny_model_dir: Path, tokenizer: Any
) -> None:
    recipe = chat_recipe(tmp_path, tiny_model_dir, "  system_prompt: Be brief.\n")
    asked = prompt_texts(recipe, tokenizer)[1]
    assert asked == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWho built the widget?"
        "<|im_end|>\n<|im_start|>assistant\n"
    )
    finished = FinishedRun(None, tokenizer, True, "merged", "Be brief.")
    body = {"messages": [{"role": "user", "content": "Who built the widget?"}]}
    assert request_texts(body, finished, chat=True) == [asked]


def test_it_belongs_to_chat_recipes(tmp_path: Path, tiny_model_dir: Path) -> None:
    data = "data:\n  sources: [{type: jsonl, path: data/train.jsonl}]\n  system_prompt: x\n"
    with pytest.raises(RecipeError) as raised:
        load_recipe(write_tiny_recipe(tmp_path, tiny_model_dir, data=data))
    assert "data.system_prompt: system_prompt applies to `format: chat`, not `format: text`" in (
        raised.value.render()
    )


def test_a_finished_run_carries_it_from_its_resolved_recipe(tiny_run: Any, tmp_path: Path) -> None:
    import shutil

    import yaml

    from smolora_recipes.inference.finished_run import open_finished_run

    run = tmp_path / "run"
    shutil.copytree(tiny_run.run_dir, run, symlinks=False)
    assert open_finished_run(run).system_prompt is None
    resolved = yaml.safe_load((run / "recipe.resolved.yaml").read_text())
    resolved["data"]["system_prompt"] = "Be brief."
    (run / "recipe.resolved.yaml").write_text(yaml.safe_dump(resolved))
    assert open_finished_run(run).system_prompt == "Be brief."
