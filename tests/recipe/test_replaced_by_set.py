"""A `--set` of one of two exclusive fields (`sft.max_steps`, `sft.epochs`) replaces the other
when a file set it, and says so; two values given together are still a conflict."""

from __future__ import annotations

from pathlib import Path

import pytest

from smolora_recipes.core.errors import RecipeError
from smolora_recipes.recipe.loader import load_recipe
from tests.conftest import MINIMAL_RECIPE, WriteFiles, invoke


def with_sft(write: WriteFiles, sft: str) -> Path:
    return write("recipe.yaml", MINIMAL_RECIPE + f"sft:\n  {sft}\n", "data/train.jsonl", "{}\n")


@pytest.mark.parametrize(
    ("written", "override", "kept", "cleared"),
    [
        ("epochs: 3", "sft.max_steps=8", ("max_steps", 8), "epochs"),
        ("max_steps: 5", "sft.epochs=2", ("epochs", 2), "max_steps"),
    ],
)
def test_a_set_of_one_replaces_the_other_written_in_the_file(
    write: WriteFiles, written: str, override: str, kept: tuple[str, int], cleared: str
) -> None:
    loaded = load_recipe(with_sft(write, written), [override])
    assert getattr(loaded.recipe.sft, kept[0]) == kept[1]
    assert getattr(loaded.recipe.sft, cleared) is None
    assert loaded.origin_of(("sft", cleared)).describe() == f"cleared by --set {override}"


def test_show_origin_says_which_set_cleared_a_field(write: WriteFiles) -> None:
    code, out, _ = invoke(
        "show", str(with_sft(write, "epochs: 3")), "--origin", "--set", "sft.max_steps=8"
    )
    assert code == 0
    assert "  max_steps: 8  # --set sft.max_steps=8\n" in out
    assert "  epochs: null  # cleared by --set sft.max_steps=8\n" in out


def test_a_set_to_null_clears_nothing_else(write: WriteFiles) -> None:
    loaded = load_recipe(with_sft(write, "epochs: 3"), ["sft.max_steps=null"])
    assert (loaded.recipe.sft.epochs, loaded.recipe.sft.max_steps) == (3, None)
    assert loaded.origin_of(("sft", "epochs")).kind == "file"


@pytest.mark.parametrize(
    ("written", "overrides"),
    [("epochs: 3", ["sft.max_steps=8", "sft.epochs=2"]), ("{max_steps: 5, epochs: 3}", [])],
    ids=["both with --set", "both in the file"],
)
def test_both_given_together_are_a_conflict_with_the_way_out(
    write: WriteFiles, written: str, overrides: list[str]
) -> None:
    recipe = with_sft(write, written.strip("{}").replace(", ", "\n  "))
    with pytest.raises(RecipeError) as raised:
        load_recipe(recipe, overrides)
    assert "sft.epochs: set either max_steps or epochs, not both (a `--set` of one replaces " in (
        raised.value.render()
    )
    assert "`--set sft.epochs=null` clears it)" in raised.value.render()


def test_every_builtin_recipe_takes_a_max_steps_override() -> None:
    for name in ("quickstart", "mixture", "faq-csv"):
        code, _, err = invoke("validate", f"builtin:{name}", "--set", "sft.max_steps=8")
        assert code == 0, err
