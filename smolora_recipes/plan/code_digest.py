"""A step's code identity: every module of this package its step module imports, transitively.

The closure is read from the source (static AST walk, so nothing is imported): `import` and
`from ... import` statements anywhere in a module count, lazy ones inside functions included;
those under `if TYPE_CHECKING:` do not, since they never run. Importing `a.b.c` also runs the
`__init__` of `a` and `a.b`, so those count too. Nobody keeps a list: a helper module is
covered the day a step's code imports it.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
from pathlib import Path

from smolora_recipes.store.hashing import digest

PACKAGE = "smolora_recipes"
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def module_file(module: str) -> Path | None:
    """The source file of a module of this package (`smolora_recipes.a.b`), or None."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _under_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _import_statements(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of a module that can run (TYPE_CHECKING branches left out)."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif _under_type_checking(node):
            assert isinstance(node, ast.If)
            pending.extend(node.orelse)  # the else branch does run
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def _imported_names(module: str, path: Path) -> set[str]:
    """Dotted names a module's import statements name (absolute, possibly not modules)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in _import_statements(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        names.add(base)
        names.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return names


@functools.cache
def direct_imports(module: str) -> frozenset[str]:
    """This package's modules that `module` imports directly, with the packages they run in."""
    path = module_file(module)
    assert path is not None, module
    found: set[str] = set()
    for name in _imported_names(module, path):
        while name.startswith(PACKAGE) and module_file(name) is None:
            name = name.rpartition(".")[0]  # `from a.b import function` names module a.b
        parts = name.split(".")
        found.update(
            ".".join(parts[:end]) for end in range(1, len(parts) + 1) if parts[0] == PACKAGE
        )
    found.discard(module)
    return frozenset(found)


@functools.cache
def import_closure(module: str) -> tuple[str, ...]:
    """`module`, its packages' `__init__`s, and every module of this package it imports,
    directly or not; sorted."""
    parts = module.split(".")
    seen = {".".join(parts[:end]) for end in range(1, len(parts) + 1)}
    pending = list(seen)
    while pending:
        for name in direct_imports(pending.pop()):
            if name not in seen:
                seen.add(name)
                pending.append(name)
    return tuple(sorted(seen))


def code_digests(module: str) -> dict[str, str]:
    """`{path relative to the package: content hash}` for every module in `module`'s closure
    (line endings normalised, so a checkout on Windows fingerprints the same)."""
    files: dict[str, str] = {}
    for name in import_closure(module):
        path = module_file(name)
        assert path is not None
        text = path.read_bytes().replace(b"\r\n", b"\n").decode("utf-8", "replace")
        files[path.relative_to(PACKAGE_DIR).as_posix()] = digest(text)
    return dict(sorted(files.items()))


def library_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Installed versions, read from package metadata (does not import the libraries)."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
