"""Recipe loading, rule by rule: each error's exact text and place, origins after merges and
`--set`, path resolution per writing file, fetched-checkout limits, and problem order."""

from __future__ import annotations

from pathlib import Path

import pytest

from smolora_recipes.core.errors import RecipeError
from smolora_recipes.recipe.loader import load_recipe
from tests.conftest import MINIMAL_RECIPE, TRAIN_JSONL, WriteFiles

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def rendered(file: str | Path, *overrides: str, **options: bool) -> str:
    with pytest.raises(RecipeError) as caught:
        load_recipe(file, overrides, env={}, **options)
    return caught.value.render()


def test_loaded_recipe_base_dir_label_and_default_origin(minimal: Path, in_tmp_dir: Path) -> None:
    loaded = load_recipe(minimal, env={})
    assert loaded.file == minimal and loaded.base_dir == minimal.parent
    assert loaded.label == "recipe.yaml"
    assert loaded.references == []
    assert loaded.origin_of(("lora", "r")).describe() == "default"
    assert loaded.origin_of(("name",)).describe() == "recipe.yaml:1:1"
    builtin = load_recipe("builtin:quickstart", env={})
    assert builtin.label == "builtin:quickstart"
    assert [ref.text for ref in builtin.references] == ["builtin:quickstart"]


def test_a_recipe_extending_a_builtin_is_labelled_by_its_path(
    write: WriteFiles, in_tmp_dir: Path
) -> None:
    child = write("child.yaml", "extends: builtin:quickstart\nname: mine\n")
    loaded = load_recipe(child, env={})
    assert loaded.label == "child.yaml"
    assert [ref.text for ref in loaded.references] == ["builtin:quickstart"]
    assert loaded.recipe.name == "mine"
    assert loaded.paths.runs_dir == in_tmp_dir / "runs"


@pytest.mark.parametrize(
    ("file_name", "name"),
    [("my recipe.yaml", "my-recipe"), ("-.yaml", "recipe"), (".a+b..yaml", "a-b")],
)
def test_default_name_from_the_file_name(write: WriteFiles, file_name: str, name: str) -> None:
    path = write(file_name, "data: {sources: [{type: jsonl, path: t}]}\n", "t", TRAIN_JSONL)
    assert load_recipe(path, env={}).recipe.name == name


def test_a_folder_is_not_a_recipe(tmp_path: Path, in_tmp_dir: Path) -> None:
    (tmp_path / "r.yaml").mkdir()
    assert rendered(tmp_path / "r.yaml") == (
        f"r.yaml: recipe file is a folder, not a recipe file: {tmp_path / 'r.yaml'}\n"
        "    hint: paths in `extends` are relative to the recipe that names them"
    )


def test_an_extends_of_a_folder_points_at_the_extends_line(
    write: WriteFiles, in_tmp_dir: Path
) -> None:
    path = write("r.yaml", "name: x\nextends: sub\n", "sub/t", "")
    assert rendered(path) == (
        f"r.yaml:2:1: extends: recipe file is a folder, not a recipe file: {in_tmp_dir / 'sub'}\n"
        "    hint: paths in `extends` are relative to the recipe that names them"
    )


def test_recipe_file_not_found_exact(tmp_path: Path, in_tmp_dir: Path) -> None:
    assert rendered("gone.yaml") == (
        f"gone.yaml: recipe file not found: {tmp_path / 'gone.yaml'}\n"
        "    hint: paths in `extends` are relative to the recipe that names them"
    )


def test_non_utf8_points_at_the_line(tmp_path: Path, in_tmp_dir: Path) -> None:
    (tmp_path / "r.yaml").write_bytes(b"name: x\n\nbad: \xff\n")
    assert rendered(tmp_path / "r.yaml") == (
        "r.yaml:3: not UTF-8 text\n    hint: save the recipe as UTF-8"
    )


