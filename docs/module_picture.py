"""The module picture of a package: import circles, imports of other modules' private
names, and the largest modules. Imports inside functions count as imports; imports under
``if TYPE_CHECKING:`` do not (they never run).

Run from the repository root: ``python docs/module_picture.py shapkit``.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path


def module_files(root: str) -> dict[str, Path]:
    """``{dotted module name: file}`` of every module under the package ``root``."""
    modules = {}
    for path in sorted(Path(root).rglob("*.py")):
        name = ".".join(path.with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


def runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:`` (imports there are
    for type checkers only and never run)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return [node for node in ast.walk(tree) if id(node) not in skipped]


def imports(modules: dict[str, Path], root: str) -> tuple[dict, list]:
    """The import edges between the modules (at run time), and the private names
    imported from another module (``(importer, module, name)``)."""
    edges: dict[str, set[str]] = defaultdict(set)
    private = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in runtime_nodes(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(parts + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if not target.startswith(root):
                    continue
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    imported = full if full in modules else target
                    if imported in modules and imported != name:
                        edges[name].add(imported)
                    private_name = alias.name.startswith("_") and not alias.name.startswith("__")
                    if private_name and full not in modules:
                        private.append((name, target, alias.name))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in modules and alias.name != name:
                        edges[name].add(alias.name)
    return edges, private


def circles(nodes: list[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other, directly or around a loop (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for v in nodes:
        if v not in index:
            visit(v)
    return groups


def main(root: str = "shapkit") -> None:
    modules = module_files(root)
    edges, private = imports(modules, root)
    found = circles(list(modules), edges)
    print(f"modules: {len(modules)}, import edges: {sum(len(e) for e in edges.values())}")
    print(f"import circles: {len(found)}")
    for group in found:
        print("   " + " <-> ".join(group))
    print(f"imports of another module's private names: {len(private)}")
    for importer, module, name in private:
        print(f"   {importer} imports {module}.{name}")
    sizes = sorted(((len(p.read_text().splitlines()), m) for m, p in modules.items()), reverse=True)
    print("largest modules (lines):")
    for lines, name in sizes[:10]:
        print(f"   {lines:5d} {name}")


if __name__ == "__main__":
    main(*sys.argv[1:])
