"""The per-operation facts cache (issue 15, point 2): it answers repeats and never a stale answer."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from provider import contracts
from provider.errors import EssoError
from provider.remote import cache as cache_module
from provider.remote.base import Remote, parse_result
from provider.remote.cache import FactsCache, Operation
from provider.remote.simulator import Simulator, SimulatorRemote, demo_world
from tests.engine.world import demo_stack, entsso_resource, new_engine
from tests.support.engine import learn

NODES = ["SSO01", "SSO02", "SSO03"]
FACTS = contracts.GetNodeFactsParams(service_account="CONTOSO\\svc-entsso", admin_group="CONTOSO\\SSO Administrators")


class Audit:
    """Compares every cached answer with a fresh read of the same world (a session as the host holds it)."""

    def __init__(self, state: Path) -> None:
        self.fresh = SimulatorRemote(state, reuse_sessions=True)
        self.hits = 0
        self.stale: list[str] = []
        self._lock = threading.Lock()

    def __call__(
        self, node: str, script: contracts.Script[Any, Any], params: contracts.Params, cached: contracts.Result
    ) -> None:
        answer = parse_result(node, script, self.fresh._attempt(node, script, params))
        with self._lock:
            self.hits += 1
            if answer.model_dump() != cached.model_dump():
                self.stale.append(f"{node}/{script.name}")


@pytest.fixture
def audited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Audit]:
    state = tmp_path / "world.json"
    audit = Audit(state)
    monkeypatch.setattr(Operation, "audit", audit)
    yield audit


def lifecycle(tmp_path: Path) -> None:
    """A whole life at three nodes: first up, refresh, no-change up, drift made outside, refresh, repair."""
    config = demo_stack(tmp_path, cluster={"nodes": NODES})
    sim = Simulator(config.simulator_state)
    sim.seed(demo_world(nodes=NODES))
    engine = new_engine(tmp_path)
    engine.up(learn(config))
    engine.refresh(config)
    engine.up(learn(config))
    with sim.edit() as world:
        entsso_resource(world).parameters["UseNetworkName"] = 0
        world.nodes["SSO02"].entsso_start_type = "Automatic"
    refresh = engine.refresh(config)
    assert refresh.refreshed["clustered-sso-service"]  # the drift made between operations is seen
    assert engine.up(learn(config)).names("update")


def test_a_whole_life_never_gets_a_stale_answer_from_the_cache(tmp_path: Path, audited: Audit) -> None:
    lifecycle(tmp_path)
    assert audited.hits >= 30  # the cache did answer (N=3: 36 repeats over this life)
    assert audited.stale == []


def test_the_audit_finds_a_stale_answer_when_a_change_forgets_too_little(
    tmp_path: Path, audited: Audit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planted defect: every change forgets only its own node, so cluster facts (and other nodes' facts
    after a role move) stay cached after a change; the audit of the same life must catch it."""

    def own_node_only(self: FactsCache, node: str, script: contracts.Script[Any, Any], result: Any = None) -> None:
        self.new_logon(node)

    monkeypatch.setattr(FactsCache, "changed", own_node_only)
    with contextlib.suppress(Exception):  # the stale answers may well break the run too
        lifecycle(tmp_path)
    assert audited.stale


# --------------------------------------------------------------------------------------- unit rules


class Counting(Remote):
    """A Remote that answers node facts from a counter, so every real read is visible."""

    def __init__(self) -> None:
        super().__init__(second_hop=True)
        self.invoked: list[str] = []

    def _invoke(self, node: str, script: contracts.Script[Any, Any], params: contracts.Params) -> Any:
        self.invoked.append(f"{node}/{script.name}")
        if script is contracts.GET_NODE_FACTS:
            return SimulatorFacts.of(node, len(self.invoked))
        if script is contracts.GET_CLUSTER_FACTS:
            return {"clusterName": f"CL{len(self.invoked)}", "nodes": [], "msdtc": [], "resources": [], "role": None}
        if script is contracts.MOVE_SSO_ROLE:  # the role comes from SSO02
            return {
                "changed": True,
                "before": {"ownerNode": "SSO02", "state": "Online"},
                "after": {"ownerNode": node, "state": "Online"},
            }
        if script is contracts.SET_ENTSSO_START_MODE:
            return {"changed": True, "before": None, "after": {"startType": "Manual", "state": "Stopped"}}
        return {"changed": True, "before": None, "after": {"granted": True}}

    def renew_logon(self, node: str) -> None:
        self.invoked.append(f"{node}/renew")


class SimulatorFacts:
    @staticmethod
    def of(node: str, serial: int) -> dict[str, Any]:
        return contracts.NodeFacts(
            computer_name=node,
            esso_installed=True,
            esso_version=f"10.0.{serial}",  # each real read answers differently: a cached answer shows
            entsso=contracts.EntSsoFacts(state="Running", start_type="Manual", account=None),
            ssoss_msids=[],
            nlb_installed=False,
            logon_right=contracts.LogonRightFacts(granted=True, via_gpo=False, gpo_includes_account=False),
            token_has_admin_group=True,
            secret_server_status=contracts.SecretServerStatus(flags=0, running=False, clustered=False),
        ).model_dump(by_alias=True, mode="json")