@pytest.mark.parametrize(("text", "kind"), [("- a\n", "list"), ("just text\n", "str")])
def test_a_recipe_is_a_mapping(write: WriteFiles, in_tmp_dir: Path, text: str, kind: str) -> None:
    assert rendered(write("r.yaml", text)) == (
        f"r.yaml:1:1: a recipe is a mapping of sections, got {kind}\n"
        "    hint: start with `name: ...` and sections such as `model:` and `data:`"
    )


@pytest.mark.parametrize("value", ["''", "[a.yaml]", "3"])
def test_extends_must_name_a_file(write: WriteFiles, in_tmp_dir: Path, value: str) -> None:
    path = write("r.yaml", f"name: x\nextends: {value}\n")
    assert rendered(path) == (
        "r.yaml:2:1: extends: expected the path of a recipe file\n"
        "    hint: write e.g. `extends: base.yaml`"
    )


def test_extends_cycle_exact(write: WriteFiles, in_tmp_dir: Path) -> None:
    write("a.yaml", "extends: b.yaml\n", "c.yaml", "extends: a.yaml\n")
    b = write("b.yaml", "name: b\nextends: c.yaml\n")
    assert rendered(b) == (
        "a.yaml:1:1: extends: extends cycle: b.yaml -> c.yaml -> a.yaml -> b.yaml\n"
        "    hint: remove one link"
    )


def test_a_self_extending_recipe_is_a_cycle(write: WriteFiles, in_tmp_dir: Path) -> None:
    path = write("r.yaml", "extends: r.yaml\n")
    assert "extends cycle: r.yaml -> r.yaml" in rendered(path)


def test_extends_merge_keeps_origins_of_what_is_not_replaced(
    write: WriteFiles, in_tmp_dir: Path
) -> None:
    write(
        "base.yaml",
        """
        data:
          sources: [{type: jsonl, path: t}]
          seed: 7
        sft: {max_steps: 5}
        lora: 8
        """,
        "t",
        TRAIN_JSONL,
    )
    child = write(
        "child.yaml",
        "extends: base.yaml\nname: c\ndata:\n  sources: [{type: jsonl, path: t, limit: 3}]\n"
        "lora: {r: 4}\n",
    )
    loaded = load_recipe(child, env={})
    assert loaded.recipe.data.seed == 7 and loaded.recipe.data.sources[0].limit == 3
    assert loaded.recipe.sft.max_steps == 5 and loaded.recipe.lora.r == 4
    assert loaded.origin_of(("data", "seed")).describe() == "base.yaml:3:3 (extends)"
    assert loaded.origin_of(("data", "sources", 0, "path")).describe() == "child.yaml:4:27"
    assert loaded.origin_of(("data", "sources", 0, "limit")).describe() == "child.yaml:4:36"
    assert loaded.origin_of(("data", "sources")).describe() == "child.yaml:4:3"
    assert loaded.origin_of(("lora",)).describe() == "child.yaml:5:1"
    assert loaded.origin_of(("sft", "max_steps")).describe() == "base.yaml:4:7 (extends)"
    assert ("extends",) not in loaded.origins


def test_extends_merge_does_not_change_the_base_of_a_sibling(
    write: WriteFiles, in_tmp_dir: Path
) -> None:
    """Two children of one base each get the base's own values, not the other's."""
    write("base.yaml", "data: {sources: [{type: jsonl, path: t}], seed: 1}\n", "t", TRAIN_JSONL)
    first = write("one.yaml", "extends: base.yaml\ndata: {seed: 2}\n")
    second = write("two.yaml", "extends: base.yaml\nlora: {r: 2}\n")
    assert load_recipe(first, env={}).recipe.data.seed == 2
    assert load_recipe(second, env={}).recipe.data.seed == 1


@pytest.mark.parametrize("option", ["lora.r", "=4", " =4", "lora..r=4", "lora.=4", ".r=4"])
def test_malformed_set_option_exact(minimal: Path, in_tmp_dir: Path, option: str) -> None:
    assert rendered(minimal, option) == (
        f"--set {option}: expected section.key=value\n"
        "    hint: e.g. --set lora.r=16 or --set data.sources.0.path=other.jsonl"
    )


