"""One transport rule set: the offline check (``provider.spec``) and the transport (``validate_transport``) agree.

Why: they used to disagree; the shipped prod stack passed the check and was refused at its first connection
(ESSO-040). Every shipped stack file goes through both here, and a stack that breaks a rule is refused by both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from provider.errors import EssoError
from provider.remote.psrp import PsrpRemote, dns_resolver, validate_transport
from provider.remote.psrp import config as psrp_config
from provider.remote.transport_rules import host_problem, is_local_account
from provider.spec import TransportSection, check_stack_file

STACKS = sorted((Path(__file__).resolve().parents[2] / "stacks").glob("*.yaml"))


def _config(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {k.split(":", 1)[1]: v for k, v in document["config"].items()}


@pytest.fixture
def with_kerberos(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(psrp_config, "kerberos_available", lambda: True)


def test_there_are_stacks_to_check() -> None:
    assert len(STACKS) >= 3


@pytest.mark.usefixtures("with_kerberos")
@pytest.mark.parametrize("path", STACKS, ids=[p.name for p in STACKS])
def test_every_shipped_stack_passes_both_checks(path: Path, tmp_path: Path) -> None:
    assert check_stack_file(path, allow_missing_secrets=True) == []
    config = _config(path)
    settings = dict(config.get("transport") or {})
    if settings.get("caBundle"):  # a file on the operator's machine: stand one in, the rules are what is tested
        ca = tmp_path / "ca.pem"
        ca.write_text("stand-in")
        settings["caBundle"] = str(ca)
    transport = TransportSection.model_validate(settings)
    account = config["sso"]["configuringAccount"]
    validate_transport(transport, password=SecretStr("stand-in"), username=account)
    remote = PsrpRemote(transport, username=account, password=SecretStr("stand-in"))
    for node in config["cluster"]["nodes"]:
        assert remote.endpoint(node).host  # every node's URL host is accepted


@pytest.mark.usefixtures("with_kerberos")
@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"auth": "ntlm", "secondHop": "kerberos-delegation"}, "secondHop"),
        ({"auth": "negotiate", "secondHop": "credssp"}, "secondHop"),
        ({"auth": "basic", "ssl": True, "secondHop": "none"}, "auth"),  # the stacks' configuringAccount is DOMAIN\user
        ({"readTimeout": 60, "operationTimeout": 60}, "readTimeout"),
        ({"ssl": False, "port": 5986}, "port"),
        ({"auth": "basic", "ssl": False, "secondHop": "none"}, "auth"),
    ],
)
def test_a_broken_stack_is_refused_by_both(change: dict[str, Any], key: str, tmp_path: Path) -> None:
    source = next(p for p in STACKS if p.name == "Pulumi.prod.yaml")
    document = yaml.safe_load(source.read_text(encoding="utf-8"))
    settings = {**document["config"]["esso-cluster:transport"], **change}
    settings.pop("caBundle", None)
    if not settings.get("ssl", True) and key != "port":
        settings.pop("port", None)
    document["config"]["esso-cluster:transport"] = settings
    stack = tmp_path / "Pulumi.broken.yaml"
    stack.write_text(yaml.safe_dump(document), encoding="utf-8")
    offline = check_stack_file(stack, allow_missing_secrets=True)
    assert any(f"transport.{key}" in str(p) for p in offline), offline
    raw = {_snake(k): v for k, v in settings.items()}
    unchecked = TransportSection.model_construct(**{**TransportSection().model_dump(), **raw})
    with pytest.raises(EssoError) as err:
        validate_transport(unchecked, password=SecretStr("stand-in"), username="CONTOSO\\esso-config")
    assert err.value.code == "ESSO-040" and f"transport.{key}" in str(err.value)


def _snake(key: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in key)


@pytest.mark.parametrize(
    ("account", "local"),
    [("esso", True), (".\\esso", True), ("CONTOSO\\esso", False), ("esso@contoso.com", False), ("NODE1\\esso", False)],
)
def test_which_accounts_count_as_local(account: str, local: bool) -> None:
    assert is_local_account(account) is local


@pytest.mark.parametrize(
    "host",
    ["sso01.contoso.com@evil", "sso01:80", "sso01/x", "sso01#x", "sso01?x", "sso 01", "sso01\n", "sso01\x00", ""],
)
def test_a_host_that_would_change_the_url_is_refused(host: str) -> None:
    assert host_problem(host) is not None
    with pytest.raises(EssoError) as err:
        PsrpRemote(
            TransportSection(auth="ntlm"),
            username="CONTOSO\\esso-config",
            password=SecretStr("stand-in"),
            resolver=lambda node: (host, 5986),
        ).endpoint("SSO01")
    assert err.value.code == "ESSO-040" and "SSO01" in str(err.value)


@pytest.mark.parametrize("host", ["sso01", "sso01.contoso.com", "127.0.0.1", "::1", "fe80::1"])
def test_ordinary_hosts_are_accepted(host: str) -> None:
    assert host_problem(host) is None


def test_the_dns_suffix_resolver_checks_the_host_it_builds() -> None:
    with pytest.raises(EssoError):
        dns_resolver("contoso.com@evil.example", 5986)("SSO01")
    assert dns_resolver("contoso.com", 5986)("SSO01") == ("SSO01.contoso.com", 5986)
