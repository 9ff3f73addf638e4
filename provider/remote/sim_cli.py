"""The simulator's command line: look at the simulated cluster, create one, inject and clear faults.

Why a module of its own: ``simulator.py`` is the model the providers and tests run against; this is
the operator's window onto it (``make demo`` ends by calling ``show --summary``), and it must refuse
bad input with a message that names the fix rather than a traceback.

    python -m provider.remote.simulator show [--state FILE] [--summary]
    python -m provider.remote.simulator init [--state FILE] [--nodes A,B] [--force]
    python -m provider.remote.simulator fault [--state FILE] --node N --script S [--kind K] [--remaining N]
        [--phase P]    (with --kind interrupt: where the script stops, one of its contract's phases)
    python -m provider.remote.simulator fault [--state FILE] --list
    python -m provider.remote.simulator fault [--state FILE] --clear [--node N] [--script S]

``--state`` defaults to the demo stack's world, ``.state/demo-world.json``.
Exit codes: 0 done, 1 no usable world at --state, 2 bad arguments (unknown node, script or kind).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from provider import contracts
from provider.config.names import computer_problem
from provider.remote import sim_existing
from provider.remote.sim_model import demo_world
from provider.remote.simulator import Simulator
from provider.remote.world import Fault, World

DEFAULT_STATE = ".state/demo-world.json"

FAULT_KINDS: dict[str, str] = {
    "error": "the script fails before acting (ESSO-041)",
    "drop_before": "the connection drops before the script runs (ESSO-031, nothing happened)",
    "drop_after": "the script runs, then the connection drops (ESSO-031, it may have run)",
    "hang": "the operation times out (ESSO-033, it may have run)",
    "interrupt": "the script stops at --phase, keeping what it did before it (ESSO-031, it may have run)",
}


class WorldFileError(Exception):
    """The state file is missing or is not a simulator world; the message says what to do."""


def load_world(sim: Simulator) -> World:
    """The world at ``sim.path``, or a ``WorldFileError`` naming the file and the fix (never a traceback)."""
    where = str(sim.path)
    if not sim.path.exists():
        raise WorldFileError(
            f"no simulated world at {where}: run 'make demo' (it creates the world from the demo stack), "
            f"or create one with: python -m provider.remote.simulator init --state {where}"
        )
    fix = (
        f"Delete it and run 'make demo' again, or re-create it with: "
        f"python -m provider.remote.simulator init --state {where} --force"
    )
    try:
        return sim.load()
    except OSError as exc:
        raise WorldFileError(f"cannot read {where}: {exc.__class__.__name__}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise WorldFileError(f"{where} is not a simulator world (not UTF-8 JSON text). {fix}") from None
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": str(exc)}
        place = ".".join(str(p) for p in first["loc"]) or "(the document)"
        raise WorldFileError(
            f"{where} is not a simulator world ({len(errors)} problem(s); first at {place}: {first['msg']}). {fix}"
        ) from None


def summary(world: World) -> list[str]:
    """A short, human reading of the world: who owns the role, who holds the master secret, what is clustered."""
    lines: list[str] = []
    cluster = world.cluster
    node_states = ", ".join(f"{n} {s}" for n, s in cluster.nodes.items()) or "none"
    lines.append(f"cluster {cluster.name}: nodes {node_states}")
    for group in cluster.groups.values():
        if group.name in ("Cluster Group", "MSDTC"):
            continue
        lines.append(f"role {group.name}: {group.state} on {group.owner_node}")
    for res in cluster.resources.values():
        if res.type != "Generic Service":
            continue
        use_nn = res.parameters.get("UseNetworkName", 0)
        depends = ", ".join(res.dependencies) or "nothing"
        lines.append(
            f"clustered service '{res.name}' (role {res.group}): {res.state}, UseNetworkName={use_nn}, "
            f"depends on {depends}, possible owners {', '.join(res.possible_owners) or 'none'}"
        )
    if not any(r.type == "Generic Service" for r in cluster.resources.values()):
        lines.append("clustered service: none yet (ENTSSO is not a cluster resource)")
    msids: set[str] = set()
    for db in world.databases.values():
        msids.add(db.msid)
        lines.append(
            f"SSO database {db.server}/{db.name}: secret server {db.secret_server}, master secret id {db.msid}, "
            f"groups {db.admin_group} / {db.affiliate_admin_group}, service account {db.service_account}"
        )
    if not world.databases:
        lines.append("SSO database: none yet (no SSO system created)")
    for node in world.nodes.values():
        configured = f"{node.sso_server}/{node.sso_database}" if node.sso_database else "not configured"
        holds = "holds the master secret" if msids.intersection(node.ssoss) else "no master secret"
        reach = "reachable" if node.reachable else "UNREACHABLE"
        lines.append(
            f"node {node.name}: {reach}, ENTSSO {node.entsso_state} ({node.entsso_start_type}), "
            f"SSO {configured}, {holds}"
        )
    live = [f for f in world.faults if f.remaining > 0]
    lines.append(f"faults: {'; '.join(_fault_text(f) for f in live) if live else 'none'}")
    lines.append(f"remote calls so far: {sum(world.calls.values())}")
    return lines


def _fault_text(fault: Fault) -> str:
    at = f" at {fault.phase}" if fault.phase else ""
    return f"{fault.kind}{at} on {fault.node}/{fault.script} x{fault.remaining}"


def _parser() -> argparse.ArgumentParser:
    kinds = "; ".join(f"{k}: {v}" for k, v in FAULT_KINDS.items())
    parser = argparse.ArgumentParser(
        prog="python -m provider.remote.simulator",
        description="Look at and steer the simulated Windows cluster that the demo stack and the tests run against.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="print the world (JSON, or a short summary with --summary)")
    show.add_argument("--state", default=DEFAULT_STATE, help=f"the world's file (default {DEFAULT_STATE})")
    show.add_argument("--summary", action="store_true", help="a few lines: role owner, master secret, clustering")
    init = sub.add_parser("init", help="create a world: ESSO installed on every node, nothing configured")
    init.add_argument("--state", default=DEFAULT_STATE, help=f"the world's file (default {DEFAULT_STATE})")
    init.add_argument("--nodes", default="SSO01,SSO02", help="comma-separated NetBIOS names, at least two")
    init.add_argument("--network-name", default="BIZTALKSSO")
    init.add_argument("--role", default="SSO")
    init.add_argument("--force", action="store_true", help="replace an existing world")
    init.add_argument(
        "--existing-server",
        metavar="NAME",
        help="seed an existing SSO system on this standalone master secret server (docs/adopt.md)",
    )
    init.add_argument(
        "--retired-backup",
        metavar="FILE",
        help="with --existing-server: that server is gone; write its backup here (password from "
        f"${sim_existing.BACKUP_PASSWORD_ENV}, never an argument)",
    )
    fault = sub.add_parser(
        "fault",
        help="inject a fault into one script on one node, or list or clear faults",
        description=f"Fault kinds: {kinds}. Scripts: {', '.join(contracts.SCRIPTS)}.",
    )
    fault.add_argument("--state", default=DEFAULT_STATE, help=f"the world's file (default {DEFAULT_STATE})")
    fault.add_argument("--node", help="a node of the world, or * for every node")
    fault.add_argument("--script", help="a script name (see the list above), or * for every script")
    fault.add_argument("--kind", default="error", choices=list(FAULT_KINDS))
    fault.add_argument("--remaining", type=int, default=1, help="how many calls fail (at least 1)")
    fault.add_argument("--phase", help="with --kind interrupt: where the script stops (its contract's phases)")
    action = fault.add_mutually_exclusive_group()
    action.add_argument("--list", action="store_true", help="list the faults still armed")
    action.add_argument("--clear", action="store_true", help="remove faults (all, or those of --node/--script)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; bad input is refused with the fix, before the world changes."""
    args = _parser().parse_args(argv)
    sim = Simulator(args.state)
    if args.command == "init":
        return _init(sim, args)
    try:
        world = load_world(sim)
    except WorldFileError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if args.command == "show":
        if args.summary:
            print(f"simulated world {args.state}")
            print("\n".join(f"  {line}" for line in summary(world)))
        else:
            print(json.dumps(world.dump(), indent=2))
        return 0
    return _fault(sim, world, args)