@pytest.mark.parametrize(
    ("option", "field"),
    [
        ("data.sources.5.path=x", "data.sources.5"),
        ("data.sources.1=x", "data.sources.1"),
        ("data.sources.1.path=x", "data.sources.1"),
        ("data.sources.x.path=x", "data.sources.x"),
        ("name.first=x", "name.first"),
        ("name.first.x=1", "name.first"),
        ("data.sources.x=1", "data.sources.x"),
        ("samples.prompts.0.x.0=1", "samples.prompts.0.x.0"),
    ],
)
def test_set_path_that_leads_nowhere(
    minimal: Path, in_tmp_dir: Path, option: str, field: str
) -> None:
    if option.startswith("samples"):
        minimal.write_text(MINIMAL_RECIPE.replace("[hello]", "[{prompt: hi, x: [a]}]"))
        assert f"--set {option}: {field}: this path does not lead to a field" in rendered(
            minimal, "samples.prompts.0.x=[]", option
        )
        return
    assert rendered(minimal, option) == (
        f"--set {option}: {field}: this path does not lead to a field\n"
        "    hint: list items are numbered from 0 and must exist, e.g. data.sources.0.path"
    )


def test_set_value_that_is_not_yaml(minimal: Path, in_tmp_dir: Path) -> None:
    text = rendered(minimal, "lora.r=[1")
    assert text.startswith("--set lora.r=[1")
    assert "expected section.key=value" not in text


def test_set_records_origins_below_the_value_and_drops_old_ones(
    write: WriteFiles, in_tmp_dir: Path
) -> None:
    path = write(
        "r.yaml",
        "name: r\ndata: {sources: [{type: jsonl, path: t, limit: 2}]}\n"
        "samples: {prompts: [{prompt: a}]}\n",
        "t",
        TRAIN_JSONL,
        "u",
        TRAIN_JSONL,
    )
    loaded = load_recipe(
        path,
        (
            "data.sources=[{type: jsonl, path: u}]",
            "lora.target_modules=[q_proj, v_proj]",
            "model.quantization.bits=4",
            "samples.prompts.0.prompt=b",
        ),
        env={},
    )
    assert loaded.recipe.data.sources[0].path == in_tmp_dir / "u"
    assert loaded.recipe.data.sources[0].limit is None
    setting = "--set data.sources=[{type: jsonl, path: u}]"
    for field in [
        ("data", "sources"),
        ("data", "sources", 0),
        ("data", "sources", 0, "type"),
        ("data", "sources", 0, "path"),
    ]:
        assert loaded.origin_of(field).describe() == setting
    assert loaded.origin_of(("data", "sources", 0, "limit")).describe() == "default"
    assert loaded.origin_of(("lora", "target_modules", 1)).describe() == (
        "--set lora.target_modules=[q_proj, v_proj]"
    )
    assert loaded.recipe.model.quantization is not None
    assert loaded.recipe.model.quantization.bits == 4
    assert loaded.origin_of(("samples", "prompts", 0, "prompt")).describe() == (
        "--set samples.prompts.0.prompt=b"
    )
    assert loaded.recipe.samples.prompts[0].prompt == "b"


def test_set_creates_a_list_for_a_numbered_part(minimal: Path, in_tmp_dir: Path) -> None:
    """A missing container before a number is a list: the item then does not exist."""
    assert rendered(minimal, "lora.extra.0=1").startswith(
        "--set lora.extra.0=1: lora.extra.0: this path does not lead to a field\n"
    )


