"""Typed observations: each provider's outputs, placeholders and Resource annotations derive from one model."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from provider.operate.progress import QUIET_KEY
from provider.resources.base import EssoProvider, Observed, fingerprint_key, registration
from provider.resources.clustered_service import ClusteredSsoService, ClusteredSsoServiceProvider
from provider.resources.domain_groups import SsoDomainGroups, SsoDomainGroupsProvider
from provider.resources.master_secret_restore import MasterSecretRestore, MasterSecretRestoreProvider
from provider.resources.node_join import SsoNodeJoin, SsoNodeJoinProvider
from provider.resources.secret_server_name import SecretServerName, SecretServerNameProvider
from provider.resources.sso_system import SsoSystem, SsoSystemProvider
from tests.support.procedure import Procedure, Stack, demo_spec

PAIRS: list[tuple[type[pulumi.dynamic.Resource], type[EssoProvider]]] = [
    (SsoDomainGroups, SsoDomainGroupsProvider),
    (SsoSystem, SsoSystemProvider),
    (SsoNodeJoin, SsoNodeJoinProvider),
    (SecretServerName, SecretServerNameProvider),
    (ClusteredSsoService, ClusteredSsoServiceProvider),
    (MasterSecretRestore, MasterSecretRestoreProvider),
]


def _input_keys(provider: type[EssoProvider]) -> set[str]:
    return {f.alias or n for n, f in provider.inputs_model.model_fields.items()}


def _declared(provider: type[EssoProvider]) -> set[str]:
    """Every key a provider may put in its outputs: inputs (secrets as fingerprints), observations, steps."""
    secrets = set(provider.secret_keys)
    return (
        (_input_keys(provider) - secrets)
        | {fingerprint_key(k) for k in secrets}
        | set(provider.observed_keys())
        | {"steps", QUIET_KEY}  # the quiet run context (provider/operate/progress.py), kept for refresh/destroy
    )


@pytest.mark.parametrize(("resource", "provider"), PAIRS, ids=lambda p: p.__name__)
def test_the_resource_annotates_only_declared_outputs(
    resource: type[pulumi.dynamic.Resource], provider: type[EssoProvider]
) -> None:
    annotated = {k for k, v in resource.__annotations__.items() if "Output" in str(v)}
    assert annotated, resource.__name__
    assert annotated <= _declared(provider), annotated - _declared(provider)


@pytest.mark.parametrize(("resource", "provider"), PAIRS, ids=lambda p: p.__name__)
def test_observations_are_a_model_and_registration_declares_each(
    tmp_path: Path, resource: type[pulumi.dynamic.Resource], provider: type[EssoProvider]
) -> None:
    assert issubclass(provider.observed_model, Observed)
    assert provider.observed_keys() and all(k[0].islower() and "_" not in k for k in provider.observed_keys())
    assert not set(provider.observed_keys()) & _input_keys(provider)
    procedure = Procedure(demo_spec(tmp_path))
    inputs = next(i for _, cls, i in procedure.resources() if cls is provider)
    model = provider.inputs_model.model_validate(
        {k: v for k, v in inputs.items() if k not in (*provider.secret_keys, QUIET_KEY)}
    )
    props, _ = registration(provider, model, None)
    assert set(provider.observed_keys()) <= set(props)


def test_every_output_of_a_build_is_declared(tmp_path: Path) -> None:
    procedure = Procedure(demo_spec(tmp_path))
    outputs = procedure.up()
    for name, cls, _ in procedure.resources():
        assert set(outputs[name]) <= _declared(cls), (name, set(outputs[name]) - _declared(cls))
        assert set(cls.observed_keys()) <= set(outputs[name]), name
        recorded = cls.observed_model.from_state(outputs[name]).outputs()
        assert {k: outputs[name][k] for k in recorded} == recorded, name  # state round-trips through the model


def test_diff_names_the_outputs_an_update_never_changes(tmp_path: Path) -> None:
    spec = demo_spec(tmp_path, policy={"protectSsoSystem": False})  # a protected system refuses the replace
    stack = Stack()
    stack.up(spec)
    same = next(e for e in stack.preview(spec) if e.name == "sso-system")
    assert same.changes is False
    assert {"createdBy", "node", "server", "database"} <= set(same.stables)
    renamed = demo_spec(tmp_path, database={"name": "SSODB2"}, policy={"protectSsoSystem": False})
    replaced = next(e for e in stack.preview(renamed) if e.name == "sso-system")
    assert replaced.replaces == ["database"] and not replaced.stables


@pytest.mark.parametrize("provider", [p for _, p in PAIRS], ids=lambda p: p.__name__)
def test_every_policy_key_names_a_field(provider: type[EssoProvider]) -> None:
    """A renamed input or observation cannot leave a stale key in replace/quiet/undiffed/secret/stable lists."""
    inputs, observed = _input_keys(provider), set(provider.observed_keys())
    for key in (
        *provider.replace_keys,
        *provider.record_only_keys,
        *provider.recorded_once_keys,
        *provider.secret_keys,
    ):
        assert key in inputs, (provider.__name__, key)
    for key in (*provider.stable_outputs, *provider.extra_secret_outputs):
        assert key in observed, (provider.__name__, key)
    assert not set(provider.replace_keys) & set(provider.record_only_keys)
