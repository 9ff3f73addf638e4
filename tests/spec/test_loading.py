"""Valid configurations load: the shipped stack files, prefixed or plain keys, JSON text, secrets supplied."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from provider.errors import EssoError
from provider.spec import (
    CONFIG_KEYS,
    SECRET_KEYS,
    SECTION_KEYS,
    ClusterSpec,
    Problem,
    SpecError,
    TransportSection,
    check_stack_file,
    load_spec,
    load_stack_file,
    problems_of,
    split_account,
    sql_server_parts,
)
from tests.spec.common import DELETE, STACKS, base_config, changed, problems

STACK_SECRETS: dict[str, dict[str, str]] = {
    "demo": {"serviceAccountPassword": "demo-svc-pw", "backupPassword": "demo-backup-pw"},
    "dev": {"serviceAccountPassword": "dev-svc-pw", "backupPassword": "dev-backup-pw", "winrmPassword": "dev-winrm"},
    "prod": {"serviceAccountPassword": "prod-svc-pw", "winrmPassword": "prod-winrm"},
}


def stack(name: str) -> Path:
    return STACKS / f"Pulumi.{name}.yaml"


def as_strings(spec: ClusterSpec) -> dict[str, str]:
    """What the engine hands a dynamic provider: un-prefixed keys, sections as JSON text, scalars as text."""
    dumped = spec.model_dump(by_alias=True, mode="json", exclude_none=True)
    out: dict[str, str] = {}
    for key, value in dumped.items():
        if key in SECRET_KEYS:
            out[key] = getattr(spec, _field(key)).get_secret_value()
        elif isinstance(value, dict):
            out[key] = json.dumps(value)
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


def _field(alias: str) -> str:
    return next(name for name, f in ClusterSpec.model_fields.items() if f.alias == alias)


# ---- the shipped stack files ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["demo", "dev", "prod"])
def test_shipped_stack_files_load_with_their_secrets(name: str) -> None:
    spec = load_stack_file(stack(name), secrets=STACK_SECRETS[name])
    assert len(spec.cluster.nodes) == 2
    assert spec.service_account_password.get_secret_value() == STACK_SECRETS[name]["serviceAccountPassword"]


def test_demo_stack_is_the_simulator_world() -> None:
    spec = load_stack_file(stack("demo"), secrets=STACK_SECRETS["demo"])
    assert spec.target == "simulator"
    assert spec.simulator_state == ".state/demo-world.json"
    assert spec.cluster.nodes == ["SSO01", "SSO02"]
    assert (spec.domain.name, spec.cluster.network_name, spec.cluster.role) == ("CONTOSO", "BIZTALKSSO", "SSO")
    assert (spec.sso.service_account, spec.sso.configuring_account) == ("CONTOSO\\svc-entsso", "CONTOSO\\esso-config")
    assert (spec.database.server, spec.database.name) == ("SQL01", "SSODB")
    assert (spec.escrow.kind, spec.escrow.path) == ("local", ".state/escrow")
    assert spec.allow_disruption is True
    assert (spec.transport.auth, spec.transport.second_hop) == ("credssp", "credssp")
    assert spec.winrm_password is None


def test_prod_stack_is_protected_and_not_disruptive() -> None:
    spec = load_stack_file(stack("prod"), secrets=STACK_SECRETS["prod"])
    assert spec.policy.protect_sso_system is True
    assert spec.policy.on_destroy == "retain"
    assert spec.allow_disruption is False
    assert (spec.transport.auth, spec.transport.second_hop, spec.transport.port) == (
        "negotiate",
        "kerberos-delegation",
        5986,
    )
    assert spec.escrow.kind == "s3" and spec.escrow.password_secret_id and spec.backup_password is None


def test_dev_stack_uses_credssp_over_https() -> None:
    spec = load_stack_file(stack("dev"), secrets=STACK_SECRETS["dev"])
    assert (spec.transport.auth, spec.transport.second_hop, spec.transport.ssl) == ("credssp", "credssp", True)
    assert spec.transport.ca_bundle and spec.escrow.kind == "s3" and spec.escrow.kms_key_id


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_encrypted_values_need_their_secrets(name: str) -> None:
    with pytest.raises(SpecError) as info:
        load_stack_file(stack(name))
    expected = {k for k in SECRET_KEYS if k in STACK_SECRETS[name]}
    assert {p.key for p in info.value.problems} == expected
    assert all("is encrypted in the stack file" in p.message for p in info.value.problems)


def test_demo_without_passwords_names_the_command_that_sets_them() -> None:
    with pytest.raises(SpecError) as info:
        load_stack_file(stack("demo"))
    assert {p.key: "pulumi config set --secret" in p.message for p in info.value.problems} == {
        "serviceAccountPassword": True,
        "backupPassword": True,
    }


@pytest.mark.parametrize(
    ("name", "allow", "keys"),
    [
        ("demo", False, {"serviceAccountPassword", "backupPassword"}),
        ("demo", True, set()),
        ("dev", False, set()),
        ("prod", False, set()),
    ],
)
def test_offline_check_counts_secure_values_as_present(name: str, allow: bool, keys: set[str]) -> None:
    assert {p.key for p in check_stack_file(stack(name), allow_missing_secrets=allow)} == keys


def test_stack_file_secure_strings_look_like_pulumi_ciphertext() -> None:
    for name in ("dev", "prod"):
        document = yaml.safe_load(stack(name).read_text("utf-8"))
        assert document["encryptionsalt"].startswith("v1:")
        secure = [v["secure"] for v in document["config"].values() if isinstance(v, dict) and "secure" in v]
        assert secure and all(s.startswith("v1:") and s.count(":") == 2 for s in secure)


@pytest.mark.parametrize("name", ["demo", "dev", "prod"])
def test_sections_round_trip_through_their_dumps(name: str) -> None:
    """Providers keep sections as dumps and validate them again (e.g. EscrowSection in SsoSystem)."""
    spec = load_stack_file(stack(name), secrets=STACK_SECRETS[name])
    for key in SECTION_KEYS:
        section = getattr(spec, _field(key))
        assert isinstance(section, BaseModel)
        assert type(section).model_validate(section.model_dump(by_alias=True, mode="json")) == section
        assert type(section).model_validate(section.model_dump()) == section


# ---- shapes of input -------------------------------------------------------------------------------


def test_prefixed_and_plain_keys_are_the_same() -> None:
    plain = base_config()
    prefixed = {f"esso-cluster:{k}": v for k, v in plain.items()}
    prefixed["aws:region"] = "eu-west-1"  # another package's key is ignored
    prefixed["pulumi:disable-default-providers"] = ["*"]
    assert load_spec(prefixed) == load_spec(plain)


@pytest.mark.parametrize("name", ["demo", "dev", "prod"])
def test_json_text_values_as_the_engine_sends_them(name: str) -> None:
    spec = load_stack_file(stack(name), secrets=STACK_SECRETS[name])
    strings = as_strings(spec)
    assert all(isinstance(v, str) for v in strings.values())
    assert json.loads(strings["cluster"])["nodes"] == spec.cluster.nodes
    assert load_spec(strings) == spec


def test_json_text_and_mappings_mix() -> None:
    config: dict[str, Any] = base_config()
    config["cluster"] = json.dumps(config["cluster"])
    config["transport"] = json.dumps({"auth": "kerberos", "secondHop": "kerberos-delegation", "readTimeout": 120})
    config["allowDisruption"] = "true"
    spec = load_spec(config)
    assert spec.cluster.nodes == ["SSO01", "SSO02"]
    assert spec.transport.read_timeout == 120.0 and spec.allow_disruption is True


@pytest.mark.parametrize("key", ["simulatorState", "backup", "escrow", "transport", "failover", "policy", "target"])
def test_an_empty_value_means_unset(key: str) -> None:
    """Pulumi.yaml gives optional keys empty defaults; they must read as 'not set'."""
    config = changed(base_config(), {key: ""})
    if key == "escrow":
        with pytest.raises(SpecError) as info:  # the default escrow is local and needs a path
            load_spec(config)
        assert [p.key for p in info.value.problems] == ["escrow.path"]
        return
    spec = load_spec(config)
    field = _field(key)
    assert getattr(spec, field) == ClusterSpec.model_fields[field].get_default(call_default_factory=True)


def test_empty_optional_passwords_mean_unset() -> None:
    config = changed(
        base_config(),
        {"backupPassword": "", "escrow": {"kind": "s3", "bucket": "esso", "passwordSecretId": "esso/pw"}},
    )
    assert load_spec(config).backup_password is None


def test_secrets_supply_and_override_values() -> None:
    config = changed(base_config(), {"serviceAccountPassword": {"secure": "v1:AAAA:BBBB"}, "winrmPassword": DELETE})
    spec = load_spec(config, secrets={"serviceAccountPassword": "from-secrets", "esso-cluster:winrmPassword": "w"})
    assert spec.service_account_password.get_secret_value() == "from-secrets"
    assert spec.winrm_password is not None and spec.winrm_password.get_secret_value() == "w"


def test_nested_encrypted_values_by_dotted_key(tmp_path: Path) -> None:
    config = changed(
        base_config(),
        {
            "transport": {
                "auth": "certificate",
                "certificatePem": "certs/c.pem",
                "certificateKeyPem": {"secure": "v1:AAAA:BBBB"},
            }
        },
    )
    found = problems(config)
    assert [p.key for p in found] == ["transport.certificateKeyPem"]
    assert "is encrypted" in found[0].message
    spec = load_spec(config, secrets={"transport.certificateKeyPem": "certs/c.key"})
    assert spec.transport.certificate_key_pem == "certs/c.key"

    path = tmp_path / "Pulumi.cert.yaml"
    file_config = {f"esso-cluster:{k}": v for k, v in config.items() if k not in SECRET_KEYS}
    path.write_text(yaml.safe_dump({"config": file_config}), "utf-8")
    assert check_stack_file(path, allow_missing_secrets=True) == []


def test_unknown_secret_key_is_named() -> None:
    found = problems(base_config(), secrets={"serviceAcountPassword": "x"})
    assert [(p.key, "did you mean serviceAccountPassword" in p.message) for p in found] == [
        ("serviceAcountPassword", True)
    ]


def test_same_key_with_and_without_prefix() -> None:
    config = base_config()
    config["esso-cluster:target"] = "winrm"
    assert [p.key for p in problems(config)] == ["target"]


def test_another_projects_namespace_for_our_key() -> None:
    config = base_config()
    config["esso:allowDisruption"] = True
    found = problems(config)
    assert [p.key for p in found] == ["esso:allowDisruption"]
    assert "esso-cluster:allowDisruption" in found[0].message


def test_stack_file_keys_must_be_namespaced(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.plain.yaml"
    config = {k: v for k, v in base_config().items() if k not in SECRET_KEYS}
    path.write_text(yaml.safe_dump({"config": config}), "utf-8")
    found = check_stack_file(path, allow_missing_secrets=True)
    assert {p.key for p in found} == set(config)
    assert all("esso-cluster:" in p.message for p in found)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("config: [1, 2]", "must be a mapping"), ("- a\n- b", "not a stack file"), ("config: {a: [", "not valid YAML")],
)
def test_malformed_stack_files(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(text, "utf-8")
    found = check_stack_file(path)
    assert len(found) == 1 and fragment in found[0].message
    with pytest.raises(SpecError):
        load_stack_file(path)


def test_missing_stack_file(tmp_path: Path) -> None:
    found = check_stack_file(tmp_path / "Pulumi.none.yaml")
    assert found[0].key.endswith("Pulumi.none.yaml") and "cannot be read" in found[0].message


def test_empty_stack_file_names_every_required_key(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.empty.yaml"
    path.write_text("", "utf-8")
    keys = {p.key for p in check_stack_file(path)}
    required = {"cluster", "domain", "sso", "database", "escrow.path"}
    assert keys == required | {"serviceAccountPassword", "backupPassword", "winrmPassword"}


# ---- the error and the helpers ------------------------------------------------------------------------


def test_spec_error_is_esso_040_with_every_problem() -> None:
    with pytest.raises(SpecError) as info:
        load_spec(changed(base_config(), {"cluster.nodes[1]": "SSO 02", "transport.retries": 99}))
    exc = info.value
    assert isinstance(exc, EssoError) and exc.code == "ESSO-040"
    assert all(isinstance(p, Problem) for p in exc.problems)
    text = str(exc)
    assert text.startswith("ESSO-040 ") and "python -m provider.spec check" in text
    for p in exc.problems:
        assert f"{p.key}: {p.message}" in text
    again = pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own object
    assert isinstance(again, SpecError) and again.problems == exc.problems


def test_problems_of_roots_a_section_error() -> None:
    with pytest.raises(ValidationError) as info:
        TransportSection.model_validate(
            {"readTimeout": 10, "auth": "basic", "ssl": False, "acceptWeakerTransport": ["http"]}
        )
    keys = {p.key for p in problems_of(info.value, prefix="transport")}
    assert keys == {"transport.readTimeout", "transport.auth"}


def test_helpers() -> None:
    assert split_account("CONTOSO\\esso-config") == ("CONTOSO", "esso-config")
    assert split_account("esso-config") == ("", "esso-config")
    assert sql_server_parts("SQL01\\BTS,1433") == ("SQL01", "BTS", 1433)
    assert sql_server_parts("sql.contoso.com") == ("sql.contoso.com", None, None)


def test_spec_is_frozen_and_keys_are_the_contract() -> None:
    spec = load_spec(base_config())
    with pytest.raises(ValidationError):
        spec.target = "simulator"  # type: ignore[misc]
    assert CONFIG_KEYS == (
        "target",
        "simulatorState",
        "cluster",
        "domain",
        "sso",
        "database",
        "backup",
        "escrow",
        "transport",
        "allowDisruption",
        "failover",
        "policy",
        "existingSystem",
        "serviceAccountPassword",
        "backupPassword",
        "winrmPassword",
    )
    assert SECTION_KEYS == (
        "cluster",
        "domain",
        "sso",
        "database",
        "backup",
        "escrow",
        "transport",
        "failover",
        "policy",
        "existingSystem",
    )


def test_problems_of_a_section_use_the_section_keys() -> None:
    with pytest.raises(ValidationError) as info:
        TransportSection.model_validate({"readtimeout": 10})
    (problem,) = problems_of(info.value, prefix="transport")
    assert problem.key == "transport.readtimeout"
    assert "did you mean readTimeout" in problem.message and "esso-cluster:transport" in problem.message