@pytest.fixture
def remote() -> Counting:
    r = Counting()
    r.cache = FactsCache()
    return r


def test_a_repeated_read_is_answered_once_and_a_copy_is_returned(remote: Counting) -> None:
    first = remote.run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    first.ssoss_msids.append("mutated by a caller")
    again = remote.run("sso01", contracts.GET_NODE_FACTS, FACTS)  # node names compare as Windows does
    assert remote.invoked == ["SSO01/Get-NodeFacts"]
    assert again.ssoss_msids == [] and again.esso_version == first.esso_version
    other = contracts.GetNodeFactsParams(service_account="CONTOSO\\other", admin_group=FACTS.admin_group)
    remote.run("SSO01", contracts.GET_NODE_FACTS, other)  # other parameters, another question
    assert len(remote.invoked) == 2


def test_a_node_local_change_forgets_that_node_and_cluster_facts_only(remote: Counting) -> None:
    for node in ("SSO01", "SSO02"):
        remote.run(node, contracts.GET_NODE_FACTS, FACTS)
    remote.run("SSO01", contracts.GET_CLUSTER_FACTS, contracts.GetClusterFactsParams(role_name="SSO"))
    remote.run(
        "SSO02", contracts.GET_CLUSTER_FACTS, contracts.GetClusterFactsParams(role_name="SSO")
    )  # cluster-wide: cached
    assert len(remote.invoked) == 3
    remote.run("SSO01", contracts.SET_ENTSSO_START_MODE, contracts.StartModeParams(start_mode="Manual"))
    remote.invoked.clear()
    for node in ("SSO01", "SSO02"):
        remote.run(node, contracts.GET_NODE_FACTS, FACTS)
    remote.run("SSO02", contracts.GET_CLUSTER_FACTS, contracts.GetClusterFactsParams(role_name="SSO"))
    assert remote.invoked == ["SSO01/Get-NodeFacts", "SSO02/Get-ClusterFacts"]
    # a grant (local security policy) cannot touch the cluster: only SSO02's own facts are read again
    remote.run("SSO02", contracts.GRANT_SERVICE_LOGON_RIGHT, contracts.AccountParams(account="CONTOSO\\svc-entsso"))
    remote.invoked.clear()
    for node in ("SSO01", "SSO02"):
        remote.run(node, contracts.GET_NODE_FACTS, FACTS)
    remote.run("SSO01", contracts.GET_CLUSTER_FACTS, contracts.GetClusterFactsParams(role_name="SSO"))
    assert remote.invoked == ["SSO02/Get-NodeFacts"]


def test_any_other_change_and_a_new_logon_forget(remote: Counting) -> None:
    remote.run("SSO02", contracts.GET_NODE_FACTS, FACTS)
    remote.run(
        "SSO01", contracts.MOVE_SSO_ROLE, contracts.MoveRoleParams(role_name="SSO", node="SSO01")
    )  # a cluster change
    remote.run("SSO02", contracts.GET_NODE_FACTS, FACTS)
    remote.renew_logon("SSO02")
    remote.run("SSO02", contracts.GET_NODE_FACTS, FACTS)
    assert remote.invoked.count("SSO02/Get-NodeFacts") == 3


def test_a_role_move_forgets_the_owners_before_and_after_and_no_other_node(remote: Counting) -> None:
    for node in ("SSO01", "SSO02", "SSO03"):
        remote.run(node, contracts.GET_NODE_FACTS, FACTS)
    database = contracts.SsoDatabaseParams(server="SQL01", database="SSODB")
    remote.cache.put("SSO01", contracts.GET_SSO_DATABASE_FACTS, database, contracts.SsoDatabaseFacts(exists=False), 0)  # type: ignore[union-attr]
    remote.run("SSO01", contracts.MOVE_SSO_ROLE, contracts.MoveRoleParams(role_name="SSO", node="SSO01"))  # from SSO02
    remote.invoked.clear()
    for node in ("SSO01", "SSO02", "SSO03"):
        remote.run(node, contracts.GET_NODE_FACTS, FACTS)
    remote.run("SSO03", contracts.GET_SSO_DATABASE_FACTS, database)  # no second hop: the database is as it was
    assert remote.invoked == ["SSO01/Get-NodeFacts", "SSO02/Get-NodeFacts"]


