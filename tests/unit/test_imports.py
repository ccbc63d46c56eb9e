"""The import rules of the layers, read from the source with ``ast`` (nothing is imported), and checked
transitively: a module breaks a rule also through the bridge modules it imports.

- nothing under ``bridge/directory`` but ``bridge/directory/ldap`` reaches ldap3;
- nothing under ``bridge/services``, ``bridge/scim`` or ``bridge/mapping`` reaches ldap3 or falcon;
- only ``bridge/http`` and ``bridge/app.py`` import falcon; any other module that reaches it (the
  launchers: ``cli``, ``ops``) does so through them;
- ``bridge/scim`` imports only the standard library and itself; ``bridge/mapping`` also ``bridge/scim``,
  the directory's filter AST and its RFC 4515 parser (a map's ``filter`` is LDAP filter text), and
  ``bridge/yamlfile.py`` (``load_maps`` reads the map's file);
- no import cycle among bridge modules.

Which imports count: for the layers, every import, also one inside a function (it runs when the function
is called: the module still needs that package) and one under ``if TYPE_CHECKING:`` (the layer still
names the other in its types). For cycles, only the imports that run while the module itself is being
imported (module level, not under TYPE_CHECKING): an import inside a function runs after every module
is loaded, so it cannot meet a half-initialised module; the CLI defers ldap3 and falcon that way.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import REPO


class Graph:
    """The import graph of the package ``root`` (a directory holding ``__init__.py``)."""

    def __init__(self, root: Path) -> None:
        self.base = root.parent
        self.modules = {self._name(path): path for path in sorted(root.rglob("*.py"))}

    def _name(self, path: Path) -> str:
        parts = path.relative_to(self.base).with_suffix("").parts
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    @cache  # noqa: B019 - one graph per package, alive for the whole session
    def imports(self, module: str, *, loading: bool = False) -> frozenset[str]:
        """Every module ``module`` imports, absolute; with ``loading``, only those imported while it
        loads (module level, outside ``if TYPE_CHECKING:``)."""
        path = self.modules[module]
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        found: set[str] = set()
        tree = ast.parse(path.read_text(), str(path))
        for node in _loading(tree) if loading else ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    name = f"{base}.{node.module}" if node.module else base
                else:
                    name = node.module or ""
                if name == "__future__":
                    continue
                found.add(name)
                # `from bridge.http import errors` imports the module bridge.http.errors.
                found.update(
                    f"{name}.{alias.name}" for alias in node.names if f"{name}.{alias.name}" in self.modules
                )
        return frozenset(found)

    def reached(self, module: str, *, avoiding: tuple[str, ...] = ()) -> set[str]:
        """Everything ``module`` imports, following the package's modules but those ``avoiding`` names."""
        seen: set[str] = set()
        todo = [module]
        while todo:
            for name in self.imports(todo.pop()):
                if name not in seen:
                    seen.add(name)
                    if name in self.modules and not within(name, *avoiding):
                        todo.append(name)
        return seen

    def cycles(self) -> list[list[str]]:
        """Each import cycle among the package's modules (imports made while loading), once."""
        found: list[list[str]] = []
        done: set[str] = set()

        def visit(module: str, path: list[str]) -> None:
            for name in sorted(self.imports(module, loading=True)):
                if name not in self.modules:
                    continue
                if name in path:
                    found.append([*path[path.index(name) :], name])
                elif name not in done:
                    visit(name, [*path, name])
            done.add(module)

        for module in self.modules:
            if module not in done:
                visit(module, [module])
        return found


def _loading(tree: ast.Module) -> Iterator[ast.stmt]:
    """The statements that run while a module loads: module level, into ``if``/``try`` blocks, but not
    into ``if TYPE_CHECKING:`` nor into functions or classes' methods."""
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                todo.extend(node.body)
            todo.extend(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                todo.extend(block)
        elif isinstance(node, ast.ClassDef):
            todo.extend(s for s in node.body if not isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef))


def top(name: str) -> str:
    return name.partition(".")[0]


