"""The import rules of DESIGN section 2, read from the source with ``ast`` (nothing is imported).

- ``bridge/scim`` and ``bridge/mapping`` import only the standard library, each other, and
  ``bridge.directory.base`` (the mapping produces the directory filter AST);
- only ``bridge/directory/ldap/*`` imports ldap3;
- only ``bridge/http/*`` and ``bridge/app.py`` import falcon;
- ``bridge/service.py`` imports neither falcon nor ldap3, not even through other bridge modules.
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "bridge"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


@cache
def imports(module: str) -> frozenset[str]:
    """Every module ``module`` imports, anywhere in its body (also inside functions), absolute."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
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
            found.update(f"{name}.{alias.name}" for alias in node.names if f"{name}.{alias.name}" in MODULES)
    return frozenset(found)


def top(name: str) -> str:
    return name.partition(".")[0]


def is_stdlib(name: str) -> bool:
    return top(name) in sys.stdlib_module_names


def within(name: str, *prefixes: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def transitive(module: str) -> set[str]:
    """Everything ``module`` imports, following bridge modules."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        for name in imports(todo.pop()):
            if name not in seen:
                seen.add(name)
                if name in MODULES:
                    todo.append(name)
    return seen


def test_the_walk_finds_the_package() -> None:
    """Guards the rules below against passing on an empty or mis-rooted walk."""
    assert {"bridge.scim.patch", "bridge.mapping.engine", "bridge.service", "bridge.http.resources"} <= set(
        MODULES
    )
    assert "falcon" in imports("bridge.app")
    assert "ldap3" in imports("bridge.directory.ldap.adapter")
    assert "bridge.directory.ldap.adapter" in imports("bridge.app")  # found inside build_app
    assert "bridge.http.errors" in imports("bridge.app")  # from bridge.http import errors


PURE = sorted(name for name in MODULES if within(name, "bridge.scim", "bridge.mapping"))


@pytest.mark.parametrize(
    "module",
    PURE,
)
def test_the_protocol_core_and_the_mapping_import_only_the_standard_library_and_each_other(
    module: str,
) -> None:
    """DESIGN 2: ``scim/`` and ``mapping/`` are pure; the mapping may use the directory filter AST and its
    pure RFC 4515 parser (a map's ``filter`` is LDAP filter text)."""
    allowed = ("bridge.scim", "bridge.mapping", "bridge.directory.base", "bridge.directory.filterparse")
    outside = sorted(name for name in imports(module) if not is_stdlib(name) and not within(name, *allowed))
    assert outside == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_only_the_ldap_adapter_imports_ldap3(module: str) -> None:
    """DESIGN 2: ``directory/ldap/`` is the only place that imports ldap3."""
    if within(module, "bridge.directory.ldap"):
        return
    assert not any(top(name) == "ldap3" for name in imports(module))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_only_the_http_package_and_the_app_import_falcon(module: str) -> None:
    """DESIGN 2: ``http/`` and ``app.py`` are the only places that import falcon."""
    if within(module, "bridge.http", "bridge.app"):
        return
    assert not any(top(name) == "falcon" for name in imports(module))


def test_the_service_imports_neither_falcon_nor_ldap3_even_indirectly() -> None:
    """DESIGN 2/3: the service orchestrates over the Directory port; it knows neither the web
    framework nor the LDAP library, also through the bridge modules it uses."""
    reached = transitive("bridge.service")
    assert sorted(name for name in reached if top(name) in ("falcon", "ldap3")) == []
    assert not any(within(name, "bridge.http", "bridge.app", "bridge.directory.ldap") for name in reached)
