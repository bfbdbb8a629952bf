"""A step's code identity: every module of this package its step module imports, transitively.

The closure is read from the source (static AST walk, so nothing is imported): `import` and
`from ... import` statements anywhere in a module count, lazy ones inside functions included;
those under `if TYPE_CHECKING:` do not, since they never run. Importing `a.b.c` also runs the
`__init__` of `a` and `a.b`, so those count too. Nobody keeps a list: a helper module is
covered the day a step's code imports it.

Parsing every module costs ~80 ms, so the names each module imports are memoised under
SMOLORA_HOME/state, keyed by the module's name and the digest of its text: an edited module is
parsed again, an unchanged one never.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import os
from pathlib import Path

from smolora_recipes.core.json_memo import read_memo, write_memo
from smolora_recipes.core.paths import state_file
from smolora_recipes.store.hashing import digest

PACKAGE = "smolora_recipes"
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def package_modules(root: Path) -> dict[str, Path]:
    """Every module of the package in `root` by dotted name (`smolora_recipes.a.b`), with its
    file."""
    found: dict[str, Path] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [name for name in dirs if name.isidentifier()]  # no __pycache__ or data
        parts = [PACKAGE, *Path(folder).relative_to(root).parts]
        for name in files:
            if name.endswith(".py"):
                stem = name[:-3]
                dotted = parts if stem == "__init__" else [*parts, stem]
                found[".".join(dotted)] = Path(folder) / name
    return found


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


def _parsed_import_names(module: str, path: Path, text: str) -> list[str]:
    """Dotted names a module's import statements name (absolute, possibly not modules)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in _import_statements(ast.parse(text, str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        names.add(base)
        names.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return sorted(names)


def _source(path: Path) -> tuple[str, str]:
    """A module's text (line endings normalised, so a checkout on Windows fingerprints the
    same) and the digest of that text; read again whenever the file changes."""
    stat = path.stat()
    return _read_source(path, stat.st_mtime_ns, stat.st_size, stat.st_ino, stat.st_ctime_ns)


@functools.lru_cache(maxsize=512)
def _read_source(
    path: Path, mtime_ns: int, size: int, inode: int, ctime_ns: int
) -> tuple[str, str]:
    text = path.read_bytes().replace(b"\r\n", b"\n").decode("utf-8", "replace")
    return text, digest(text)


class _ImportNamesMemo:
    """`{"module@digest": imported names}` in SMOLORA_HOME/state: read once, written back
    (holding the entries this process used) after a closure that needed a new parse."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.known: dict[str, list[str]] = read_memo(path)
        self.used: dict[str, list[str]] = {}
        self.learned = False

    def names(self, module: str, path: Path) -> list[str]:
        """The names `module` (in `path`) imports, parsed only when its text is new."""
        text, text_digest = _source(path)
        key = f"{module}@{text_digest}"
        names = self.known.get(key)
        if not isinstance(names, list):
            names = self.known[key] = _parsed_import_names(module, path, text)
            self.learned = True
        self.used[key] = names
        return names

    def save_if_learned(self) -> None:
        """Write what this process used; a read-only home only means parsing again."""
        if self.learned and write_memo(self.path, self.used):
            self.learned = False


_MEMOS: dict[Path, _ImportNamesMemo] = {}


def _memo() -> _ImportNamesMemo:
    path = state_file("code-imports.json")
    if path not in _MEMOS:
        _MEMOS[path] = _ImportNamesMemo(path)
    return _MEMOS[path]


def _with_packages(module: str) -> list[str]:
    """`a.b.c` -> `a`, `a.b`, `a.b.c`: importing a module runs its packages' `__init__`s."""
    parts = module.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts) + 1)]


class CodeIndex:
    """This package's modules as found now (in `root`: a copy, in tests), and the import
    closures of its step modules."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or PACKAGE_DIR
        self.modules = package_modules(self.root)
        self._direct: dict[str, set[str]] = {}

    def direct_imports(self, module: str) -> set[str]:
        """This package's modules `module` imports directly, with the packages they run in
        (worked out once per module: the closures of all steps share them)."""
        if module not in self._direct:
            found: set[str] = set()
            for name in _memo().names(module, self.modules[module]):
                while name.startswith(PACKAGE) and name not in self.modules:
                    name = name.rpartition(".")[0]  # `from a.b import function` names a.b
                if name.split(".")[0] == PACKAGE:
                    found.update(_with_packages(name))
            found.discard(module)
            self._direct[module] = found
        return self._direct[module]

    def import_closure(self, module: str) -> tuple[str, ...]:
        """`module`, its packages' `__init__`s, and every module of this package it imports,
        directly or not; sorted."""
        seen = set(_with_packages(module))
        pending = list(seen)
        while pending:
            for name in self.direct_imports(pending.pop()):
                if name not in seen:
                    seen.add(name)
                    pending.append(name)
        _memo().save_if_learned()
        return tuple(sorted(seen))

    def code_digests(self, module: str) -> dict[str, str]:
        """`{path relative to the package: digest of its text}` for every module in
        `module`'s closure."""
        return {
            self.modules[name].relative_to(self.root).as_posix(): _source(self.modules[name])[1]
            for name in self.import_closure(module)
        }


DISTRIBUTIONS = {"llama_cpp": "llama-cpp-python"}  # import names that differ from the package's


def library_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of libraries (by import name), read from package metadata (does not
    import the libraries)."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(DISTRIBUTIONS.get(name, name))
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
