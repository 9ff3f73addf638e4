"""The simulator: an in-process Windows world (domain, nodes, failover cluster, SSO databases) behind ``Remote``.

Why: providers, the demo stack and most tests run the real procedure against it, so it must refuse
what Windows and Enterprise SSO refuse. It is persisted to a JSON file (locked, replaced atomically)
so successive ``pulumi up`` runs see the same world, counts every remote call, and injects faults
(``World.faults``) and latency (``World.latency_ms``). It holds no secret: passwords are checked
against salted digests, and a simulated backup file carries the MSID and such a digest only.

Scripts are keyed by name (``provider.contracts.SCRIPTS``); each handler gets the WIRE parameters
(PascalCase, secrets as ``SecretStr`` or ``str``) and returns the camelCase dict of its Result model.
Reads never change the world (checked on every read); changes are idempotent.

The rules enforced (docs/design.md "The simulator", rules 1-13): what the simulator does, its source, its code.

1. A node with NLB refuses Install-/Join-SsoSystem and Restore-MasterSecret.
   Seed CAUTION; reference §1.6, §9. ESSO-001.
2. Install-SsoSystem needs the XML's admin and affiliate groups to exist as domain Global Security
   groups; Set-SsoDomainGroups never reuses an existing DomainLocal/Universal/Distribution group.
   Seed install step 2; reference §3.1 (how-to-specify-sso-administrators...), §11. ESSO-002.
3. Install/Join need the service account in the admin group and holding SeServiceLogonRight on the
   node (a GPO's list replaces the local one): ESSO-003; and the caller's logon token on the node
   carrying the admin group: ESSO-004. Seed install steps 3-4 IMPORTANT; reference §1.1, §10.2.
4. A node configured for another server/database refuses Install/Join.
   Reference §1.6 (how-to-move-the-master-secret-server). ESSO-005.
5. Join needs the existing database and the creator's service account.
   Seed steps 14-15; reference §1.2. ESSO-006.
6. Set-SecretServerName: from a node that is not the secret server the update file holds only
   ``<sso><globalInfo><secretServer>``; the name must be the Name of a Network Name resource.
   Seed "update the master secret server name" NOTE; reference §3.1 IMPORTANT. ESSO-007.
7. Set-ClusteredSsoService needs a clustered MSDTC whose CID differs from every node's local CID
   (ESSO-008) and a role with an IP Address and the Network Name resource (ESSO-009).
   Seed "create the clustered resource" steps 1 and 5; reference §1.6 (biztalknotes blog), §7.4.
8. Without UseNetworkName=1 or the Name dependency (or after a local ``net start`` while clustered,
   ``Node.local_start_while_clustered``) the clustered ENTSSO is not registered: GetServerStatus lacks
   0x20 and ``client_can_reach_secret_server`` fails with 0x800706D9; ``require_client_reach`` raises.
   Seed step 6 IMPORTANT; reference §8. ESSO-010.
9. Restore-MasterSecret on node k needs the role owned by k and ENTSSO cycled on k since the role last
   moved (``Cluster.cycled_on``): ESSO-011; the backup file there with the expected MSID and the
   matching password: ESSO-012. Seed restore steps 1-3 NOTE and 4-6; reference §1.5.
10. ENTSSO without the MSID runs but serves nothing: GetServerStatus has 0x2 only with the database's
    MSID in SSOSS, and 0x20 only where the correctly clustered resource is Online.
    Reference §1.2, §6 (events 10520/10521, GetServerStatus). Facts, checked by the failover proof.
11. Restart-EntSsoService (net stop/net start) refuses once ENTSSO is a Generic Service resource.
    Reference §8 (apacbiztalk blog). ESSO-014.
12. Second-hop scripts are refused by ``Remote.run``; ``handle`` refuses them again when the
    transport declared no second hop. Reference §7.1 (CredSSP), §11. ESSO-015.
13. A logon token carries the groups of the moment it was issued. A ``SimulatorRemote`` opens a
    session (a new token) on its first use of a node; ``renew_logon`` issues a new one.
    Reference §11 ("Membership changes need a new logon token"). Seen as ESSO-004.

Also: the XML must arrive with empty password nodes and without any secret in it (docs/design.md "Secrets"),
and other failures of the real tools surface as ESSO-035 (the script raised a terminating error).
Injected faults: ``error`` raises ESSO-041 without acting, ``drop_before`` ESSO-031 without acting,
``drop_after`` acts, saves, then raises ESSO-031 (``may_have_run``), ``hang`` ESSO-033 without acting, and
``interrupt`` runs a multi-step change script up to one of its declared phases (``Script.phases``, e.g.
Install-SsoSystem ``configured``: the system exists, its backup is not written), saves what it did until then and
raises ESSO-031 (``may_have_run``); a run that never reaches the phase finishes normally (issue 14, point 3).

Command line: ``python -m provider.remote.simulator show|init|fault`` (``provider/remote/sim_cli.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from provider import contracts
from provider.errors import EssoError
from provider.remote import sim_backup_file, sim_cluster, sim_files, sim_handlers, sim_restore_chain
from provider.remote import sim_rotation as rot
from provider.remote.base import Remote, TransientRemoteError
from provider.remote.sim_model import (
    Ctx,
    Interrupted,
    PostconditionError,
    client_can_reach_secret_server,
    demo_world,
    find_node,
    issue_token,
    require_client_reach,
    secret_server_status,
    world_for,
)
from provider.remote.sim_state import Simulator, _fault_error, _interrupted, _take_fault
from provider.remote.world import World

if TYPE_CHECKING:
    from provider.spec import ClusterSpec

__all__ = [
    "HANDLERS",
    "Simulator",
    "SimulatorRemote",
    "client_can_reach_secret_server",
    "demo_world",
    "handle",
    "require_client_reach",
    "secret_server_status",
    "world_for",
]

Handler = Callable[[Ctx, Any], contracts.Result]

HANDLERS: dict[str, Handler] = {
    contracts.GET_NODE_FACTS.name: sim_handlers.get_node_facts,
    contracts.GET_CLUSTER_FACTS.name: sim_cluster.get_cluster_facts,
    contracts.GET_SSO_DATABASE_FACTS.name: sim_handlers.get_sso_database_facts,
    contracts.GET_DOMAIN_GROUP_FACTS.name: sim_handlers.get_domain_group_facts,
    contracts.READ_FILE_CHUNK.name: sim_files.read_file_chunk,
    contracts.SET_SSO_DOMAIN_GROUPS.name: sim_handlers.set_sso_domain_groups,
    contracts.GRANT_SERVICE_LOGON_RIGHT.name: sim_handlers.grant_service_logon_right,
    contracts.INSTALL_SSO_SYSTEM.name: sim_handlers.install_sso_system,
    contracts.JOIN_SSO_SYSTEM.name: sim_handlers.join_sso_system,
    contracts.BACKUP_MASTER_SECRET.name: sim_handlers.backup_master_secret,
    contracts.NEW_MASTER_SECRET.name: rot.new_master_secret,
    contracts.RESTART_ENTSSO_SERVICE.name: sim_handlers.restart_entsso_service,
    contracts.SET_SECRET_SERVER_NAME.name: sim_handlers.set_secret_server_name,
    contracts.SET_CLUSTERED_SSO_SERVICE.name: sim_cluster.set_clustered_sso_service,
    contracts.SET_SSO_POSSIBLE_OWNERS.name: sim_cluster.set_sso_possible_owners,
    contracts.SET_ENTSSO_START_MODE.name: sim_handlers.set_entsso_start_mode,
    contracts.SET_ENTSSO_LOGON.name: sim_handlers.set_entsso_logon,
    contracts.MOVE_SSO_ROLE.name: sim_restore_chain.move_sso_role,
    contracts.RESTART_SSO_CLUSTER_RESOURCE.name: sim_cluster.restart_sso_cluster_resource,
    contracts.RESTORE_MASTER_SECRET.name: sim_restore_chain.restore_master_secret,
    contracts.NEW_PROTECTED_TEMP_DIR.name: sim_files.new_protected_temp_dir,
    contracts.WRITE_FILE_CHUNK.name: sim_restore_chain.write_file_chunk,
    contracts.REMOVE_PROTECTED_PATH.name: sim_files.remove_protected_path,
    contracts.REMOVE_MASTER_SECRET_BACKUP.name: sim_backup_file.remove_master_secret_backup,
    contracts.REMOVE_SSO_NODE_CONFIGURATION.name: sim_handlers.remove_sso_node_configuration,
    contracts.REMOVE_CLUSTERED_SSO_SERVICE.name: sim_cluster.remove_clustered_sso_service,
    contracts.REMOVE_SSO_DATABASE.name: sim_handlers.remove_sso_database,
}


def handle(
    world: World,
    node: str,
    script_name: str,
    params: dict[str, Any],
    *,
    identity: str,
    second_hop: bool = True,
    interrupt: str | None = None,
) -> dict[str, Any]:
    """Run one script on one node of ``world`` (in place) and return its camelCase result dict."""
    script = contracts.SCRIPTS.get(script_name)
    if script is None:
        raise EssoError("ESSO-035", f"the term '{script_name}' is not a known script.", node=node, step=script_name)
    target = find_node(world, node)
    if target is None:
        raise EssoError("ESSO-031", f"no node named {node} exists.", node=node, step=script_name)
    if script.second_hop and not second_hop:  # rule 12, again: the loopback transport may call handle() directly
        raise EssoError(
            "ESSO-015",
            f"{script_name} reaches SQL Server or a domain controller and the transport declares no second hop; "
            "it would run as ANONYMOUS.",
            node=target.name,
            step=script_name,
        )
    try:
        typed = script.params.model_validate(params)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "(root)" for e in exc.errors())
        raise EssoError(
            "ESSO-035", f"cannot bind the parameters of {script_name} ({fields}).", node=target.name, step=script_name
        ) from None
    if identity not in target.tokens:
        issue_token(world, target, identity)  # the first use of a node opens a logon session
    rot.advance_reencryption(world)  # the master secret server's background work, between calls (issue 17)
    snapshot = None if script.changes else world.model_dump()
    result = HANDLERS[script_name](Ctx(world, target, script, identity, second_hop, interrupt), typed)
    if snapshot is not None and world.model_dump() != snapshot:
        raise AssertionError(f"the simulator's read script {script_name} changed the world")
    if not isinstance(result, script.result):
        raise AssertionError(f"{script_name} returned {type(result).__name__}, not {script.result.__name__}")
    dumped: dict[str, Any] = result.model_dump(by_alias=True, mode="json")
    return dumped


class SimulatorRemote(Remote):
    """``Remote`` over the simulator: one state file, one identity, one logon session per node per instance."""

    def __init__(
        self,
        state_path: str | Path,
        *,
        second_hop: bool = True,
        identity: str = "CONTOSO\\esso-config",
        retries: int = 2,
        backoff: float = 0.0,
        spec: ClusterSpec | None = None,
        reuse_sessions: bool = False,
    ) -> None:
        super().__init__(second_hop=second_hop, retries=retries, backoff=backoff)
        self.sim = Simulator(state_path)
        self.identity = identity
        # A new Remote is a new WinRM connection: its first call on a node opens a logon session whose
        # token carries the memberships of that moment (rule 13). reuse_sessions keeps a token already
        # in the world instead (a pooled session that outlived its Remote; tests build stale tokens so).
        self.reuse_sessions = reuse_sessions
        self._sessions: set[str] = set()
        if spec is not None:
            self.sim.seed(spec, overwrite=False)

    def _open_session(self, world: World, node: str) -> None:
        target = find_node(world, node)
        assert target is not None
        if target.name.lower() in self._sessions:
            return
        if not (self.reuse_sessions and self.identity in target.tokens):
            issue_token(world, target, self.identity)
        self._sessions.add(target.name.lower())

    def _invoke(self, node: str, script: contracts.Script[Any, Any], params: contracts.Params) -> Any:
        return self.call(node, script.name, params.wire())

    def call(self, node: str, script: str, wire: Mapping[str, Any]) -> dict[str, Any]:
        """Run one script by name with its wire parameters (PascalCase; secrets as ``SecretStr`` or ``str``).

        The one call path of the simulator: ``Remote.run`` comes here through ``_invoke``, and the loopback
        WinRM endpoint calls it for every pipeline, so both leave the same world. In order: count the call and
        tick the clock, refuse an unreachable node (ESSO-031, did not run), sleep the world's latency, take an
        injected fault (``error`` ESSO-041, ``drop_before`` ESSO-031 and ``hang`` ESSO-033 without acting),
        open the logon session, run ``handle`` on a copy kept only if the script succeeded; ``drop_after``
        raises ESSO-031 (may have run) after saving. The latency (``call_latency``) is slept after the state
        lock is released, so parallel calls overlap.
        """
        with self.sim.locked():
            world = self.sim.read_unlocked()
            target = find_node(world, node)
            name = target.name if target is not None else node
            key = f"{name}/{script}"
            world.calls[key] = world.calls.get(key, 0) + 1
            world.clock += 1
            if target is None or not target.reachable:
                self.sim.write_unlocked(world)
                raise TransientRemoteError(
                    "ESSO-031", f"cannot connect to {node}.", node=node, step=script, may_have_run=False
                )
            delay = call_latency(world.latency_ms, script)
            fault = _take_fault(world, name, script)
            failure: BaseException | None = None
            raw: dict[str, Any] = {}
            if fault is not None and fault.kind not in ("drop_after", "interrupt"):
                self.sim.write_unlocked(world)
                failure = _fault_error(fault.kind, name, script)
            else:
                self._open_session(world, name)
                work = world.model_copy(deep=True)
                phase = fault.phase if fault is not None and fault.kind == "interrupt" else None
                try:
                    raw = handle(
                        work,
                        name,
                        script,
                        dict(wire),
                        identity=self.identity,
                        second_hop=self.second_hop,
                        interrupt=phase,
                    )
                    self.sim.write_unlocked(work)
                    if phase is not None:
                        fault = None  # this run never reached the phase: it finished, and the reply arrives
                except Interrupted as stop:
                    self.sim.write_unlocked(work)  # the session died half way: what ran before the phase stays
                    failure = _interrupted(name, script, stop.phase)
                    fault = None
                except PostconditionError as exc:
                    self.sim.write_unlocked(work)  # the script acted, then its post-condition failed: the change stays
                    failure = exc
                except BaseException as exc:
                    self.sim.write_unlocked(world)  # the call and the session count; a failed script changes nothing
                    failure = exc
        # The latency is slept outside the lock, so calls from parallel threads overlap as they do on Windows.
        if delay > 0:
            time.sleep(delay)
        if failure is not None:
            raise failure
        if fault is not None:
            raise _fault_error(fault.kind, name, script)
        return raw

    def renew_logon(self, node: str) -> None:
        """Open a new logon session on the node: a token with the identity's current groups (rule 13)."""
        with self.sim.locked():
            world = self.sim.read_unlocked()
            target = find_node(world, node)
            if target is None or not target.reachable:
                raise TransientRemoteError(
                    "ESSO-031", f"cannot connect to {node}.", node=node, step="renew-logon", may_have_run=False
                )
            issue_token(world, target, self.identity)
            self._sessions.add(target.name.lower())
            self.sim.write_unlocked(world)


