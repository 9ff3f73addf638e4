"""Resource modules import the shared provider modules, never each other (issue 10, point 3)."""

from __future__ import annotations

import ast
from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[2] / "provider" / "resources"
RESOURCE_MODULES = {
    "domain_groups",
    "sso_system",
    "node_join",
    "secret_server_name",
    "clustered_service",
    "master_secret_restore",
}


def imported_resource_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("provider.resources."):
                found.add(node.module.rsplit(".", 1)[1])
            elif node.module == "provider.resources":
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.rsplit(".", 1)[1] for a in node.names if a.name.startswith("provider.resources."))
    return found & RESOURCE_MODULES


def test_the_resource_modules_are_the_ones_that_define_a_resource() -> None:
    defining = {p.stem for p in RESOURCES.glob("*.py") if "(dyn.Resource," in p.read_text(encoding="utf-8")}
    assert defining == RESOURCE_MODULES


def test_no_resource_module_imports_another() -> None:
    crossing = {
        name: sorted(found)
        for name in RESOURCE_MODULES
        if (found := imported_resource_modules(RESOURCES / f"{name}.py"))
    }
    assert crossing == {}


def test_the_check_sees_a_sideways_import(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("from provider.resources.node_join import any_up\nfrom provider.resources import sso_system\n")
    assert imported_resource_modules(planted) == {"node_join", "sso_system"}
