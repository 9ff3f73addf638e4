"""``esso plan``: what the next ``up`` would do on each node, read-only (issue 18, points 2 and 3).

How, so that the plan IS what ``up`` does:

1. Read the facts over the stack's own transport, through ``ReadOnlyRemote``: it sends fact scripts only and
   refuses any script whose contract says it changes something (``provider/contracts/``), before sending.
2. Evaluate every precondition the providers check, with the providers' own check functions
   (``provider/resources/preflight.py``), each as an entry instead of the first refusal.
3. Seed a simulator world from those facts (``twin.twin_world``) and run the real providers, in the
   component's order, over the stack's state as ``up`` does (check, diff, create/update, deletes in reverse),
   against that twin. Every change script they send there is a step of the plan; a refusal (a failing
   precondition, ``allowDisruption: false``) is where ``up`` would stop. When it stops, the same walk with
   ``allowDisruption`` shows what would follow, as blocked steps. The escrow is read, never written.

What the facts cannot describe is listed as ``unknowns`` with the assumption made.

Where: step 1 and 2 live in ``plan_facts``, the report's models in ``plan_model`` (both re-exported here);
this module walks the providers over the twin (step 3).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import provider.resources.inputs as resource_inputs
from provider import contracts
from provider.errors import EssoError
from provider.escrow.base import Escrow
from provider.operate.plan_facts import ReadOnlyRemote as ReadOnlyRemote
from provider.operate.plan_facts import preconditions as preconditions
from provider.operate.plan_facts import read_facts as read_facts
from provider.operate.plan_model import Blocked as Blocked
from provider.operate.plan_model import Plan as Plan
from provider.operate.plan_model import Precondition as Precondition
from provider.operate.plan_model import StateResource as StateResource
from provider.operate.plan_model import Step as Step
from provider.operate.program import ProgramResource, component_resources
from provider.operate.progress import QUIET_KEY
from provider.operate.twin import TwinEscrow, twin_world
from provider.remote.base import CallPolicy, Remote
from provider.remote.recorder import Recorder
from provider.remote.simulator import Simulator
from provider.resources.base import EssoProvider
from provider.spec import ClusterSpec

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
