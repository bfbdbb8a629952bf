"""The package's import graph: no circle, and every import points down the layers of
docs/architecture.md (runtime imports, lazy ones included; TYPE_CHECKING blocks excluded)."""

from __future__ import annotations

from smolora_recipes.plan.code_digest import CodeIndex

# docs/architecture.md: a package imports only from packages of a lower layer, or itself
LAYERS = {
    "core": 0,
    "recipe": 1,
    "data": 2,
    "store": 2,
    "models": 2,
    "plan": 3,
    "report": 3,
    "training": 3,
    "inference": 3,
    "deploy": 3,
    "tracking": 3,
    "steps": 4,
    "run": 5,
    "catalog": 6,
    "cli": 7,
}
ROOT_MODULES = {"smolora_recipes": -1, "smolora_recipes.__main__": 8}  # version; `python -m`
MAX_ROOT_MODULES = 10


def _graph() -> dict[str, set[str]]:
    index = CodeIndex()
    return {module: index.direct_imports(module) for module in index.modules}


def _layer(module: str) -> tuple[str, int]:
    if module in ROOT_MODULES:
        return module, ROOT_MODULES[module]
    package = module.split(".")[1]
    assert package in LAYERS, f"{module}: package {package!r} has no layer in LAYERS"
    return package, LAYERS[package]


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle() -> None:
    circles = _circles(_graph())
    assert not circles, "import circles: " + "; ".join(" <-> ".join(c) for c in circles)


def test_imports_point_down_the_layers() -> None:
    upward = []
    for module, targets in sorted(_graph().items()):
        package, layer = _layer(module)
        for target in sorted(targets):
            target_package, target_layer = _layer(target)
            if target_package != package and target_layer >= layer:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports that do not point down the layers:\n" + "\n".join(upward)


def test_package_root_holds_a_handful_of_modules() -> None:
    root = [module for module in CodeIndex().modules if module.count(".") <= 1]
    packages = {module.split(".")[1] for module in CodeIndex().modules if module.count(".") >= 2}
    flat = [module for module in root if module.rpartition(".")[2] not in packages]
    assert len(flat) <= MAX_ROOT_MODULES, flat
    assert packages == set(LAYERS)