def _init(sim: Simulator, args: argparse.Namespace) -> int:
    nodes = [n.strip() for n in args.nodes.split(",") if n.strip()]
    problems = [f"--nodes: {n}: {p}" for n in nodes if (p := computer_problem(n, "node name"))]
    if len({n.lower() for n in nodes}) < 2:
        problems.append(f"--nodes: a cluster needs at least two different nodes, got {', '.join(nodes) or 'none'}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    if sim.exists() and not args.force:
        print(f"{args.state} exists; pass --force to replace it", file=sys.stderr)
        return 1
    if args.existing_server is None:
        if args.retired_backup is not None:
            print("--retired-backup needs --existing-server", file=sys.stderr)
            return 2
        sim.seed(demo_world(nodes=nodes, network_name=args.network_name, role=args.role))
        print(f"created {args.state}: nodes {', '.join(nodes)}")
        return 0
    return _init_existing(args, nodes)


def _init_existing(args: argparse.Namespace, nodes: list[str]) -> int:
    """A world where the SSO system already exists on a standalone server (the adopt demo)."""
    server = args.existing_server
    why = computer_problem(server, "server name")
    if why or server.lower() in {n.lower() for n in nodes}:
        print(f"--existing-server: {server}: {why or 'is a cluster node; name the standalone server'}", file=sys.stderr)
        return 2
    password = os.environ.get(sim_existing.BACKUP_PASSWORD_ENV) if args.retired_backup else None
    if args.retired_backup and not password:
        print(f"--retired-backup: set ${sim_existing.BACKUP_PASSWORD_ENV} to the backup password", file=sys.stderr)
        return 2
    sim_existing.seed_existing(
        args.state,
        nodes=nodes,
        server=server,
        network_name=args.network_name,
        role=args.role,
        retired_backup=Path(args.retired_backup) if args.retired_backup else None,
        backup_password=password,
    )
    gone = f"; {server} is gone, its backup is {args.retired_backup}" if args.retired_backup else ""
    print(f"created {args.state}: nodes {', '.join(nodes)}, existing SSO system on {server}{gone}")
    return 0


def _fault(sim: Simulator, world: World, args: argparse.Namespace) -> int:
    names = {n.lower(): n for n in world.nodes}
    problems: list[str] = []
    if args.node is not None and args.node != "*" and args.node.lower() not in names:
        known = ", ".join(world.nodes)
        problems.append(f"--node: {args.node} is not a node of {args.state}; its nodes: {known} (or *)")
    if args.script is not None and args.script != "*" and args.script not in contracts.SCRIPTS:
        problems.append(f"--script: unknown script {args.script}; the scripts: {', '.join(contracts.SCRIPTS)} (or *)")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    if args.list:
        live = [f for f in world.faults if f.remaining > 0]
        print("\n".join(_fault_text(f) for f in live) if live else "no faults")
        return 0
    if args.clear:
        with sim.edit() as edited:
            keep = [f for f in edited.faults if not _matches(f, args.node, args.script)]
            cleared = len(edited.faults) - len(keep)
            edited.faults = keep
        print(f"cleared {cleared} fault(s)")
        return 0
    if args.node is None or args.script is None:
        print("fault: give --node and --script to inject (or --list, or --clear)", file=sys.stderr)
        return 2
    if args.remaining < 1:
        print(f"--remaining: {args.remaining} must be at least 1 (the number of calls that fail)", file=sys.stderr)
        return 2
    if args.kind == "interrupt":
        declared = contracts.SCRIPTS[args.script].phases if args.script in contracts.SCRIPTS else ()
        if args.phase not in declared:
            print(
                f"--phase: an interrupt of {args.script} needs one of its phases: "
                f"{', '.join(declared) or '(none: it is a single-step script; use drop_after)'}",
                file=sys.stderr,
            )
            return 2
    elif args.phase is not None:
        print("--phase: only --kind interrupt takes a phase", file=sys.stderr)
        return 2
    node = args.node if args.node == "*" else names[args.node.lower()]
    sim.inject(node, args.script, args.kind, args.remaining, args.phase)
    at = f" at {args.phase}" if args.phase else ""
    print(f"fault: {args.kind}{at} on {node}/{args.script} x{args.remaining}")
    return 0


def _matches(fault: Fault, node: str | None, script: str | None) -> bool:
    """Whether ``--clear`` with these filters removes ``fault`` (no filter: every fault)."""
    return (node is None or fault.node.lower() == node.lower()) and (script is None or fault.script == script)


if __name__ == "__main__":
    sys.exit(main())