@dataclass(frozen=True)
class LatencyProfile:
    """How long each script takes on Windows (seconds), scaled by ``scale`` so a bench stays short.

    Why per script: Configuration.exe (install, join) and ssomanage take tens of seconds, a role move or an
    ENTSSO cycle waits for the cluster (``Move-ClusterGroup -Wait``), the facts script runs CIM and RSoP
    queries; a uniform latency would weigh a read like a join. The figures are estimates for the bench
    (the performance review section 5), not measurements; ``scale`` 0.01 turns a 40 s join into 0.4 s.
    """

    seconds: Mapping[str, float]
    default_read: float = 0.5
    default_change: float = 2.0
    scale: float = 0.01

    def delay(self, script: str) -> float:
        known = contracts.SCRIPTS.get(script)
        fallback = self.default_change if known is not None and known.changes else self.default_read
        return self.seconds.get(script, fallback) * self.scale


WINDOWS_LIKE = LatencyProfile(
    seconds={
        contracts.INSTALL_SSO_SYSTEM.name: 60.0,  # Configuration.exe /s: creates the SSO database and the master secret
        contracts.JOIN_SSO_SYSTEM.name: 40.0,  # Configuration.exe /s: joins the existing system
        contracts.RESTORE_MASTER_SECRET.name: 10.0,  # ssoconfig -restoreSecret
        contracts.SET_SECRET_SERVER_NAME.name: 8.0,  # ssomanage -updatedb
        contracts.MOVE_SSO_ROLE.name: 15.0,  # Move-ClusterGroup -Wait
        contracts.RESTART_SSO_CLUSTER_RESOURCE.name: 10.0,  # Stop-/Start-ClusterResource -Wait
        contracts.RESTART_ENTSSO_SERVICE.name: 8.0,  # net stop / net start ENTSSO
        contracts.SET_CLUSTERED_SSO_SERVICE.name: 6.0,  # Add-ClusterGenericServiceRole and its parameters
        contracts.GET_NODE_FACTS.name: 2.0,  # CIM, RSoP, GetServerStatus, FailoverClusters on a new runspace
        contracts.GET_CLUSTER_FACTS.name: 1.0,
        contracts.GET_SSO_DATABASE_FACTS.name: 1.0,
        contracts.GET_DOMAIN_GROUP_FACTS.name: 1.0,
    }
)

# The profile the simulator applies when set (the bench sets it); None: the world's uniform ``latency_ms``.
latency_profile: LatencyProfile | None = None


def call_latency(latency_ms: int, script: str) -> float:
    """Seconds one call of ``script`` sleeps: the active profile's, else the world's uniform latency."""
    if latency_profile is not None:
        return latency_profile.delay(script)
    return latency_ms / 1000 if latency_ms > 0 else 0.0


# --------------------------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """The command line lives in ``sim_cli`` (show, init, fault)."""
    from provider.remote.sim_cli import main as cli_main  # sim_cli imports this module

    return cli_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
