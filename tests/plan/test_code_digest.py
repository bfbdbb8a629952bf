"""A step's code fingerprint covers every module its step module imports, directly or not."""

from __future__ import annotations

import ast
import modulefinder
import shutil
from pathlib import Path

import pytest

from smolora_recipes.plan import code_digest
from smolora_recipes.plan.build import build_plan
from smolora_recipes.plan.code_digest import PACKAGE_DIR, CodeIndex, package_modules
from smolora_recipes.plan.specs import STEP_SPECS
from smolora_recipes.plan.status import plan_status
from smolora_recipes.recipe.loader import load_recipe
from smolora_recipes.store.cache import StepCache


@pytest.fixture
def package_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the package's modules that plans read their code from (so it can be edited)."""
    root = tmp_path / "smolora_recipes"
    shutil.copytree(PACKAGE_DIR, root, ignore=shutil.ignore_patterns("__pycache__", "*.yaml"))
    monkeypatch.setattr(code_digest, "PACKAGE_DIR", root)
    return root


def _type_checking_imports() -> set[str]:
    """Modules of the package named in some `if TYPE_CHECKING:` block (they never run)."""
    named: set[str] = set()
    for path in PACKAGE_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and inner.module:
                        named.add(inner.module)
    return named


@pytest.mark.parametrize("spec", STEP_SPECS, ids=lambda spec: spec.name)
def test_closure_is_what_python_would_import(spec: object) -> None:
    """The stdlib's bytecode scanner (which follows lazy imports too) finds the same modules."""
    finder = modulefinder.ModuleFinder(path=[str(PACKAGE_DIR.parent)])
    finder.import_hook(spec.module)  # type: ignore[attr-defined]
    scanned = {name for name in finder.modules if name.split(".")[0] == "smolora_recipes"}
    closure = set(CodeIndex().import_closure(spec.module))  # type: ignore[attr-defined]
    assert closure <= scanned
    assert scanned - closure <= _type_checking_imports()
    assert len(closure) > 10  # the step module, its packages, and what it calls


def test_editing_any_module_changes_exactly_the_steps_that_import_it(
    package_copy: Path, minimal: Path
) -> None:
    loaded = load_recipe(minimal, env={})
    before = build_plan(loaded)
    index = CodeIndex()
    closures = {spec.name: set(index.import_closure(spec.module)) for spec in STEP_SPECS}
    misses, extras = [], []
    modules = package_modules(package_copy)
    assert len(modules) > 60
    for module, path in sorted(modules.items()):
        original = path.read_bytes()
        path.write_bytes(original + b"\n# edited\n")
        try:
            after = build_plan(loaded)
        finally:
            path.write_bytes(original)
        for old, new in zip(before.steps, after.steps, strict=True):
            expected = module in closures[old.name]
            changed = old.material["code"] != new.material["code"]
            assert not changed or old.fingerprint != new.fingerprint
            if expected and not changed:
                misses.append((old.name, module))
            if changed and not expected:
                extras.append((old.name, module))
    assert misses == [] and extras == []
    assert sum(len(closure) for closure in closures.values()) > 150  # (step, module) pairs


def test_a_new_module_is_covered_the_day_a_step_imports_it(package_copy: Path) -> None:
    (package_copy / "training" / "new_helper.py").write_text("VALUE = 1\n")
    assert "training/new_helper.py" not in CodeIndex().code_digests("smolora_recipes.steps.train")
    trainer = package_copy / "training" / "trainer.py"
    trainer.write_text(
        trainer.read_text() + "\n\ndef _uses_it() -> int:\n"
        "    from smolora_recipes.training.new_helper import VALUE\n\n    return VALUE\n"
    )
    digests = CodeIndex().code_digests("smolora_recipes.steps.train")
    assert "training/new_helper.py" in digests
    assert "training/new_helper.py" not in CodeIndex().code_digests("smolora_recipes.steps.load")


def test_type_checking_imports_are_not_code_the_step_runs(package_copy: Path) -> None:
    (package_copy / "models" / "only_for_types.py").write_text("class Thing: ...\n")
    load = package_copy / "steps" / "load.py"
    load.write_text(
        load.read_text().replace(
            "from __future__ import annotations\n",
            "from __future__ import annotations\n\nfrom typing import TYPE_CHECKING\n\n"
            "if TYPE_CHECKING:\n    from smolora_recipes.models.only_for_types import Thing\n",
            1,
        )
    )
    assert "models/only_for_types.py" not in CodeIndex().code_digests("smolora_recipes.steps.load")


def test_plan_says_only_the_code_changed(package_copy: Path, minimal: Path) -> None:
    loaded = load_recipe(minimal, env={})
    cache = StepCache(package_copy.parent / "cache")
    from smolora_recipes.plan.status import record_plan

    record_plan(cache, build_plan(loaded))
    merge = package_copy / "steps" / "merge.py"
    merge.write_text(merge.read_text() + "\n# a fix\n")
    statuses = {status.step: status.describe() for status in plan_status(build_plan(loaded), cache)}
    assert statuses["merge"] == "will run: step code changed (1 module: steps/merge.py)"
    assert statuses["dataset"] == "will run: its cache entry is gone (removed by cache gc?)"


def test_import_names_are_memoised_by_content(package_copy: Path, isolated_home: Path) -> None:
    CodeIndex().import_closure("smolora_recipes.steps.load")
    memo = isolated_home / "state" / "code-imports.json"
    assert memo.is_file()
    stale = memo.read_text()
    load = package_copy / "steps" / "load.py"
    load.write_text(load.read_text() + "\nfrom smolora_recipes.training import job  # noqa\n")
    closure = CodeIndex().import_closure("smolora_recipes.steps.load")
    assert "smolora_recipes.training.job" in closure
    assert memo.read_text() != stale
