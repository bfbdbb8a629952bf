"""Safe, position-aware YAML reading.

Composes the YAML node graph with PyYAML's safe machinery and converts it ourselves, so that
every value keeps the file, line and column it came from, python tags are refused, duplicate
keys are errors, `2e-4` is a float, alias bombs and absurd nesting stop early, and
`${env:NAME}` / `${env:NAME:-default}` are substituted with their origin recorded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from smolora_recipes.core.errors import Location, Problem, RecipeError

FieldPath = tuple[str | int, ...]

MAX_RECIPE_BYTES = 1_000_000  # a recipe is configuration; anything bigger is a mistake or an attack
MAX_VALUES = 50_000  # total values after alias expansion (stops "billion laughs")
MAX_DEPTH = 40
COMPOSE_DEPTH = 4 * MAX_DEPTH  # the composer's own stop (3 stack frames a level); up to it, the
# converter's check names the field too

_SCIENTIFIC_FLOAT = re.compile(r"^[-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)[eE][-+]?\d+$")
_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
_SAFE_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class _NestedTooDeep(Exception):
    """Raised by the composer at a node nested deeper than MAX_DEPTH."""

    def __init__(self, mark: yaml.Mark) -> None:
        super().__init__(mark)
        self.mark = mark


class _RecipeLoader(yaml.SafeLoader):
    """SafeLoader that also reads `2e-4` (no dot) as a float, as people write learning rates,
    and stops at a node nested deeper than COMPOSE_DEPTH (the composer recurses: 500 nested
    `[` would exhaust Python's stack before any later check)."""

    depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        """Compose one node, counting how deeply it is nested (the top node is level 0)."""
        self.depth += 1
        try:
            if self.depth > COMPOSE_DEPTH:
                raise _NestedTooDeep(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", _SCIENTIFIC_FLOAT, list("-+0123456789.")
)


def path_text(path: FieldPath) -> str:
    """Dotted form of a field path: `data.sources.0.path`."""
    return ".".join(str(part) for part in path)


def value_at(data: Any, path: FieldPath) -> Any:
    """The value at `path` inside nested mappings and lists."""
    for part in path:
        data = data[part]
    return data


def set_value_at(data: Any, path: FieldPath, value: Any) -> None:
    """Replace the value at `path` inside nested mappings and lists."""
    value_at(data, path[:-1])[path[-1]] = value


@dataclass
class YamlDocument:
    """Plain data read from YAML, with the location of every value and any env substitutions."""

    data: Any
    file: str
    positions: dict[FieldPath, Location] = field(default_factory=dict)
    env_vars: dict[FieldPath, str] = field(default_factory=dict)


def oversized_recipe(file: str) -> Problem:
    """The problem of a recipe file larger than MAX_RECIPE_BYTES."""
    return Problem(
        f"file is larger than {MAX_RECIPE_BYTES // 1000} kB; a recipe is configuration",
        Location(file),
        hint="keep data in data files and name them from `data.sources`",
    )


def parse_yaml(text: str, file: str, env: Mapping[str, str]) -> YamlDocument:
    """Parse one YAML document into plain data with positions; raise RecipeError on any problem."""
    if len(text.encode("utf-8", errors="replace")) > MAX_RECIPE_BYTES:
        raise RecipeError(oversized_recipe(file))
    try:  # the reader refuses control characters up front
        loader = _RecipeLoader(text)
    except yaml.reader.ReaderError as error:
        raise RecipeError(_character_problem(text, error, file)) from None
    try:
        node = loader.get_single_node()
    except _NestedTooDeep as error:
        where = Location(file, error.mark.line + 1, error.mark.column + 1)
        raise RecipeError(
            Problem(
                f"nested deeper than {MAX_DEPTH} levels",
                where,
                hint="a recipe is configuration: no setting nests this deep",
            )
        ) from None
    except yaml.MarkedYAMLError as error:
        raise RecipeError(_syntax_problem(error, file)) from None
    except yaml.YAMLError as error:
        raise RecipeError(Problem(f"not valid YAML: {error}", Location(file))) from None
    finally:
        loader.dispose()
    document = YamlDocument(data=None, file=file)
    if node is None:
        document.data = {}
        return document
    converter = _Converter(document, env)
    document.data = converter.convert(node, (), 0)
    if converter.problems:
        raise RecipeError(converter.problems)
    return document


def parse_yaml_value(text: str, where: Location, env: Mapping[str, str]) -> Any:
    """Parse a single YAML value given on the command line (`--set key=VALUE`); `${env:NAME}`
    in it reads `env`, as in a recipe file."""
    document = parse_yaml(text, where.file, env)
    return document.data


def _character_problem(text: str, error: yaml.reader.ReaderError, file: str) -> Problem:
    """A control character YAML does not allow, located by line and column."""
    before = text[: error.position]
    line = before.count("\n") + 1
    column = error.position - (before.rfind("\n") + 1) + 1
    return Problem(
        f"character #x{error.character:04x} is not allowed in YAML",
        Location(file, line, column),
        hint='remove the control character, or write it escaped inside double quotes: "\\x1f"',
    )


def _syntax_problem(error: yaml.MarkedYAMLError, file: str) -> Problem:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    message = error.problem or "invalid YAML"
    if error.context:
        message = f"{error.context}, {message}"
    hint = "check indentation and quoting near this line; strings with ': ' need quotes"
    if "flow" in message:
        hint = "inside { } and [ ], quote text containing '?', ':', ',' or '#': 'Is it? Yes'"
    return Problem(f"YAML syntax error: {message}", Location(file, line, column), hint=hint)


class _Converter:
    """Walks a composed node graph into plain Python data, recording positions."""

    def __init__(self, document: YamlDocument, env: Mapping[str, str]) -> None:
        self.document = document
        self.env = env
        self.constructor = SafeConstructor()
        self.resolver = _RecipeLoader("")
        self.count = 0
        self.problems: list[Problem] = []

    def location(self, node: Node) -> Location:
        mark = node.start_mark
        return Location(self.document.file, mark.line + 1, mark.column + 1)

    def convert(self, node: Node, path: FieldPath, depth: int) -> Any:
        if depth > MAX_DEPTH:  # aliases can nest deeper than the text (`&a [*a]` endlessly)
            raise RecipeError(
                Problem(
                    f"nested deeper than {MAX_DEPTH} levels", self.location(node), path_text(path)
                )
            )
        self.count += 1
        if self.count > MAX_VALUES:
            raise RecipeError(
                Problem(
                    f"recipe expands to more than {MAX_VALUES} values",
                    self.location(node),
                    hint="YAML aliases (*name) that repeat each other multiply; write it out",
                )
            )
        if isinstance(node, MappingNode):
            return self.convert_mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            self.check_plain_tag(node, "tag:yaml.org,2002:seq", path)
            return [
                self.convert_item(item, (*path, index), depth)
                for index, item in enumerate(node.value)
            ]
        return self.convert_scalar(node, path)

    def convert_item(self, node: Node, path: FieldPath, depth: int) -> Any:
        self.document.positions.setdefault(path, self.location(node))
        return self.convert(node, path, depth + 1)

    def convert_mapping(self, node: MappingNode, path: FieldPath, depth: int) -> dict[str, Any]:
        self.check_plain_tag(node, "tag:yaml.org,2002:map", path)
        own = {id(key) for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge"}
        try:
            self.constructor.flatten_mapping(node)  # YAML merge keys (<<: *base), put first
        except ConstructorError as error:
            raise RecipeError(_syntax_problem(error, self.document.file)) from None
        result: dict[str, Any] = {}
        merged: set[str] = set()  # keys whose value came from a merge: the mapping's own win
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                self.problems.append(
                    Problem(
                        "keys must be plain strings",
                        self.location(key_node),
                        path_text(path),
                        hint="quote the key, e.g. '1': ...",
                    )
                )
                continue
            key = key_node.value
            child = (*path, key)
            if key in merged and id(key_node) in own:
                merged.discard(key)  # the mapping's own key overrides the merged one
            elif key in result:
                self.problems.append(
                    Problem(
                        "duplicate key; YAML would silently keep only the last one",
                        self.location(key_node),
                        path_text(child),
                        hint=f"first set at line {self.document.positions[child].line}",
                    )
                )
                continue
            self.document.positions[child] = self.location(key_node)
            result[key] = self.convert(value_node, child, depth + 1)
            if id(key_node) not in own:
                merged.add(key)
        return result

    def check_plain_tag(self, node: Node, expected: str, path: FieldPath) -> None:
        if node.tag != expected:
            self.refuse_tag(node, path)

    def refuse_tag(self, node: Node, path: FieldPath) -> None:
        raise RecipeError(
            Problem(
                f"YAML tag {node.tag!r} is not allowed: recipes are data and cannot run code",
                self.location(node),
                path_text(path),
                hint="remove the !tag; write plain strings, numbers, lists and mappings",
            )
        )

    def convert_scalar(self, node: ScalarNode, path: FieldPath) -> Any:
        if node.tag == _TIMESTAMP_TAG:
            return node.value  # dates stay text: revisions and names are not timestamps
        if node.tag not in _SAFE_TAGS:
            self.refuse_tag(node, path)
        value = self.constructor.construct_object(node)
        if isinstance(value, str) and "${env:" in value:
            return self.interpolate(value, node, path)
        return value

    def interpolate(self, value: str, node: ScalarNode, path: FieldPath) -> Any:
        names: list[str] = []

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            names.append(name)
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            self.problems.append(
                Problem(
                    f"environment variable {name} is not set",
                    self.location(node),
                    path_text(path),
                    hint=f"export {name}=..., or give a default: ${{env:{name}:-value}}",
                )
            )
            return ""

        result = _ENV_REF.sub(substitute, value)
        self.document.env_vars[path] = ", ".join(names)
        if _ENV_REF.fullmatch(value):
            # A value that is exactly one reference takes the type its text has: 16 -> int.
            tag = self.resolver.resolve(ScalarNode, result, (True, False))
            if tag in _SAFE_TAGS:
                return self.constructor.construct_object(ScalarNode(tag, result))
        return result
