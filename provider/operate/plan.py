"""``esso plan``: what the next ``up`` would do on each node, read-only (issue 18, points 2 and 3).

How, so that the plan IS what ``up`` does:

1. Read the facts over the stack's own transport, through ``ReadOnlyRemote``: it sends fact scripts only and
   refuses any script whose contract says it changes something (``provider/contracts.py``), before sending.
2. Evaluate every precondition the providers check, with the providers' own check functions
   (``provider/resources/preflight.py``), each as an entry instead of the first refusal.
3. Seed a simulator world from those facts (``twin.twin_world``) and run the real providers, in the
   component's order, over the stack's state as ``up`` does (check, diff, create/update, deletes in reverse),
   against that twin. Every change script they send there is a step of the plan; a refusal (a failing
   precondition, ``allowDisruption: false``) is where ``up`` would stop. When it stops, the same walk with
   ``allowDisruption`` shows what would follow, as blocked steps. The escrow is read, never written.

What the facts cannot describe is listed as ``unknowns`` with the assumption made.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

import provider.resources.inputs as resource_inputs
from provider import contracts
from provider.config.names import split_account
from provider.errors import EssoError
from provider.escrow.base import Escrow
from provider.operate.program import ProgramResource, component_resources
from provider.operate.progress import QUIET_KEY
from provider.operate.twin import Facts, TwinEscrow, twin_world
from provider.remote.base import CallPolicy, Remote, TransientRemoteError
from provider.remote.recorder import Recorder
from provider.remote.simulator import Simulator
from provider.resources import preflight
from provider.resources.base import EssoProvider
from provider.spec import ClusterSpec


class Step(BaseModel):
    """One change script ``up`` would send."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resource: str
    node: str
    script: str
    disruptive: bool
    changed: bool | None = None  # what the script reported in the twin (False: it found the node as wanted)


