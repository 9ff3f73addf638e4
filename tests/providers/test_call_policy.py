"""The stack's call policy, enforced in Remote.run: disruptive scripts need allowDisruption, and a host that
is not a configured node never receives a script or the credentials (issue 13, H1), whoever named it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from provider import contracts
from provider.errors import EssoError
from provider.remote.base import CallPolicy, Remote
from provider.remote.simulator import Simulator, SimulatorRemote
from provider.resources.base import Steps
from provider.resources.cluster_ops import any_up, move_role
from provider.resources.clustered_service import ClusteredSsoServiceProvider
from provider.resources.master_secret_restore import MasterSecretRestoreProvider
from provider.resources.secret_server_name import SecretServerNameProvider
from provider.spec import ClusterSpec
from tests.support.procedure import Stack, demo_spec
from tests.support.replacement import add_node

NODES = ("SSO01", "SSO02")
HOSTILE = [
    "SSO03",
    "rogue.attacker.example",
    "evil.example:8443/x#",
    "a@evil",
    "10.6.6.6",
    "SSO01\nSSO02",
    "SSO0\u0031\u200b",  # a zero-width space after a configured name
    "\u0421SO01",  # a Cyrillic ES where the Latin C should be
    "\u017fSO01",  # a long s, which upper-cases to a Latin S: SSO01
    "",
]


class SentError(Exception):
    """Raised by the recording Remote when a script would have gone on the wire."""


class RecordingRemote(Remote):
    """A Remote whose transport records where a script or a logon would have gone, and sends nothing."""

    def __init__(self, policy: CallPolicy) -> None:
        super().__init__(second_hop=True, retries=0, backoff=0.0)
        self.policy = policy
        self.sent: list[str] = []

    def _invoke(self, node: str, script: contracts.Script[Any, Any], params: contracts.Params) -> Any:
        self.sent.append(node)
        raise SentError(node)

    def renew_logon(self, node: str) -> None:
        self.sent.append(node)


def _stack_policy(allow_disruption: bool = True) -> CallPolicy:
    return CallPolicy.for_stack(nodes=NODES, allow_disruption=allow_disruption)


# ------------------------------------------------------------------------------------------ Remote.run


@pytest.mark.parametrize("host", HOSTILE)
def test_a_host_that_is_not_configured_receives_nothing(host: str) -> None:
    remote = RecordingRemote(_stack_policy())
    with pytest.raises(EssoError) as err:
        remote.run(host, contracts.GET_CLUSTER_FACTS, contracts.GetClusterFactsParams(role_name="SSO"))
    assert err.value.code == "ESSO-070"
    assert "cluster.nodes (SSO01, SSO02)" in str(err.value)
    assert "\n" not in err.value.detail  # the host is shown escaped
    with pytest.raises(EssoError) as again:
        remote.renew_logon(host)
    assert again.value.code == "ESSO-070"
    assert remote.sent == []


def test_a_configured_node_is_reached_in_its_configured_spelling() -> None:
    remote = RecordingRemote(_stack_policy())
    with pytest.raises(SentError):
        remote.run("sso02", contracts.GET_CLUSTER_FACTS, contracts.GetClusterFactsParams(role_name="SSO"))
    remote.renew_logon("Sso01")
    assert remote.sent == ["SSO02", "SSO01"]


def test_files_move_only_to_configured_nodes() -> None:
    remote = RecordingRemote(_stack_policy())
    for move in (lambda: remote.send_file("SSO03", "C:\\x", b"data"), lambda: remote.fetch_file("SSO03", "C:\\x")):
        with pytest.raises(EssoError) as err:
            move()
        assert err.value.code == "ESSO-070"
    assert remote.sent == []


@pytest.mark.parametrize("script", [s for s in contracts.SCRIPTS.values() if s.disruptive], ids=lambda s: s.name)
def test_a_disruptive_script_needs_allow_disruption(script: contracts.Script[Any, Any]) -> None:
    samples: dict[type[contracts.Params], contracts.Params] = {
        contracts.NoParams: contracts.NoParams(),
        contracts.ResourceParams: contracts.ResourceParams(resource_name="ENTSSO"),
        contracts.MoveRoleParams: contracts.MoveRoleParams(role_name="SSO", node="SSO02"),
    }
    params = samples[script.params]
    refused = RecordingRemote(_stack_policy(allow_disruption=False))
    with pytest.raises(EssoError) as err:
        refused.run("SSO02", script, params)
    assert (err.value.code, err.value.node, err.value.step) == ("ESSO-019", "SSO02", script.name)
    assert refused.sent == []
    allowed = RecordingRemote(_stack_policy(allow_disruption=True))
    with pytest.raises(SentError):
        allowed.run("SSO02", script, params)


def test_a_script_that_is_not_disruptive_runs_without_allow_disruption() -> None:
    remote = RecordingRemote(_stack_policy(allow_disruption=False))
    with pytest.raises(SentError):
        remote.run("SSO01", contracts.SET_ENTSSO_START_MODE, contracts.StartModeParams(start_mode="Manual"))


def test_a_remote_built_by_hand_restricts_nothing_but_the_shape_of_a_host() -> None:
    remote = RecordingRemote(CallPolicy())
    with pytest.raises(SentError):
        remote.run("ANYHOST", contracts.MOVE_SSO_ROLE, contracts.MoveRoleParams(role_name="SSO", node="ANYHOST"))
    for host in ("evil.example:8443/x#", "a@evil", "SSO01\nSSO02", "SSO 01", "x?y", "x\\y", ""):
        with pytest.raises(EssoError) as err:
            remote.run(host, contracts.GET_CLUSTER_FACTS, contracts.GetClusterFactsParams(role_name="SSO"))
        assert err.value.code == "ESSO-070", host
    assert remote.sent == ["ANYHOST"]


def test_any_up_chooses_only_configured_nodes() -> None:
    cluster = contracts.ClusterFacts(
        cluster_name="CL",
        nodes=[
            contracts.ClusterNodeFacts(name="ROGUE", state="Up"),
            contracts.ClusterNodeFacts(name="sso01", state="Down"),
            contracts.ClusterNodeFacts(name="sso02", state="Up"),
        ],
        resources=[],
        msdtc=[],
    )
    assert any_up(cluster, NODES) == "SSO02"
    with pytest.raises(EssoError) as err:
        any_up(cluster, NODES, exclude=("SSO02",))
    assert err.value.code == "ESSO-017"


# ------------------------------------------------------------------------------------------- providers


def _rogue_member_first(sim: Simulator) -> None:
    """SSO03 joins the cluster (Up, not configured) and is listed first in Get-ClusterFacts."""
    add_node(sim, "SSO03")
    with sim.edit() as world:
        world.cluster.nodes = {"SSO03": "Up", **{n: s for n, s in world.cluster.nodes.items() if n != "SSO03"}}


def _built(tmp_path: Path) -> tuple[Stack, ClusterSpec, Simulator]:
    """The stack, up on NODES."""
    spec = demo_spec(tmp_path, NODES)
    stack = Stack()
    stack.up(spec)
    return stack, spec, Simulator(tmp_path / "world.json")


def _refreshed_update(stack: Stack, spec: ClusterSpec, name: str) -> dict[str, Any]:
    """``pulumi refresh --target name`` then ``pulumi up --target name``: the drift the test made is read, and
    the update repairs it; returns the outputs the update gave."""
    stack.refresh(spec, targets={name})
    (event,) = stack.up(spec, targets={name})
    assert event.op == "update", event
    return stack.outputs(name)


def test_a_cluster_member_that_is_not_configured_gets_no_script(tmp_path: Path) -> None:
    stack, spec, sim = _built(tmp_path)
    _rogue_member_first(sim)
    with sim.edit() as world:
        next(r for r in world.cluster.resources.values() if r.type == "Generic Service").possible_owners = ["SSO01"]
    assert stack.state["clustered-sso-service"].cls is ClusteredSsoServiceProvider
    updated = _refreshed_update(stack, spec, "clustered-sso-service")
    assert sorted(updated["possibleOwners"]) == ["SSO01", "SSO02"]
    assert sim.load().calls_for(node="SSO03") == 0


def test_a_role_owner_that_is_not_configured_is_refused_by_name(tmp_path: Path) -> None:
    stack, spec, sim = _built(tmp_path)
    _rogue_member_first(sim)
    with sim.edit() as world:
        world.cluster.groups["SSO"].owner_node = "SSO03"
        (database,) = world.databases.values()
        database.secret_server = "SSO02"
    assert stack.state["secret-server-name"].cls is SecretServerNameProvider
    with pytest.raises(EssoError) as err:
        _refreshed_update(stack, spec, "secret-server-name")
    assert err.value.code == "ESSO-070"
    assert "'SSO03'" in err.value.detail
    assert sim.load().calls_for(node="SSO03") == 0


def test_updating_an_adopted_restore_does_not_move_the_role_without_allow_disruption(tmp_path: Path) -> None:
    """The adopt path (any update of a restore) sent the role home with no allowDisruption check."""
    stack, built, sim = _built(tmp_path)
    calm = demo_spec(tmp_path, NODES, allowDisruption=False)
    move_role(SimulatorRemote(tmp_path / "world.json"), role="SSO", node="SSO02", steps=Steps("test"))
    moves = sim.load().calls_for(script="Move-SsoRole")
    assert stack.state["master-secret-restore-sso02"].cls is MasterSecretRestoreProvider
    stack.update(calm, "master-secret-restore-sso02")
    updated = stack.outputs("master-secret-restore-sso02")
    assert sim.load().calls_for(script="Move-SsoRole") == moves
    assert sim.load().cluster.groups["SSO"].owner_node == "SSO02"
    assert updated["ownerNode"] == "SSO02"
    assert ("Move-SsoRole", False) in [(s["step"], s["changed"]) for s in updated["steps"]]
    # with allowDisruption the same update sends the role home
    stack.update(built, "master-secret-restore-sso02")
    again = stack.outputs("master-secret-restore-sso02")
    assert again["ownerNode"] == "SSO01"
    assert sim.load().cluster.groups["SSO"].owner_node == "SSO01"


def test_a_repair_that_needs_a_cycle_is_refused_before_it_is_applied(tmp_path: Path) -> None:
    """Applied without its cycle, the repair would read back correct and clients keep failing (rule 8)."""
    stack, _, sim = _built(tmp_path)
    with sim.edit() as world:
        service = next(r for r in world.cluster.resources.values() if r.type == "Generic Service")
        assert service.state == "Online"
        service.parameters["UseNetworkName"] = 0
    calm = demo_spec(tmp_path, NODES, allowDisruption=False)
    before = sim.load().calls_for(script="Set-ClusteredSsoService")
    with pytest.raises(EssoError) as err:
        _refreshed_update(stack, calm, "clustered-sso-service")
    assert (err.value.code, err.value.step) == ("ESSO-019", "Set-ClusteredSsoService")
    assert sim.load().calls_for(script="Set-ClusteredSsoService") == before
    service = next(r for r in sim.load().cluster.resources.values() if r.type == "Generic Service")
    assert int(service.parameters["UseNetworkName"]) == 0