def within(name: str, *prefixes: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


# --- the rules: each returns what breaks it, as "module: why" ------------------------------------------


def ldap3_outside_the_adapter(graph: Graph) -> list[str]:
    """Modules under bridge/directory, but bridge/directory/ldap, that reach ldap3."""
    return [
        f"{module}: reaches ldap3"
        for module in graph.modules
        if within(module, "bridge.directory") and not within(module, "bridge.directory.ldap")
        if any(top(name) == "ldap3" for name in graph.reached(module))
    ]


def impure_core(graph: Graph) -> list[str]:
    """Modules under bridge/services, bridge/scim or bridge/mapping that reach ldap3 or falcon."""
    return [
        f"{module}: reaches {library}"
        for module in graph.modules
        if within(module, "bridge.services", "bridge.scim", "bridge.mapping")
        for library in ("falcon", "ldap3")
        if any(top(name) == library for name in graph.reached(module))
    ]


WEB = ("bridge.http", "bridge.app")


def falcon_outside_the_web(graph: Graph) -> list[str]:
    """Modules outside bridge/http and bridge/app.py that import falcon, or reach it other than through
    those two."""
    return [
        f"{module}: reaches falcon other than through bridge.http or bridge.app"
        for module in graph.modules
        if not within(module, *WEB)
        if any(top(name) == "falcon" for name in graph.reached(module, avoiding=WEB))
    ]


def outside_the_protocol_core(graph: Graph) -> list[str]:
    """Imports of bridge/scim and bridge/mapping beyond the standard library and what each may use."""
    allowed = {
        "bridge.scim": ("bridge.scim",),
        "bridge.mapping": (
            "bridge.scim",
            "bridge.mapping",
            "bridge.directory.base",
            "bridge.directory.filterparse",
            "bridge.yamlfile",  # load_maps reads the map's file
        ),
    }
    return [
        f"{module}: imports {name}"
        for module in graph.modules
        for layer, own in allowed.items()
        if within(module, layer)
        for name in sorted(graph.imports(module))
        if top(name) not in sys.stdlib_module_names and not within(name, *own)
    ]


def cycles(graph: Graph) -> list[str]:
    return [" -> ".join(cycle) for cycle in graph.cycles()]


RULES = [ldap3_outside_the_adapter, impure_core, falcon_outside_the_web, outside_the_protocol_core, cycles]


@cache
def bridge() -> Graph:
    return Graph(REPO / "bridge")


def test_the_walk_finds_the_package() -> None:
    """Guards the rules below against passing on an empty or mis-rooted walk."""
    graph = bridge()
    assert {
        "bridge.scim.patch",
        "bridge.mapping.engine",
        "bridge.services.users",
        "bridge.http.users",
    } <= set(graph.modules)
    assert "falcon" in graph.imports("bridge.app")
    assert "ldap3" in graph.imports("bridge.directory.ldap.adapter")
    assert "bridge.directory.ldap.adapter" in graph.imports("bridge.app")  # found inside open_directory
    assert "bridge.directory.ldap.adapter" not in graph.imports("bridge.app", loading=True)
    assert "bridge.http.errors" in graph.imports("bridge.app")  # from bridge.http import errors
    assert "ldap3" in graph.reached("bridge.app")  # through bridge.directory.ldap


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_the_bridge_keeps_the_rule(rule: object) -> None:
    assert callable(rule)
    assert rule(bridge()) == []


def _package(root: Path, files: dict[str, str]) -> Graph:
    for name, text in files.items():
        path = root / "bridge" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for folder in [root / "bridge", *(p for p in (root / "bridge").rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()
    return Graph(root / "bridge")


def test_each_rule_finds_a_violation_two_modules_away(tmp_path: Path) -> None:
    """A synthetic package that breaks every rule only through another bridge module (or, for cycles,
    at load time): each rule names its violation, and imports inside functions or under TYPE_CHECKING
    make no cycle."""
    graph = _package(
        tmp_path,
        {
            "directory/ldap/render.py": "import ldap3\n",
            "directory/memory.py": "from bridge.directory.ldap import render\n",
            "http/media.py": "import falcon\n",
            "services/users.py": "from bridge.directory import memory\nfrom bridge.scim import text\n",
            "scim/text.py": "from bridge.http.media import x\n",
            "mapping/engine.py": "import yaml\nfrom bridge.mapping import model\n",
            "mapping/model.py": "from bridge.mapping.engine import Rule\n",
            "ops/web.py": "import falcon\n",
            "ops/tool.py": "from bridge.ops import web\nfrom bridge.services import users\n",
            "app.py": "import falcon\n",
            "cli.py": "def main():\n    from bridge import app\n",
            "late.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bridge import later\n",
            "later.py": "def f():\n    from bridge import late\n",
        },
    )
    assert ldap3_outside_the_adapter(graph) == ["bridge.directory.memory: reaches ldap3"]
    assert sorted(impure_core(graph)) == [
        "bridge.scim.text: reaches falcon",
        "bridge.services.users: reaches falcon",
        "bridge.services.users: reaches ldap3",
    ]
    # bridge.cli reaches falcon through bridge.app, scim.text through bridge.http: this rule allows both.
    assert sorted(falcon_outside_the_web(graph)) == [
        "bridge.ops.tool: reaches falcon other than through bridge.http or bridge.app",
        "bridge.ops.web: reaches falcon other than through bridge.http or bridge.app",
    ]
    assert sorted(outside_the_protocol_core(graph)) == [
        "bridge.mapping.engine: imports yaml",
        "bridge.scim.text: imports bridge.http.media",
    ]
    assert cycles(graph) == ["bridge.mapping.engine -> bridge.mapping.model -> bridge.mapping.engine"]