class Blocked(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    resource: str
    node: str | None
    reason: str
    error: str


class Precondition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    node: str | None
    ok: bool
    detail: str


class StateResource(BaseModel):
    """A resource in the stack's state: what ``up`` diffs against (inputs for check, outputs for diff)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    type: str = ""  # pulumi-python:dynamic/esso:<Resource>: which provider deletes it once the program drops it
    inputs: dict[str, Any]
    outputs: dict[str, Any]


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stack: str
    nodes: list[str]
    allow_disruption: bool
    steps: list[Step]
    blocked: list[Blocked]
    preconditions: list[Precondition]
    unknowns: list[str]
    after_block: list[Step] = []  # what would follow once the block is lifted (not part of the next up)

    def public(self) -> dict[str, Any]:
        """The JSON the issue specifies: steps, blocked, preconditions (and what the plan could not see)."""
        return {
            "steps": [s.model_dump(exclude={"changed"}) for s in self.steps],
            "blocked": [b.model_dump() for b in self.blocked],
            "preconditions": [p.model_dump() for p in self.preconditions],
            "unknowns": list(self.unknowns),
        }


class ReadOnlyRemote(Remote):
    """Sends fact scripts only: a script whose contract changes anything is refused before it is sent."""

    def __init__(self, inner: Remote) -> None:
        super().__init__(second_hop=inner.second_hop, retries=inner.retries, backoff=inner.backoff)
        self.inner = inner
        self.policy = inner.policy
        self.recorder = inner.recorder  # the plan's fact reads are part of the stack's record

    def _invoke(self, node: str, script: contracts.Script[Any, Any], params: contracts.Params) -> Any:
        if script.changes:
            raise EssoError(
                "ESSO-035", f"esso plan is read-only and sends no change script ({script.name}).", node=node
            )
        return self.inner._invoke(node, script, params)

    def renew_logon(self, node: str) -> None:
        self.inner.renew_logon(node)

    def close(self) -> None:
        self.inner.close()


# ------------------------------------------------------------------------------------------------ facts


def _code(exc: Exception) -> str:
    return exc.code if isinstance(exc, EssoError) else type(exc).__name__


def read_facts(remote: Remote, spec: ClusterSpec) -> Facts:
    """Every fact the providers read before they change anything; a failed read is kept as its ESSO id."""
    facts = Facts()
    admin = f"{spec.domain.name}\\{spec.sso.admin_group}"
    for node in spec.cluster.nodes:
        try:
            facts.nodes[node] = preflight.node_facts(
                remote, node, service_account=spec.sso.service_account, admin_group=admin
            )
        except (EssoError, TransientRemoteError) as exc:
            facts.unreachable[node] = _code(exc)
    answering = [n for n in spec.cluster.nodes if n in facts.nodes] or list(spec.cluster.nodes)
    try:
        facts.cluster = preflight.cluster_facts(remote, answering, spec.cluster.role)
    except EssoError as exc:
        facts.cluster_error = _code(exc)
    if remote.second_hop:
        try:
            facts.database = preflight.database_facts(remote, answering, spec.database.server, spec.database.name)
        except EssoError as exc:
            facts.database_error = _code(exc)
        members = [split_account(a)[1] for a in (spec.sso.service_account, spec.sso.configuring_account)]
        params = contracts.DomainGroupsParams(
            admin_group=spec.sso.admin_group, affiliate_admin_group=spec.sso.affiliate_admin_group, members=members
        )
        try:
            facts.groups = preflight.first_answer(
                answering, lambda n: remote.run(n, contracts.GET_DOMAIN_GROUP_FACTS, params)
            )
        except EssoError as exc:
            facts.groups_error = _code(exc)
    else:
        facts.database_error = facts.groups_error = "ESSO-015"
    return facts


def _entry(name: str, node: str | None, check: Any) -> Precondition:
    try:
        check()
    except EssoError as exc:
        return Precondition(name=name, node=node or exc.node, ok=False, detail=f"{exc.code}: {exc.detail}")
    return Precondition(name=name, node=node, ok=True, detail="ok")


def preconditions(facts: Facts, spec: ClusterSpec, second_hop: bool) -> list[Precondition]:
    """The providers' preconditions, each evaluated with the providers' own check (preflight.py)."""
    account = spec.sso.service_account
    out: list[Precondition] = []

    def hop() -> None:
        if not second_hop:
            raise EssoError("ESSO-015", "transport.secondHop is 'none'.", step="plan")

    out.append(_entry("second hop (CredSSP or Kerberos delegation) to SQL Server and the domain", None, hop))
    for node in spec.cluster.nodes:
        f = facts.nodes.get(node)
        if f is None:
            code = facts.unreachable.get(node, "?")
            out.append(Precondition(name="node answers", node=node, ok=False, detail=f"{code}: no facts"))
            continue
        out.append(Precondition(name="node answers", node=node, ok=True, detail="ok"))
        out.append(
            _entry(
                "ESSO installed, no NLB, logon right not reverted by a GPO",
                node,
                lambda f=f, n=node: preflight.check_nodes({n: f}, service_account=account),
            )
        )
        granted = f.logon_right.granted
        out.append(
            Precondition(
                name="'Log on as a service' for the service account",
                node=node,
                ok=granted or not f.logon_right.via_gpo or f.logon_right.gpo_includes_account,
                detail="granted" if granted else "not yet: sso-domain-groups grants it (Grant-ServiceLogonRight)",
            )
        )
        out.append(
            Precondition(
                name="logon token carries SSO Administrators",
                node=node,
                ok=True,
                detail="yes"
                if f.token_has_admin_group
                else "not yet: sso-domain-groups adds the membership and up opens a new logon session",
            )
        )
    versions = {n: f.esso_version or "unknown" for n, f in facts.nodes.items() if f.esso_installed}
    if len(versions) > 1:
        same = len(set(versions.values())) == 1
        listed = ", ".join(f"{n}={v}" for n, v in versions.items())
        out.append(
            Precondition(
                name="one Enterprise SSO version on every node",
                node=None,
                ok=same,
                detail=listed if same else f"ESSO-016: Enterprise SSO versions differ: {listed}.",
            )
        )
    if facts.cluster is not None:
        cluster = facts.cluster
        out.append(
            _entry(
                "cluster members Up, clustered MSDTC with its own CID, the role with IP and Network Name",
                None,
                lambda: preflight.check_cluster(
                    cluster,
                    nodes=spec.cluster.nodes,
                    role=spec.cluster.role,
                    network_name=spec.cluster.network_name,
                    node_cids={n: f.dtc_cid for n, f in facts.nodes.items()},
                ),
            )
        )
    else:
        out.append(Precondition(name="cluster facts", node=None, ok=False, detail=f"{facts.cluster_error}: unread"))
    if facts.database is not None:
        where = f"{spec.database.server}/{spec.database.name}"
        state = "exists" if facts.database.exists else "does not exist yet (up creates it)"
        out.append(Precondition(name="SSO database reachable", node=None, ok=True, detail=f"{where} {state}"))
    else:
        out.append(
            Precondition(name="SSO database reachable", node=None, ok=False, detail=f"{facts.database_error}: unread")
        )
    if facts.groups is not None:
        for g in (facts.groups.admin_group, facts.groups.affiliate_admin_group):
            good = not g.exists or (g.scope == "Global" and g.category == "Security")
            detail = f"{g.scope} {g.category}" if g.exists else "absent (up creates it)"
            out.append(
                Precondition(
                    name=f"group {g.name} is a domain Global Security group",
                    node=None,
                    ok=good,
                    detail=detail if good else f"ESSO-002: {detail}",
                )
            )
    else:
        out.append(Precondition(name="domain groups", node=None, ok=False, detail=f"{facts.groups_error}: unread"))
    return out


# ------------------------------------------------------------------------------------------------ walk


@contextlib.contextmanager
def escrow_twin() -> Iterator[None]:
    """While the providers run on the twin, the escrow they open is a ``TwinEscrow`` (one per namespace)."""
    real_for = resource_inputs.escrow_for  # type: ignore[attr-defined]
    twins: dict[str, TwinEscrow] = {}

    def twin_for(section: Any, *, namespace: str, **kwargs: Any) -> Escrow:
        key = f"{section.model_dump_json()}|{namespace}"
        if key not in twins:
            twins[key] = TwinEscrow(real_for(section, namespace=namespace, **kwargs))
        return twins[key]

    resource_inputs.escrow_for = twin_for  # type: ignore[attr-defined]
    try:
        yield
    finally:
        resource_inputs.escrow_for = real_for  # type: ignore[attr-defined]


def _provider(cls: type[EssoProvider], spec: ClusterSpec, recorder: Recorder) -> EssoProvider:
    provider = cls()
    provider.use_spec(spec)
    provider.recorder = recorder
    return provider


def _blocked(resource: str, exc: Exception) -> Blocked:
    """Where the twin stopped: the ESSO id and its detail (which never holds a secret), or the exception's type."""
    if isinstance(exc, EssoError):
        return Blocked(resource=resource, node=exc.node, reason=exc.detail, error=exc.code)
    return Blocked(resource=resource, node=None, reason="the provider failed in the twin", error=type(exc).__name__)


def walk(
    program: Sequence[ProgramResource],
    state: Mapping[str, StateResource],
    spec: ClusterSpec,
    notes: list[str] | None = None,
) -> tuple[list[Step], list[Blocked]]:
    """Run ``up`` over ``state`` with the providers configured by ``spec`` (the twin's): its change steps, in
    order, and where it stops. Creates and updates in the program's order, then deletes in reverse."""
    recorder = Recorder(operation="plan")
    notes = [] if notes is None else notes  # what the walk could not follow (appended for the plan's unknowns)
    steps: list[Step] = []
    blocked: list[Blocked] = []

    def collect(name: str, start: int) -> None:
        for r in recorder.records[start:]:
            if r.changes:
                disruptive = contracts.SCRIPTS[r.script].disruptive
                steps.append(
                    Step(resource=name, node=r.node, script=r.script, disruptive=disruptive, changed=r.changed)
                )

    wanted = {r.name for r in program}
    for resource in program:
        start = len(recorder.records)
        provider = _provider(resource.provider, spec, recorder)
        old = state.get(resource.name)
        try:
            # without the quiet input: the twin shows no progress to an engine and writes no record
            inputs = {k: v for k, v in resource.inputs.items() if k != QUIET_KEY}
            checked = provider.check(old.inputs if old else {}, inputs)
            if checked.failures:
                reasons = "; ".join(f"{f.property}: {f.reason}" for f in checked.failures)
                raise EssoError("ESSO-040", f"the inputs do not pass check: {reasons}.")
            news = dict(checked.inputs or {})
            if old is None:
                provider.create(news)
            else:
                diff = provider.diff(old.id, old.outputs, news)
                if diff.replaces:
                    notes.append(
                        f"{resource.name} is replaced ({', '.join(diff.replaces)} changed): the engine also replaces "
                        "the resources registered with replace_with on it, which this plan does not list"
                    )
                    provider.delete(old.id, old.outputs)  # the component asks for delete-before-replace
                    provider.create(news)
                elif diff.changes:
                    provider.update(old.id, old.outputs, news)
        except Exception as exc:
            collect(resource.name, start)
            first = _blocked(resource.name, exc)
            blocked.append(first)
            for later in program[program.index(resource) + 1 :]:
                blocked.append(
                    Blocked(resource=later.name, node=None, reason=f"waits for {resource.name}", error=first.error)
                )
            return steps, blocked
        collect(resource.name, start)
    for name in reversed(list(state)):
        if name in wanted:
            continue
        old = state[name]
        start = len(recorder.records)
        cls = next((r.provider for r in program if r.kind == old.type), None)
        if cls is None:
            blocked.append(
                Blocked(resource=name, node=None, reason="no provider known for a removed resource", error="ESSO-040")
            )
            continue
        try:
            _provider(cls, spec, recorder).delete(old.id, old.outputs)
        except Exception as exc:
            collect(name, start)
            blocked.append(_blocked(name, exc))
            return steps, blocked
        collect(name, start)
    return steps, blocked


def build_plan(
    spec: ClusterSpec,
    *,
    stack: str,
    state: Mapping[str, StateResource],
    remote: Remote,
    workdir: Path | None = None,
) -> Plan:
    """Read the facts through ``remote`` (read-only), then walk ``up`` on a twin seeded from them."""
    reader = ReadOnlyRemote(remote)
    reader.policy = CallPolicy.for_stack(nodes=spec.cluster.nodes, allow_disruption=False)  # configured nodes only
    facts = read_facts(reader, spec)
    checks = preconditions(facts, spec, remote.second_hop)
    twin = twin_world(facts, spec)
    program = component_resources(spec, stack=stack)
    with contextlib.ExitStack() as stack_ctx:
        folder = workdir or Path(stack_ctx.enter_context(tempfile.TemporaryDirectory(prefix="esso-plan-")))

        notes: list[str] = []

        def run(allow: bool, tag: str) -> tuple[list[Step], list[Blocked]]:
            path = folder / f"twin-{tag}.json"
            Simulator(path).seed(twin.world.model_copy(deep=True))
            twin_spec = spec.model_copy(
                update={"target": "simulator", "simulator_state": str(path), "allow_disruption": allow}
            )
            # a fresh escrow view per walk; the twin's "esso: [...] changed" lines on stderr are not news
            with escrow_twin(), contextlib.redirect_stderr(io.StringIO()):
                return walk(program, state, twin_spec, notes if tag == "up" else None)

        steps, blocked = run(spec.allow_disruption, "up")
        after: list[Step] = []
        if blocked and not spec.allow_disruption and blocked[0].error == "ESSO-019":
            allowed, _ = run(True, "allowed")
            after = allowed[len(steps) :]
    return Plan(
        stack=stack,
        nodes=list(spec.cluster.nodes),
        allow_disruption=spec.allow_disruption,
        steps=steps,
        blocked=blocked,
        preconditions=checks,
        unknowns=[*twin.unknowns, *notes],
        after_block=after,
    )
