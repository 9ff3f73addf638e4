"""auth: kerberos on Linux without gssapi fails early: ESSO-040 naming transport.auth and `make kerberos`."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from types import ModuleType

import pytest

from provider.errors import EssoError
from provider.remote.kerberos import MODULES, missing_modules, needs_kerberos, require_kerberos_support
from provider.spec import TransportSection

ROOT = Path(__file__).resolve().parents[2]


def transport(**fields: object) -> TransportSection:
    return TransportSection.model_validate(fields)


def without(*absent: str):
    def importer(name: str) -> ModuleType:
        if name in absent:
            raise ImportError(f"No module named '{name}'")
        return ModuleType(name)

    return importer


def test_kerberos_is_needed_for_kerberos_auth_and_delegation_only() -> None:
    assert needs_kerberos(transport(auth="kerberos"))
    assert needs_kerberos(transport(auth="kerberos", secondHop="kerberos-delegation"))
    assert not needs_kerberos(transport(auth="credssp", secondHop="credssp"))
    assert not needs_kerberos(transport(auth="negotiate"))


@pytest.mark.parametrize("absent", [("gssapi",), ("krb5",), ("gssapi", "krb5")])
def test_missing_packages_are_esso_040_with_the_key_and_the_fix(absent: tuple[str, ...]) -> None:
    with pytest.raises(EssoError) as err:
        require_kerberos_support(
            transport(auth="kerberos", secondHop="kerberos-delegation"), platform="linux", importer=without(*absent)
        )
    assert err.value.code == "ESSO-040"
    text = str(err.value)
    assert "transport.auth: kerberos" in text and "make kerberos" in text and "requirements-kerberos.txt" in text
    assert all(name in text for name in absent)


def test_a_library_that_fails_to_load_counts_as_missing() -> None:
    def importer(name: str) -> ModuleType:
        raise OSError("libgssapi_krb5.so.2: cannot open shared object file")

    assert [m.split(" ")[0] for m in missing_modules(importer)] == list(MODULES)


def test_nothing_is_required_on_windows_or_without_kerberos() -> None:
    require_kerberos_support(transport(auth="kerberos"), platform="win32", importer=without(*MODULES))
    require_kerberos_support(
        transport(auth="credssp", secondHop="credssp"), platform="linux", importer=without(*MODULES)
    )
    require_kerberos_support(transport(auth="kerberos"), platform="linux", importer=without())


def test_this_machine_is_judged_by_what_really_imports() -> None:
    loads = True
    for name in MODULES:
        try:
            importlib.import_module(name)
        except (ImportError, OSError):
            loads = False
    if loads:
        require_kerberos_support(transport(auth="kerberos"), platform="linux")
    else:
        with pytest.raises(EssoError):
            require_kerberos_support(transport(auth="kerberos"), platform="linux")


def test_the_install_path_pins_the_extra_and_the_make_target_uses_it() -> None:
    runtime = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    kerberos = (ROOT / "requirements-kerberos.txt").read_text(encoding="utf-8")
    pinned = re.search(r"^pypsrp\[[^\]]*\]==(\S+)$", runtime, re.M)
    assert pinned is not None
    assert f"pypsrp[kerberos]=={pinned.group(1)}" in kerberos
    assert re.search(r"^gssapi==\S+$", kerberos, re.M) and re.search(r"^krb5==\S+$", kerberos, re.M)
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    target = makefile.split("\nkerberos:", 1)[1].split("\n\n", 1)[0]
    assert "libkrb5-dev" in target and "requirements-kerberos.txt" in target