def test_a_failed_change_forgets_too(remote: Counting, monkeypatch: pytest.MonkeyPatch) -> None:
    remote.run("SSO01", contracts.GET_NODE_FACTS, FACTS)

    def broken(node: str, script: contracts.Script[Any, Any], params: contracts.Params) -> Any:
        raise EssoError("ESSO-041", "injected", node=node, step=script.name)

    monkeypatch.setattr(remote, "_invoke", broken)
    with pytest.raises(EssoError):
        remote.run("SSO01", contracts.SET_ENTSSO_START_MODE, contracts.StartModeParams(start_mode="Manual"))
    monkeypatch.undo()
    remote.invoked.clear()
    remote.run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert remote.invoked == ["SSO01/Get-NodeFacts"]


def test_a_read_that_raced_a_change_is_not_kept(remote: Counting) -> None:
    cache = remote.cache
    assert cache is not None
    epoch = cache.epoch("SSO01", contracts.GET_NODE_FACTS)
    answer = contracts.NodeFacts.model_validate(SimulatorFacts.of("SSO01", 1))
    cache.changed("SSO01", contracts.SET_ENTSSO_START_MODE)  # the change lands while the read is on the wire
    cache.put("SSO01", contracts.GET_NODE_FACTS, FACTS, answer, epoch)
    assert cache.get("SSO01", contracts.GET_NODE_FACTS, FACTS) is None


def test_reads_with_a_secret_parameter_and_file_chunks_are_never_cached() -> None:
    assert not cache_module.cacheable(
        contracts.READ_FILE_CHUNK, contracts.ReadFileChunkParams(path="C:\\x", offset=0, length=1)
    )
    assert cache_module.cacheable(contracts.GET_NODE_FACTS, FACTS)
    hypothetical = contracts.Script("Get-Hypothetical", contracts.RestoreParams, contracts.NodeFacts, changes=False)
    secret = contracts.RestoreParams(
        backup_file="C:\\b.bak", backup_password=SecretStr("Bak-Sentinel-93fa#"), expected_msid="x"
    )
    assert not cache_module.cacheable(hypothetical, secret)  # a secret is never part of a cache key


def test_an_operation_is_one_configure_payload() -> None:
    payload: dict[str, Any] = {}
    first = Operation.for_host(payload)
    assert Operation.for_host(payload) is first  # another provider configured by the same host
    assert Operation.for_host({}) is not first  # a new Configure: a new, empty cache


def built_world(tmp_path: Path) -> Path:
    """The world after a first up at three nodes: the role and its ENTSSO resource Online on SSO01."""
    config = demo_stack(tmp_path, cluster={"nodes": NODES})
    Simulator(config.simulator_state).seed(demo_world(nodes=NODES))
    new_engine(tmp_path).up(learn(config))
    return config.simulator_state


def moves_and_reads(state: Path, audit: Audit) -> None:
    """Read every node, move the role from SSO01 to SSO02, read every node again (audited)."""
    remote = SimulatorRemote(state, reuse_sessions=True)
    remote.cache = FactsCache(audit=audit)
    for _ in range(2):
        for node in NODES:
            remote.run(node, contracts.GET_NODE_FACTS, FACTS)
        remote.run("SSO02", contracts.MOVE_SSO_ROLE, contracts.MoveRoleParams(role_name="SSO", node="SSO02"))


def test_a_role_move_leaves_no_stale_facts_on_the_node_it_left(tmp_path: Path) -> None:
    state = built_world(tmp_path)
    audit = Audit(state)
    moves_and_reads(state, audit)
    assert audit.hits >= 1 and audit.stale == []  # SSO03 answered from the cache, SSO01 and SSO02 read again


def test_the_audit_finds_a_stale_answer_when_a_move_forgets_the_node_the_role_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planted defect: a role move forgets only where the role went, not the node it left (whose ENTSSO
    stopped and is no longer the clustered secret server)."""

    def after_only(result: Any) -> set[str] | None:
        owner = getattr(getattr(result, "after", None), "owner_node", None)
        return {owner.upper()} if isinstance(owner, str) else None

    state = built_world(tmp_path)
    audit = Audit(state)
    monkeypatch.setattr(cache_module, "_owners", after_only)
    moves_and_reads(state, audit)
    assert "SSO01/Get-NodeFacts" in audit.stale


def test_concurrent_asks_for_the_same_facts_send_one_read() -> None:
    """The engine runs a refresh's Reads in parallel: two resources asking one node at once wait for one read."""
    cache = FactsCache()
    release = threading.Event()
    calls: list[str] = []
    answer = contracts.NodeFacts.model_validate(SimulatorFacts.of("SSO01", 1))

    def read() -> contracts.NodeFacts:
        calls.append("read")
        release.wait(5)
        return answer

    results: list[contracts.NodeFacts] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(cache.read_through("SSO01", contracts.GET_NODE_FACTS, FACTS, read))
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    threading.Event().wait(0.2)  # the other two are asking while the first read is in flight
    release.set()
    for thread in threads:
        thread.join(5)
    assert calls == ["read"] and len(results) == 3
    assert all(r.esso_version == answer.esso_version for r in results)
