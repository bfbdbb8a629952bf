"""A `model.base` that is no built-in alias, local path or hub id is found by `validate`,
with a did-you-mean, instead of by a failed download at load (issue 22, item 7)."""

from __future__ import annotations

import pytest

from tests.conftest import MINIMAL_RECIPE, WriteFiles, invoke

HINT = (
    "\n    hint: built-in models: smollm2-135m-instruct; a local model starts with ./ or / (or "
    "ends in .gguf); a hub model is named owner/name, e.g. HuggingFaceTB/SmolLM2-135M-Instruct"
)


@pytest.mark.parametrize(
    ("base", "guess"),
    [
        ("smollm2-135m-instruc", "; did you mean 'smollm2-135m-instruct'?"),
        ("SmolLM2-135M-Instruct", "; did you mean 'smollm2-135m-instruct'?"),
        ("gpt2", ""),
        ("owner/name/extra", ""),
    ],
)
def test_an_unknown_model_name_is_a_located_error(write: WriteFiles, base: str, guess: str) -> None:
    recipe = write(
        "recipe.yaml", f"model:\n  base: {base}\n" + MINIMAL_RECIPE, "data/train.jsonl", "{}\n"
    )
    code, _, err = invoke("validate", str(recipe))
    assert code == 2
    assert (
        f"recipe.yaml:2:3: model.base: {base!r} is not a built-in model, a local path or a hub "
        f"id (owner/name){guess}" + HINT
    ) in err


@pytest.mark.parametrize(
    "base", ["smollm2-135m-instruct", "HuggingFaceTB/SmolLM2-135M", "a.b/c-d_1"]
)
def test_aliases_and_hub_ids_pass(write: WriteFiles, base: str) -> None:
    recipe = write(
        "recipe.yaml", f"model:\n  base: {base}\n" + MINIMAL_RECIPE, "data/train.jsonl", "{}\n"
    )
    code, _, err = invoke("validate", str(recipe))
    assert code == 0, err