def test_a_relative_set_path_is_relative_to_the_working_folder(
    write: WriteFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write("sub/r.yaml", MINIMAL_RECIPE, "sub/data/train.jsonl", TRAIN_JSONL)
    write("here/other.jsonl", TRAIN_JSONL)
    monkeypatch.chdir(tmp_path / "here")
    loaded = load_recipe(path, ("data.sources.0.path=other.jsonl",), env={})
    assert loaded.recipe.data.sources[0].path == tmp_path / "here" / "other.jsonl"


def test_a_top_level_field_problem_points_at_its_line(write: WriteFiles, in_tmp_dir: Path) -> None:
    path = write("r.yaml", "data: {sources: [{type: jsonl, path: t}]}\nname: [a]\n", "t", "")
    assert rendered(path).startswith("r.yaml:2:1: name: input should be a valid string\n")


def test_environment_defaults_to_the_process_environment(
    minimal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    minimal.write_text(minimal.read_text() + "lora:\n  r: ${env:RANK:-4}\n")
    monkeypatch.setenv("RANK", "12")
    assert load_recipe(minimal).recipe.lora.r == 12
    assert load_recipe(minimal, env={}).recipe.lora.r == 4


def test_top_level_problems_point_at_the_document(write: WriteFiles, in_tmp_dir: Path) -> None:
    assert rendered(write("r.yaml", "name: x\n")) == (
        "r.yaml:1:1: data: required field is missing\n"
        "    hint: expected: Where training data comes from and how records become training "
        "examples."
    )


def test_a_missing_input_names_the_folder_it_was_relative_to(
    write: WriteFiles, in_tmp_dir: Path
) -> None:
    write("team/base.yaml", "data:\n  sources:\n    - {type: jsonl, path: gone.jsonl}\n")
    child = write("me/child.yaml", "extends: ../team/base.yaml\nname: c\n")
    assert rendered(child) == (
        f"team/base.yaml:3:21: data.sources.0.path: file or folder not found: "
        f"{in_tmp_dir / 'team' / 'gone.jsonl'}\n"
        f"    hint: relative paths are relative to the recipe that names them "
        f"({in_tmp_dir / 'team'})"
    )


@pytest.mark.parametrize(
    "field", ["model:\n  base", "data:\n  sources:\n    - type: jsonl\n      path"]
)
def test_a_missing_absolute_path_is_not_called_relative(
    write: WriteFiles, in_tmp_dir: Path, field: str
) -> None:
    path = write("r.yaml", f"{field}: /no/such/model\n")
    expected = (
        "file or folder not found: /no/such/model\n"
        "    hint: an absolute path: check that it exists on this machine"
    )
    assert expected in rendered(path)


def test_a_folder_given_for_a_file_exact(write: WriteFiles, in_tmp_dir: Path) -> None:
    (in_tmp_dir / "folder.jsonl").mkdir()
    path = write("r.yaml", "data:\n  sources:\n    - type: jsonl\n      path: folder.jsonl\n")
    assert rendered(path) == (
        f"r.yaml:4:7: data.sources.0.path: expected a file, found a folder: "
        f"{in_tmp_dir / 'folder.jsonl'}\n"
        f"    hint: relative paths are relative to the recipe that names them ({in_tmp_dir})"
    )


def test_a_text_files_source_takes_a_folder_or_a_file(write: WriteFiles, in_tmp_dir: Path) -> None:
    path = write(
        "r.yaml",
        "data:\n  sources:\n    - {type: text_files, path: notes}\n"
        "    - {type: text_files, path: one.txt}\n",
        "notes/a.txt",
        "a",
        "one.txt",
        "b",
    )
    sources = load_recipe(path, env={}).recipe.data.sources
    assert [source.path for source in sources] == [in_tmp_dir / "notes", in_tmp_dir / "one.txt"]


def test_empty_or_mistyped_paths_are_located_and_not_looked_up(
    write: WriteFiles, in_tmp_dir: Path
) -> None:
    path = write(
        "r.yaml",
        "data:\n  sources:\n    - {type: jsonl, path: ''}\n    - {type: jsonl, path: 3}\n",
    )
    text = rendered(path)
    assert "file or folder not found" not in text and "found a folder" not in text
    assert "r.yaml:3:21: data.sources.0.path: empty path" in text
    assert "data.sources.1.path: input should be a path" in text
    path.write_text(
        "data:\n  sources:\n    - {type: jsonl, path: ''}\n    - {type: jsonl, path: gone}\n"
    )
    assert "r.yaml:4:21: data.sources.1.path: file or folder not found" in rendered(path)


def test_a_local_model_folder_resolves_against_the_file_that_names_it(
    write: WriteFiles, in_tmp_dir: Path
) -> None:
    write("team/base.yaml", "model: {base: ./models/mine}\n", "team/models/mine/config.json", "{}")
    child = write(
        "me/child.yaml",
        "extends: ../team/base.yaml\nname: c\ndata: {sources: [{type: jsonl, path: t}]}\n",
        "me/t",
        TRAIN_JSONL,
    )
    base = load_recipe(child, env={}).recipe.model.base
    assert base == str(in_tmp_dir / "team" / "models" / "mine")


def test_a_missing_local_model_exact(minimal: Path, in_tmp_dir: Path) -> None:
    minimal.write_text(minimal.read_text() + "model:\n  base: ./models/mine\n")
    assert rendered(minimal) == (
        f"recipe.yaml:9:3: model.base: file or folder not found: {in_tmp_dir / 'models/mine'}\n"
        f"    hint: relative paths are relative to the recipe that names them ({in_tmp_dir})"
    )


def test_problems_are_sorted_by_file_line_and_column(minimal: Path, in_tmp_dir: Path) -> None:
    minimal.write_text(
        minimal.read_text() + "sft: {batch_size: 0, learning_rate: x}\nlora:\n  rank: 8\n"
    )
    text = rendered(minimal, "merge.enabeld=false")
    heads = [line.split(": ")[0] for line in text.splitlines() if not line.startswith(" ")]
    assert heads == [
        "--set merge.enabeld=false",
        "recipe.yaml:8:7",
        "recipe.yaml:8:22",
        "recipe.yaml:10:3",
    ]


def test_a_sample_prompt_string_gives_its_origin_to_its_prompt(minimal: Path) -> None:
    loaded = load_recipe(minimal, env={})
    prompt = loaded.origin_of(("samples", "prompts", 0, "prompt")).describe()
    assert prompt == loaded.origin_of(("samples", "prompts", 0)).describe()
    assert prompt.endswith("recipe.yaml:7:13")


def test_shared_recipes_run_in_the_working_folder(in_tmp_dir: Path) -> None:
    loaded = load_recipe("builtin:quickstart", env={})
    assert loaded.paths.runs_dir == in_tmp_dir / "runs"


# ------------------------------------------------------------------ recipes fetched from git


def fetched(write: WriteFiles, home: Path, *pairs: str) -> Path:
    """Write files into a fake fetched checkout under SMOLORA_HOME; return the first."""
    return write(*pairs, root=home / "recipes" / COMMIT)


def test_a_fetched_recipe_may_not_extend_outside_its_checkout(
    write: WriteFiles, isolated_home: Path
) -> None:
    write("outside.yaml", "name: o\n", root=isolated_home / "recipes")
    top = fetched(write, isolated_home, "r.yaml", "name: r\nextends: ../outside.yaml\n")
    text = rendered(top)
    assert "extends: '../outside.yaml' leads out of the repository" in text


def test_a_fetched_recipe_may_not_read_data_outside_its_checkout(
    write: WriteFiles, isolated_home: Path
) -> None:
    write("secret.jsonl", TRAIN_JSONL, root=isolated_home)
    top = fetched(
        write,
        isolated_home,
        "r.yaml",
        "data: {sources: [{type: jsonl, path: ../../secret.jsonl}]}\n",
    )
    text = rendered(top)
    assert "data.sources.0.path: '../../secret.jsonl' leads out of the repository" in text
    assert "file or folder not found" not in text


def test_a_fetched_recipe_cannot_enable_remote_code_by_itself(
    write: WriteFiles, isolated_home: Path
) -> None:
    top = fetched(
        write,
        isolated_home,
        "r.yaml",
        "model: {trust_remote_code: true}\ndata: {sources: [{type: jsonl, path: t}]}\n",
        "t",
        TRAIN_JSONL,
    )
    assert "cannot enable trust_remote_code by itself" in rendered(top)
    assert load_recipe(top, env={}, allow_remote_code=True).recipe.model.trust_remote_code
    assert load_recipe(top, ("model.trust_remote_code=false",), env={}).recipe.name == "r"


def test_output_folders_need_not_exist_and_resolve_against_their_file(
    write: WriteFiles, in_tmp_dir: Path
) -> None:
    write("team/base.yaml", "output: {dir: out/runs}\n")
    child = write(
        "team/sub/child.yaml",
        "extends: ../base.yaml\ndata: {sources: [{type: jsonl, path: t}]}\n",
        "team/sub/t",
        TRAIN_JSONL,
    )
    loaded = load_recipe(child, env={})
    assert loaded.recipe.output.dir == in_tmp_dir / "team" / "out" / "runs"
    assert loaded.paths.runs_dir == in_tmp_dir / "team" / "out" / "runs"
    assert loaded.paths.recipe_runs("child") == in_tmp_dir / "team" / "out" / "runs" / "child"


def test_spaces_around_a_set_key_are_ignored(minimal: Path) -> None:
    loaded = load_recipe(minimal, (" lora.r =8",), env={})
    assert loaded.recipe.lora.r == 8
    assert loaded.origin_of(("lora", "r")).describe() == "--set  lora.r =8"


def test_a_set_option_is_shown_as_typed(minimal: Path, in_tmp_dir: Path) -> None:
    """The option is not a file path: `a/../b` in it is not shortened."""
    option = "data.sources.0.path=sub/../gone.jsonl"
    assert rendered(minimal, option) == (
        f"--set {option}: data.sources.0.path: file or folder not found: "
        f"{in_tmp_dir / 'gone.jsonl'}\n"
        f"    hint: relative paths are relative to the recipe that names them ({in_tmp_dir})"
    )


def test_a_set_value_may_hold_an_equals_sign(minimal: Path) -> None:
    assert load_recipe(minimal, ("description=a=b",), env={}).recipe.description == "a=b"


def test_set_into_an_absent_section_creates_a_list_before_a_number(
    write: WriteFiles, in_tmp_dir: Path
) -> None:
    path = write("r.yaml", "name: x\n")
    assert rendered(path, "data.sources.0.path=x") == (
        "--set data.sources.0.path=x: data.sources.0: this path does not lead to a field\n"
        "    hint: list items are numbered from 0 and must exist, e.g. data.sources.0.path\n"
        "r.yaml:1:1: data.sources: list should have at least 1 item after validation, not 0\n"
        "    hint: expected: One or more data sources, each tagged by `type`."
    )


def test_optional_paths_resolve_against_the_recipe_like_the_others(
    write: WriteFiles, in_tmp_dir: Path
) -> None:
    """`X | None` path fields carry their marker too (output.cache_dir, accelerate_config)."""
    recipe = write(
        "team/r.yaml",
        "data:\n  sources: [{type: jsonl, path: t.jsonl}]\n"
        "output: {cache_dir: cache}\n"
        "distributed: {accelerate_config: fsdp.yaml}\n",
        "team/t.jsonl",
        "{}\n",
        "team/fsdp.yaml",
        "{}\n",
    )
    loaded = load_recipe(recipe)
    assert loaded.recipe.output.cache_dir == in_tmp_dir / "team" / "cache"
    assert loaded.recipe.distributed.accelerate_config == in_tmp_dir / "team" / "fsdp.yaml"
    (in_tmp_dir / "team" / "fsdp.yaml").unlink()
    assert "distributed.accelerate_config: file or folder not found: " in rendered(recipe)
