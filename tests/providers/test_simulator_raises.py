"""Each contract declares the ESSO ids its script may throw; the script throws exactly those, and the simulator
models exactly those (issue 9 C; review aesthetics 4.1(d)).

Why static: the scripts are never run here, and a handler's refusals are what the providers see in every simulator
test. Both sides are read the same way: the ids in the ``throw`` statements a script can reach (tests/support/pwsh.py
``thrown_codes``), and the ids in the ``ctx.fail(...)`` calls a handler can reach through the simulator modules'
functions (Python ``ast``). ESSO-035 (any terminating error without an id) and ESSO-041 (an injected fault) are
implicit for every script and left out.
"""

from __future__ import annotations

import ast
import inspect
from types import ModuleType

import pytest

from provider import contracts
from provider.errors import CATALOGUE, KNOWN_WINDOWS_ERRORS
from provider.remote import (
    sim_backup_file,
    sim_checks,
    sim_cluster,
    sim_configuration,
    sim_domain,
    sim_facts,
    sim_files,
    sim_handlers,
    sim_model,
    sim_restore_chain,
    sim_rotation,
    sim_ssomanage,
)
from provider.remote.script_source import assembled
from provider.remote.simulator import HANDLERS
from tests.support.pwsh import PwshScript

IMPLICIT = {"ESSO-035", "ESSO-041"}
NAMES = sorted(contracts.SCRIPTS)

# The simulator modules by the name code uses for them (``sim_model.find_node``), and a name to its home module.
_MODULES: dict[str, ModuleType] = {
    module.__name__.rsplit(".", 1)[-1]: module
    for module in (
        sim_model,
        sim_domain,
        sim_checks,
        sim_facts,
        sim_handlers,
        sim_configuration,
        sim_ssomanage,
        sim_cluster,
        sim_files,
        sim_rotation,
        sim_restore_chain,
        sim_backup_file,
    )
}


def _home(module_name: str, name: str) -> str:
    """The module that defines ``name`` (a re-export resolves to where the function really lives)."""
    short = module_name.rsplit(".", 1)[-1]
    found = getattr(_MODULES[short], name, None) if short in _MODULES else None
    return str(getattr(found, "__module__", short)).rsplit(".", 1)[-1]


def _function_table() -> dict[tuple[str, str], tuple[set[str], set[tuple[str, str]]]]:
    """(module, function) -> (the ESSO ids it passes to ctx.fail, the simulator functions it calls)."""
    table: dict[tuple[str, str], tuple[set[str], set[tuple[str, str]]]] = {}
    for module in _MODULES.values():
        tree = ast.parse(inspect.getsource(module))
        imported = {
            alias.asname or alias.name: _home(node.module, alias.name)
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("provider.remote.sim_")
            for alias in node.names
        }
        for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
            codes: set[str] = set()
            calls: set[tuple[str, str]] = set()
            for call in (n for n in ast.walk(fn) if isinstance(n, ast.Call)):
                func = call.func
                if isinstance(func, ast.Attribute) and func.attr in {"fail", "fail_after_change"} and call.args:
                    first = call.args[0]
                    if isinstance(first, ast.Constant) and isinstance(first.value, str):
                        codes.add(first.value)
                if isinstance(func, ast.Name):
                    target = imported.get(func.id, module.__name__.rsplit(".", 1)[-1])
                    calls.add((target, func.id))
                elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in _MODULES:
                    calls.add((_home(_MODULES[func.value.id].__name__, func.attr), func.attr))
            table[(module.__name__.rsplit(".", 1)[-1], fn.name)] = (codes, calls)
    return table


TABLE = _function_table()


def simulated_codes(script: str) -> set[str]:
    """The ESSO ids the script's simulator handler can fail with, through every simulator function it reaches."""
    handler = HANDLERS[script]
    start = (handler.__module__.rsplit(".", 1)[-1], handler.__name__)
    seen: set[tuple[str, str]] = set()
    todo = [start]
    codes: set[str] = set()
    while todo:
        key = todo.pop()
        if key in seen or key not in TABLE:
            continue
        seen.add(key)
        found, calls = TABLE[key]
        codes |= found
        todo.extend(calls)
    return codes - IMPLICIT


def thrown_codes(script: str) -> set[str]:
    return PwshScript(assembled(script)).thrown_codes() - IMPLICIT


@pytest.mark.parametrize("name", NAMES)
def test_the_script_throws_exactly_the_declared_ids(name: str) -> None:
    assert thrown_codes(name) == set(contracts.SCRIPTS[name].raises)


@pytest.mark.parametrize("name", NAMES)
def test_the_simulator_models_exactly_the_declared_ids(name: str) -> None:
    """What the script throws, plus what the transport derives from the tool's own text (``classified``)."""
    script = contracts.SCRIPTS[name]
    assert simulated_codes(name) == set(script.raises) | set(script.classified)


def test_declared_ids_are_in_the_catalogue_and_not_implicit() -> None:
    known = {code for _pattern, code in KNOWN_WINDOWS_ERRORS}
    for script in contracts.SCRIPTS.values():
        assert set(script.raises) <= set(CATALOGUE), script.name
        assert not set(script.raises) & IMPLICIT, script.name
        assert set(script.classified) <= known, f"{script.name}: the transport cannot derive {script.classified}"
        assert not set(script.classified) & set(script.raises), script.name


class TestTheComparisonCanFail:
    """A throw or a refusal added on one side only is found."""

    def test_a_throw_the_contract_does_not_declare_is_found(self) -> None:
        source = assembled("Move-SsoRole").replace(
            "$ErrorActionPreference = 'Stop'", "$ErrorActionPreference = 'Stop'\nthrow 'ESSO-020 planted'", 1
        )
        assert "ESSO-020" in PwshScript(source).thrown_codes()

    def test_a_throw_in_a_function_the_script_never_calls_is_not_counted(self) -> None:
        source = assembled("Move-SsoRole") + "\nfunction Get-Unused {\n    throw 'ESSO-020 planted'\n}\n"
        assert "ESSO-020" not in PwshScript(source).thrown_codes()

    def test_a_refusal_reached_through_a_helper_is_found(self) -> None:
        # install_sso_system fails with ESSO-002 only through _check_group_kind: the closure must follow the call
        assert "ESSO-002" not in TABLE[("sim_configuration", "install_sso_system")][0]
        assert "ESSO-002" in simulated_codes("Install-SsoSystem")
