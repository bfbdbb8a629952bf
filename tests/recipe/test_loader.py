"""Recipe loading: extends, --set, env, paths, templates, and located errors for each class."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smolora_recipes.core.errors import RecipeError
from smolora_recipes.recipe.loader import load_recipe
from tests.conftest import MINIMAL_RECIPE, TRAIN_JSONL, WriteFiles


def errors_of(
    path: Path, overrides: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> str:
    with pytest.raises(RecipeError) as caught:
        load_recipe(path, overrides, env=env or {})
    return caught.value.render()


def test_minimal_recipe_gets_every_default(minimal: Path, isolated_home: Path) -> None:
    loaded = load_recipe(minimal, env={})
    recipe = loaded.recipe
    assert recipe.model.base == "smollm2-135m-instruct"
    assert recipe.lora.r == 16 and recipe.lora.target_modules == "attention"
    assert recipe.data.sources[0].path == minimal.parent / "data" / "train.jsonl"
    assert loaded.paths.runs_dir == minimal.parent / "runs"
    assert loaded.paths.cache_dir == isolated_home / "cache"
    assert recipe.samples.prompts[0].prompt == "hello"


def test_name_defaults_to_the_file_name(write: WriteFiles) -> None:
    path = write(
        "my recipe.yaml",
        MINIMAL_RECIPE.replace("name: mini\n", ""),
        "data/train.jsonl",
        TRAIN_JSONL,
    )
    loaded = load_recipe(path, env={})
    assert loaded.recipe.name == "my-recipe"
    assert loaded.origin_of(("name",)).describe() == "default (from the file name)"


def test_paths_resolve_against_the_recipe_not_the_cwd(
    minimal: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = load_recipe(os.path.relpath(minimal), env={})
    assert loaded.recipe.data.sources[0].path == minimal.parent / "data" / "train.jsonl"


def test_unknown_field_has_location_and_did_you_mean(minimal: Path) -> None:
    minimal.write_text(minimal.read_text() + "lora:\n  rank: 8\n")
    text = errors_of(minimal)
    assert "recipe.yaml:9:3: lora.rank: unknown field; did you mean 'lora.r'?" in text
    assert "fields allowed here: r, alpha" in text


def test_typo_gets_close_match(minimal: Path) -> None:
    minimal.write_text(minimal.read_text() + "sft:\n  learning_rat: 0.1\n")
    assert "did you mean 'sft.learning_rate'?" in errors_of(minimal)


def test_wrong_type_and_out_of_range(minimal: Path) -> None:
    minimal.write_text(minimal.read_text() + "lora:\n  r: many\n  dropout: 1.5\n")
    text = errors_of(minimal)
    assert "recipe.yaml:9:3: lora.r: input should be a valid integer" in text
    assert "got 'many'" in text
    assert "recipe.yaml:10:3: lora.dropout: input should be less than 1; got 1.5" in text
    assert "hint: expected: Dropout" in text


def test_missing_required_field_points_at_its_parent(write: WriteFiles) -> None:
    path = write("r.yaml", "data:\n  sources:\n    - type: jsonl\n")
    text = errors_of(path)
    assert "r.yaml:3:7: data.sources.0.path: required field is missing" in text


def test_missing_data_section(write: WriteFiles) -> None:
    assert "data: required field is missing" in errors_of(write("r.yaml", "name: x\n"))


def test_unknown_source_type_lists_the_known_ones(write: WriteFiles) -> None:
    text = errors_of(write("r.yaml", "data:\n  sources:\n    - {type: xml, path: a}\n"))
    assert "data.sources.0.type: unknown type 'xml'" in text
    assert "'jsonl', 'json', 'csv', 'tsv', 'text_files', 'parquet', 'hf'" in text


def test_missing_data_file_is_located(write: WriteFiles) -> None:
    path = write("sub/r.yaml", "data:\n  sources:\n    - type: jsonl\n      path: nope.jsonl\n")
    text = errors_of(path)
    assert "r.yaml:4:7: data.sources.0.path: file or folder not found" in text
    assert "relative to the recipe that names them" in text


def test_a_folder_where_a_file_is_expected(write: WriteFiles, tmp_path: Path) -> None:
    (tmp_path / "folder.jsonl").mkdir()
    path = write("r.yaml", "data:\n  sources:\n    - type: jsonl\n      path: folder.jsonl\n")
    assert "expected a file, found a folder" in errors_of(path)


def test_all_problems_are_reported_at_once(minimal: Path) -> None:
    minimal.write_text(minimal.read_text() + "lora:\n  rank: 8\nsft:\n  batch_size: 0\n")
    text = errors_of(minimal, ("merge.enabeld=false",))
    assert "lora.rank" in text and "sft.batch_size" in text and "merge.enabeld" in text


def test_cross_field_rule_points_at_the_field(minimal: Path) -> None:
    minimal.write_text(minimal.read_text() + "sft:\n  max_steps: 10\n  epochs: 2\n")
    assert "recipe.yaml:10:3: sft.epochs: set either max_steps or epochs, not both" in errors_of(
        minimal
    )


def test_scientific_notation_learning_rate(minimal: Path) -> None:
    minimal.write_text(minimal.read_text() + "sft:\n  learning_rate: 2e-4\n")
    assert load_recipe(minimal, env={}).recipe.sft.learning_rate == pytest.approx(2e-4)


def test_jinja_template_that_does_not_parse(minimal: Path) -> None:
    text = minimal.read_text().replace("data:\n", "data:\n  template: '{{ record.q '\n")
    minimal.write_text(text)
    assert "recipe.yaml:3:3: data.template: does not parse as a Jinja template" in errors_of(
        minimal
    )


def test_extends_deep_merges_and_resolves_paths_per_file(write: WriteFiles) -> None:
    write(
        "team/base.yaml",
        """
        data:
          sources: [{type: jsonl, path: data/shared.jsonl}]
        lora: {r: 8, alpha: 16}
        """,
        "team/data/shared.jsonl",
        TRAIN_JSONL,
    )
    child = write("me/child.yaml", "extends: ../team/base.yaml\nname: child\nlora: {r: 32}\n")
    loaded = load_recipe(child, env={})
    assert loaded.recipe.lora.r == 32 and loaded.recipe.lora.alpha == 16
    assert loaded.recipe.data.sources[0].path == child.parent.parent / "team/data/shared.jsonl"
    assert loaded.origin_of(("lora", "alpha")).describe().endswith("base.yaml:3:14 (extends)")
    assert loaded.origin_of(("lora", "r")).describe().endswith("child.yaml:3:8")
    assert loaded.recipe.extends is None  # consumed: the resolved recipe stands alone


def test_extends_chains_and_lists_replace(write: WriteFiles) -> None:
    write("a.yaml", "samples: {prompts: [a1, a2], max_new_tokens: 10}\n")
    write("b.yaml", "extends: a.yaml\nsamples: {max_new_tokens: 20}\n")
    c = write(
        "c.yaml",
        "extends: b.yaml\nsamples: {prompts: [c1]}\ndata: {sources: [{type: jsonl, path: t}]}\n",
        "t",
        TRAIN_JSONL,
    )
    samples = load_recipe(c, env={}).recipe.samples
    assert [p.prompt for p in samples.prompts] == ["c1"]
    assert samples.max_new_tokens == 20


def test_extends_cycle_is_refused(write: WriteFiles) -> None:
    write("a.yaml", "extends: b.yaml\n")
    b = write("b.yaml", "extends: a.yaml\n")
    text = errors_of(b)
    assert "extends cycle: b.yaml -> a.yaml -> b.yaml" in text
    assert "a.yaml:1:1: extends" in text


def test_extends_missing_file_is_located(write: WriteFiles) -> None:
    path = write("r.yaml", "name: x\nextends: gone.yaml\n")
    assert "r.yaml:2:1: extends: recipe file not found" in errors_of(path)


def test_set_overrides_are_yaml_typed_and_recorded(minimal: Path) -> None:
    loaded = load_recipe(
        minimal,
        ("lora.r=8", "sft.learning_rate=5e-4", "lora.target_modules=[q_proj, v_proj]"),
        env={},
    )
    assert loaded.recipe.lora.r == 8
    assert loaded.recipe.sft.learning_rate == pytest.approx(5e-4)
    assert loaded.recipe.lora.target_modules == ["q_proj", "v_proj"]
    assert loaded.origin_of(("lora", "r")).describe() == "--set lora.r=8"


def test_set_into_a_list_item(minimal: Path, tmp_path: Path) -> None:
    (tmp_path / "other.jsonl").write_text(TRAIN_JSONL)
    loaded = load_recipe(minimal, (f"data.sources.0.path={tmp_path / 'other.jsonl'}",), env={})
    assert loaded.recipe.data.sources[0].path == tmp_path / "other.jsonl"


def test_unknown_set_path_is_an_error_naming_the_option(minimal: Path) -> None:
    text = errors_of(minimal, ("lora.rnk=4",))
    assert "--set lora.rnk=4: lora.rnk: unknown field; did you mean 'lora.r'?" in text


@pytest.mark.parametrize("bad", ["lora.r", "=4", "lora..r=4", "data.sources.5.path=x"])
def test_malformed_set_options(minimal: Path, bad: str) -> None:
    assert f"--set {bad}" in errors_of(minimal, (bad,))


def test_env_values_flow_into_fields(minimal: Path) -> None:
    minimal.write_text(minimal.read_text() + "lora:\n  r: ${env:RANK:-4}\n")
    assert load_recipe(minimal, env={"RANK": "64"}).recipe.lora.r == 64
    loaded = load_recipe(minimal, env={})
    assert loaded.recipe.lora.r == 4
    assert loaded.origin_of(("lora", "r")).describe().startswith("env RANK at ")


def test_recipe_must_be_a_mapping(write: WriteFiles) -> None:
    assert "a recipe is a mapping of sections" in errors_of(write("r.yaml", "- a\n- b\n"))


def test_recipe_file_not_found(tmp_path: Path) -> None:
    assert "recipe file not found" in errors_of(tmp_path / "nope.yaml")


def test_non_utf8_recipe(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_bytes(b"name: x\nbad: \xff\xfe\n")
    assert "r.yaml:2: not UTF-8 text" in errors_of(path)


def test_local_model_path_must_exist(minimal: Path) -> None:
    minimal.write_text(minimal.read_text() + "model:\n  base: ./models/mine\n")
    assert "model.base: file or folder not found" in errors_of(minimal)


def test_hub_ids_and_aliases_are_left_alone(minimal: Path) -> None:
    minimal.write_text(minimal.read_text() + "model:\n  base: HuggingFaceTB/SmolLM2-135M\n")
    assert load_recipe(minimal, env={}).recipe.model.base == "HuggingFaceTB/SmolLM2-135M"
