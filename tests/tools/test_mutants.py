"""`make mutants` (tools/mutants.py): each target's mutmut settings, the files they name, and
the printed table."""

from __future__ import annotations

import fnmatch
import importlib.util
import sys
import tomllib
from types import ModuleType

import pytest

from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def mutants() -> ModuleType:
    """tools/mutants.py, imported as a module."""
    spec = importlib.util.spec_from_file_location("mutants", REPO_ROOT / "tools" / "mutants.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutants"] = module
    spec.loader.exec_module(module)
    return module


def test_each_target_gets_the_shared_settings_with_its_own_files_and_tests(
    mutants: ModuleType,
) -> None:
    text = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    original = tomllib.loads(text)
    for target in mutants.TARGETS:
        for only in ([], ["smolora_recipes/x.py"]):
            rewritten = tomllib.loads(
                mutants.with_mutmut_table(
                    text, mutants.mutmut_table(original["tool"]["mutmut"], target, only)
                )
            )
            settings = rewritten["tool"].pop("mutmut")
            assert settings.pop("only_mutate") == (only or list(target.modules))
            assert settings.pop("pytest_add_cli_args_test_selection") == list(target.tests)
            assert settings == original["tool"]["mutmut"]
            assert rewritten["project"] == original["project"]
            assert rewritten["tool"] == {k: v for k, v in original["tool"].items() if k != "mutmut"}


def test_every_target_names_existing_modules_and_test_folders(mutants: ModuleType) -> None:
    modules = [
        p.relative_to(REPO_ROOT).as_posix() for p in REPO_ROOT.rglob("smolora_recipes/**/*.py")
    ]
    for target in mutants.TARGETS:
        for pattern in target.modules:
            assert fnmatch.filter(modules, pattern), f"{target.name}: {pattern} matches nothing"
        assert all((REPO_ROOT / tests).is_dir() for tests in target.tests)


def test_the_table_counts_not_covered_as_survived_and_flags_a_rate_below_the_target(
    mutants: ModuleType,
) -> None:
    recipe, plan = mutants.TARGETS[0], mutants.TARGETS[1]
    outcomes = [
        mutants.Outcome(recipe, total=200, killed=170, not_covered=10),
        mutants.Outcome(plan, total=100, killed=79, not_covered=1),
    ]
    assert [o.survived for o in outcomes] == [20, 20]
    assert mutants.table(outcomes).splitlines()[2:] == [
        "| recipe | 200 | 170 | 20 | 10 | 85.0% | 85% |",
        "| plan | 100 | 79 | 20 | 1 | 79.0% (below) | 80% |",
    ]
