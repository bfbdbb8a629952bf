"""Import closures and code digests, worked out on a small package laid out in a temp folder."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest

from smolora_recipes.plan.code_digest import CodeIndex, library_versions, package_modules
from smolora_recipes.store.hashing import digest

P = "smolora_recipes"

PACKAGE = {
    "__init__.py": "",
    "core/__init__.py": "",
    "core/text.py": "import json\nimport smolora_recipesque\n",
    "core/paths.py": "from . import text\n",
    "steps/__init__.py": "from .. import core\n",
    "steps/train.py": (
        "from __future__ import annotations\n"
        "import typing\n"
        "from typing import TYPE_CHECKING\n"
        "from smolora_recipes.core.paths import state_file\n"
        "if TYPE_CHECKING:\n    from smolora_recipes.models import Thing\n"
        "else:\n    from ..data import chunking\n"
        "if typing.TYPE_CHECKING:\n    import smolora_recipes.report\n"
        "def lazy():\n    from .load import x\n"
    ),
    "steps/load.py": "x = 1\n",
    "models/__init__.py": "",
    "data/__init__.py": "",
    "data/chunking.py": "from ..core import text as t\n",
    "report/__init__.py": "",
    "not-a-package/extra.py": "",
    "core/notes.txt": "",
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The small package's folder."""
    folder = tmp_path / "pkg"
    for name, text in PACKAGE.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_package_modules_by_dotted_name(root: Path) -> None:
    found = package_modules(root)
    assert found == {
        P: root / "__init__.py",
        f"{P}.core": root / "core/__init__.py",
        f"{P}.core.text": root / "core/text.py",
        f"{P}.core.paths": root / "core/paths.py",
        f"{P}.steps": root / "steps/__init__.py",
        f"{P}.steps.train": root / "steps/train.py",
        f"{P}.steps.load": root / "steps/load.py",
        f"{P}.models": root / "models/__init__.py",
        f"{P}.data": root / "data/__init__.py",
        f"{P}.data.chunking": root / "data/chunking.py",
        f"{P}.report": root / "report/__init__.py",
    }


def test_closure_follows_relative_lazy_and_else_imports(root: Path) -> None:
    index = CodeIndex(root)
    assert index.direct_imports(f"{P}.core.paths") == {P, f"{P}.core", f"{P}.core.text"}
    assert index.direct_imports(f"{P}.core.text") == set()
    assert index.direct_imports(f"{P}.steps") == {P, f"{P}.core"}
    assert index.import_closure(f"{P}.steps.train") == tuple(
        sorted(
            [
                P,
                f"{P}.core",
                f"{P}.core.paths",
                f"{P}.core.text",
                f"{P}.data",
                f"{P}.data.chunking",
                f"{P}.steps",
                f"{P}.steps.load",
                f"{P}.steps.train",
            ]
        )
    )
    assert index.import_closure(f"{P}.data.chunking") == (
        P,
        f"{P}.core",
        f"{P}.core.text",
        f"{P}.data",
        f"{P}.data.chunking",
    )


def test_code_digests_are_of_normalised_text(root: Path) -> None:
    (root / "steps/load.py").write_bytes(b"x = 1\r\ny = 2\r\n")
    digests = CodeIndex(root).code_digests(f"{P}.steps.load")
    assert digests == {
        "__init__.py": digest(""),
        "core/__init__.py": digest(""),
        "steps/__init__.py": digest(PACKAGE["steps/__init__.py"]),
        "steps/load.py": digest("x = 1\ny = 2\n"),
    }


def test_imported_names_are_memoised_by_module_and_text(root: Path, isolated_home: Path) -> None:
    memo = isolated_home / "state" / "code-imports.json"
    CodeIndex(root).import_closure(f"{P}.core.paths")
    saved = json.loads(memo.read_text())
    text_key = f"{P}.core.paths@{digest(PACKAGE['core/paths.py'])}"
    assert saved[text_key] == [f"{P}.core", f"{P}.core.text"]
    assert sorted(saved) == sorted(
        [
            f"{P}@{digest('')}",
            f"{P}.core@{digest('')}",
            text_key,
            f"{P}.core.text@{digest(PACKAGE['core/text.py'])}",
        ]
    )
    assert memo.read_text() == json.dumps(saved, sort_keys=True)
    memo.write_text(json.dumps({**saved, text_key: "not a list"}))
    assert CodeIndex(root).direct_imports(f"{P}.core.paths") == {P, f"{P}.core", f"{P}.core.text"}


def test_a_broken_memo_is_parsed_again(root: Path, isolated_home: Path) -> None:
    memo = isolated_home / "state" / "code-imports.json"
    memo.parent.mkdir(parents=True)
    memo.write_text("{broken")
    closure = CodeIndex(root).import_closure(f"{P}.core.paths")
    assert closure == (P, f"{P}.core", f"{P}.core.paths", f"{P}.core.text")


def test_library_versions_from_metadata() -> None:
    assert library_versions(("pytest", "no-such-library-here")) == {
        "pytest": importlib.metadata.version("pytest"),
        "no-such-library-here": "not installed",
    }
