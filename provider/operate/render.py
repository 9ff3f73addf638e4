"""How a plan and a run record read: a terminal listing, a change board's runbook (Markdown), a timeline."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from provider.errors import CATALOGUE
from provider.operate.plan import Plan, Step
from provider.remote.recorder import CallRecord

ROLLBACK = [
    "A failed `up` leaves every resource it finished in state; fix the cause (the ESSO id names it) and run "
    "`pulumi up` again: it resumes, a change is never re-sent blindly (docs/operations.md).",
    "Nothing here deletes the master secret: the backup is in escrow before any node is joined, and a node that "
    "lost it is restored from there (docs/operations.md, Disaster recovery).",
    "`pulumi destroy` removes the clustered resource and the joins; the SSO system, its database and the escrow "
    "stay while policy.protectSsoSystem is true (docs/operations.md, Safety).",
]


def _outage(step: Step) -> str:
    if step.script in ("Move-SsoRole",):
        return "the SSO role moves: the secret server is unavailable for the move"
    if step.script in ("Restart-SsoClusterResource", "Restart-EntSsoService"):
        return "ENTSSO restarts: the secret server is unavailable for the restart"
    if step.script == "Remove-ClusteredSsoService":
        return "the clustered ENTSSO is removed"
    return "disruptive"


def _expected(step: Step) -> str:
    """What the script did in the twin: a change, or a check that found the node as wanted."""
    if step.changed is None:
        return "runs"
    return "changes" if step.changed else "finds it done"


def text(plan: Plan) -> str:
    """The plan for a terminal: one line per step, then what blocks it and what was not checked."""
    lines = [
        f"esso plan for stack {plan.stack} (nodes {', '.join(plan.nodes)}; allowDisruption {plan.allow_disruption})"
    ]
    bad = [p for p in plan.preconditions if not p.ok]
    lines.append(f"preconditions: {len(plan.preconditions) - len(bad)} ok, {len(bad)} failing")
    lines += [f"  FAIL {p.node or 'cluster'}: {p.name}: {p.detail}" for p in bad]
    if not plan.steps and not plan.blocked:
        lines.append("no change: the next `up` sends no change script")
    for i, step in enumerate(plan.steps, 1):
        mark = "  DISRUPTIVE" if step.disruptive else ""
        lines.append(f"{i:3}. {step.resource:30} {step.node:10} {step.script:28} {_expected(step):14}{mark}")
    if plan.blocked:
        first = plan.blocked[0]
        lines.append(f"up stops at {first.resource} ({first.node or '-'}): {first.error} {first.reason}")
        waiting = [b.resource for b in plan.blocked[1:]]
        if waiting:
            lines.append(f"  not reached: {', '.join(waiting)}")
    if plan.after_block:
        lines.append(f"with allowDisruption: true, {len(plan.after_block)} more step(s) would follow:")
        for step in plan.after_block:
            mark = "  DISRUPTIVE" if step.disruptive else ""
            lines.append(f"     {step.resource:30} {step.node:10} {step.script:28} {'':14}{mark}")
    lines.append("not visible to the fact scripts (assumed):")
    lines += [f"  - {u}" for u in plan.unknowns]
    return "\n".join(lines)


def markdown(plan: Plan, *, when: str | None = None) -> str:
    """A runbook a change board can approve: the stack, nodes, outages and their count, steps, blocks, rollback."""
    outages = [s for s in plan.steps if s.disruptive]
    out = [f"# Change runbook: ESSO master secret server, stack `{plan.stack}`", ""]
    out.append(
        f"Planned {when or datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')} with `esso plan` "
        "(read-only: only fact scripts ran)."
    )
    out += ["", f"- Nodes: {', '.join(plan.nodes)}", f"- allowDisruption: {str(plan.allow_disruption).lower()}"]
    out.append(f"- Change steps: {len(plan.steps)}; expected outages: {len(outages)}")
    if plan.blocked:
        b = plan.blocked[0]
        out.append(f"- **Blocked:** `up` stops at {b.resource} with {b.error}: {b.reason}")
    out += ["", "## Preconditions", "", "| Check | Node | OK | Detail |", "|---|---|---|---|"]
    out += [
        f"| {p.name} | {p.node or 'cluster'} | {'yes' if p.ok else '**no**'} | {p.detail} |" for p in plan.preconditions
    ]
    out += ["", "## Steps, in the order `up` runs them", ""]
    if plan.steps:
        out += ["| # | Resource | Node | Script | Disruptive | Expected |", "|---|---|---|---|---|---|"]
        out += [
            f"| {i} | {s.resource} | {s.node} | {s.script} | {'**yes**' if s.disruptive else 'no'} | {_expected(s)} |"
            for i, s in enumerate(plan.steps, 1)
        ]
    else:
        out.append("No change: the next `up` sends no change script.")
    out += ["", "## Expected outages", ""]
    if outages:
        counts = Counter((s.node, _outage(s)) for s in outages)
        out += [f"- {node}: {what} (x{n})" for (node, what), n in counts.items()]
    else:
        out.append("None.")
    if plan.blocked:
        out += ["", "## What blocks it", "", "| Resource | Node | Error | Reason |", "|---|---|---|---|"]
        for b in plan.blocked:
            fix = CATALOGUE[b.error].fix if b.error in CATALOGUE and b is plan.blocked[0] else ""
            out.append(f"| {b.resource} | {b.node or '-'} | {b.error} | {b.reason} {fix} |")
    if plan.after_block:
        out += ["", "Once `allowDisruption: true` is set for the window, these steps follow:", ""]
        out += [
            f"- {s.resource} on {s.node}: {s.script}{' (disruptive)' if s.disruptive else ''}" for s in plan.after_block
        ]
    out += ["", "## Not visible to the fact scripts (assumed by the plan)", ""]
    out += [f"- {u}" for u in plan.unknowns]
    out += ["", "## Rollback", ""]
    out += [f"- {r}" for r in ROLLBACK]
    return "\n".join(out) + "\n"


def timeline(records: list[CallRecord]) -> str:
    """One run of the record as a readable timeline."""
    if not records:
        return "no run recorded"
    first = records[0]
    total = sum(r.duration_ms for r in records)
    changed = sum(1 for r in records if r.changed)
    failed = [r for r in records if r.error]
    lines = [
        f"run {first.run}: {len(records)} remote call(s), {changed} changed, {len(failed)} failed, "
        f"{total / 1000:.1f}s in scripts"
    ]
    for r in records:
        state = f"FAILED {r.error}" if r.error else ("changed" if r.changed else ("ok" if r.changes else "read"))
        lines.append(
            f"{r.time[11:23]}  {r.operation:6} {r.resource or '-':22} {r.node:10} {r.script:28} "
            f"{state:12} {r.duration_ms:>7} ms"
        )
    return "\n".join(lines)
