"""The sample step asks each prompt the way training showed examples to the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.steps.sample import prompt_texts
from tests.tiny_runs import write_tiny_recipe


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("  format: completion\n", "Who built the widget?\n"),
        ("  format: completion\n  completion_separator: ' => '\n", "Who built the widget? => "),
        ("  format: text\n", "Who built the widget?"),
        (
            "  format: chat\n",
            "<|im_start|>user\nWho built the widget?<|im_end|>\n<|im_start|>assistant\n",
        ),
    ],
    ids=["completion", "own separator", "text", "chat"],
)
def test_prompts_end_as_training_examples_did(
    tmp_path: Path, tiny_model_dir: Path, tokenizer: Any, data: str, expected: str
) -> None:
    section = "data:\n  sources: [{type: jsonl, path: data/train.jsonl}]\n" + data
    recipe = load_recipe(write_tiny_recipe(tmp_path, tiny_model_dir, data=section))
    assert prompt_texts(recipe.recipe, tokenizer)[1] == expected
