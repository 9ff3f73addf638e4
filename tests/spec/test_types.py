"""One rule, one message: the resources' inputs reuse the stack model's rule types, and the rules have one home.

``ClusterInputs`` (what every provider's ``check()`` validates) annotates its fields with the types of
``provider/config/rules.py``; a bad value must be refused there with the message the stack file gets.
Also the shared helpers other modules call instead of their own copies: ``split_account`` and the
temporary-folder rule.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from provider.config.places import temporary_folder
from provider.config.rules import NodeName
from provider.config.translation import problems_of
from provider.remote.sim_model import domain_of, sam_of
from provider.resources.base import ClusterInputs
from provider.spec import load_spec, split_account
from provider.ssoxml import SsoXmlError, _split_account
from tests.spec.common import base_config, changed, problems

# (ClusterInputs key, stack key, bad value): the same value refused by both models.
SHARED = [
    pytest.param("nodes[1]", "cluster.nodes[1]", {"nodes": ["SSO01", "SSO02.contoso.com"]}, id="node-fqdn"),
    pytest.param("nodes[1]", "cluster.nodes[1]", {"nodes": ["SSO01", "sso01"]}, id="node-repeated"),
    pytest.param("nodes", "cluster.nodes", {"nodes": ["SSO01"]}, id="one-node"),
    pytest.param("networkName", "cluster.networkName", {"networkName": "BIZTALKSSOCLUSTER"}, id="network-name"),
    pytest.param("role", "cluster.role", {"role": " SSO"}, id="role-padded"),
    pytest.param("domain", "domain.name", {"domain": "contoso.com"}, id="domain-dns-name"),
    pytest.param("serviceAccount", "sso.serviceAccount", {"serviceAccount": "svc@contoso.com"}, id="upn"),
    pytest.param("adminGroup", "sso.adminGroup", {"adminGroup": "CONTOSO\\SSO Admins"}, id="group-with-domain"),
]

_STACK_KEY = {
    "nodes": "cluster.nodes",
    "networkName": "cluster.networkName",
    "role": "cluster.role",
    "domain": "domain.name",
    "serviceAccount": "sso.serviceAccount",
    "adminGroup": "sso.adminGroup",
}


def cluster_inputs(**changes: Any) -> dict[str, Any]:
    spec = load_spec(base_config())
    fields = ClusterInputs.cluster_fields(spec)
    inputs = {
        "domain": fields["domain"],
        "nodes": fields["nodes"],
        "role": fields["role"],
        "networkName": fields["network_name"],
        "serviceAccount": fields["service_account"],
        "adminGroup": fields["admin_group"],
    }
    return {**inputs, **changes}


def test_valid_inputs_pass() -> None:
    ClusterInputs.model_validate(cluster_inputs())


@pytest.mark.parametrize(("input_key", "stack_key", "change"), SHARED)
def test_inputs_and_stack_give_one_message(input_key: str, stack_key: str, change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as info:
        ClusterInputs.model_validate(cluster_inputs(**change))
    from_inputs = {p.key: p.message for p in problems_of(info.value)}
    assert input_key in from_inputs, from_inputs

    ((name, value),) = change.items()
    stack_changes = {_STACK_KEY[name]: value}
    from_stack = {p.key: p.message for p in problems(changed(base_config(), stack_changes))}
    assert from_stack[stack_key] == from_inputs[input_key]


def test_inputs_report_every_bad_node_at_once() -> None:
    with pytest.raises(ValidationError) as info:
        ClusterInputs.model_validate(cluster_inputs(nodes=["SSO 01"]))
    keys = {p.key for p in problems_of(info.value)}
    assert keys == {"nodes[0]", "nodes"}


# ---- one split_account ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "domain", "user"),
    [("CONTOSO\\svc", "CONTOSO", "svc"), ("svc", "", "svc"), ("\\svc", "", "svc"), ("A\\b\\c", "A", "b\\c")],
)
def test_every_account_split_agrees(account: str, domain: str, user: str) -> None:
    assert split_account(account) == (domain, user)
    assert sam_of(account) == user
    assert domain_of(account, "DEFAULT") == (domain if "\\" in account else "DEFAULT")


def test_ssoxml_refuses_what_is_not_domain_backslash_user() -> None:
    assert _split_account("CONTOSO\\svc") == ("CONTOSO", "svc")
    for bad in ("svc", "\\svc", "CONTOSO\\", "A\\b\\c"):
        with pytest.raises(SsoXmlError):
            _split_account(bad)


# ---- one temporary-folder rule ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "folder"),
    [
        ("/tmp/esso", "/tmp"),
        ("/var/tmp/esso/", "/var/tmp"),
        ("C:\\Users\\me\\AppData\\Local\\Temp\\esso", "C:\\Users\\me\\AppData\\Local\\Temp"),
        ("D:\\TEMP\\esso", "D:\\TEMP"),
        ("%TEMP%\\esso", "%TEMP%"),
        ("/tmp", "/tmp"),
    ],
)
def test_temporary_folders_by_name(path: str, folder: str) -> None:
    assert temporary_folder(path) == folder


@pytest.mark.parametrize("path", ["/srv/esso-escrow", "D:\\ESSO\\Escrow", "escrow-store", "/srv/temperature"])
def test_kept_folders_are_not_temporary(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")  # a relative folder resolves against the working directory: never a temporary one here
    assert temporary_folder(path) is None
    assert temporary_folder(path, on_this_machine=True) is None


def test_on_this_machine_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A TMPDIR the name cannot show is found only when the rule may look at this machine."""
    monkeypatch.setenv("TMPDIR", "/srv/scratch-area")
    assert temporary_folder("/srv/scratch-area/esso") is None
    assert temporary_folder("/srv/scratch-area/esso", on_this_machine=True) == "/srv/scratch-area"


def test_the_stack_refuses_a_temporary_escrow_for_winrm_only() -> None:
    found = problems(changed(base_config(), {"escrow.path": "/tmp/esso"}))
    assert [p.key for p in found] == ["escrow.path"]
    load_spec(changed(base_config(), {"escrow.path": "/tmp/esso", "target": "simulator", "simulatorState": "w.json"}))


def test_one_node_and_the_node_list_give_one_message() -> None:
    with pytest.raises(ValidationError) as info:
        TypeAdapter(NodeName).validate_python("SSO02.contoso.com")
    (alone,) = problems_of(info.value)
    (in_list,) = problems(changed(base_config(), {"cluster.nodes[1]": "SSO02.contoso.com"}))
    assert alone.message == in_list.message
