"""``esso``: the operator's one command (issue 18, point 1).

    esso check [--allow-missing-secrets] FILE...      validate stack files offline (python -m provider.config check)
    esso plan --stack NAME [--json | --markdown FILE]  what the next `up` does on each node, read-only
    esso log --stack NAME [--json] [--all]             the last run's remote calls as a timeline
    esso init | show | fault ...                       the simulator (python -m provider.remote.simulator ...)

Secrets for ``plan`` never come from the command line: the Pulumi CLI's decrypted stack config, a file from
``pulumi config --show-secrets --json`` (``--config-json``), or the environment (``provider/operate/stack.py``).
The old module entry points keep working; this only dispatches to them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from provider.errors import EssoError

USAGE = __doc__.split("\n\n")[1] if __doc__ else ""
SIMULATOR = ("init", "show", "fault")


def _plan(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="esso plan", description="What the next `pulumi up` does, read-only.")
    parser.add_argument("--stack", required=True, help="the stack's name (stacks/Pulumi.<stack>.yaml)")
    parser.add_argument("--project-dir", default=".", help="the project directory (default: the current one)")
    parser.add_argument("--config-json", type=Path, help="output of `pulumi config --show-secrets --json`")
    parser.add_argument("--state-json", type=Path, help="output of `pulumi stack export --show-secrets`")
    parser.add_argument("--no-pulumi-cli", action="store_true", help="do not ask the Pulumi CLI for config/state")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help='print {"steps", "blocked", "preconditions"} as JSON')
    out.add_argument("--markdown", type=Path, metavar="FILE", help="write a runbook for a change board")
    args = parser.parse_args(argv)

    from provider.operate.plan import build_plan
    from provider.operate.render import markdown, text
    from provider.operate.stack import load_config, load_state
    from provider.remote.factory import connect
    from provider.remote.recorder import FileRecorder, new_run, stack_log

    project_dir = Path(args.project_dir).resolve()
    try:
        spec, config_from = load_config(
            args.stack, project_dir=project_dir, config_json=args.config_json, use_cli=not args.no_pulumi_cli
        )
        if args.state_json is not None or not args.no_pulumi_cli:
            state, state_from = load_state(args.stack, project_dir=project_dir, state_json=args.state_json)
        else:
            state, state_from = {}, "none"
        cwd = Path.cwd()
        os.chdir(project_dir)  # as the provider host runs: relative paths mean the project's
        try:
            remote = connect(spec, project_dir=project_dir)
            remote.recorder = FileRecorder(stack_log(project_dir, args.stack), run=new_run(), operation="plan")
            try:
                plan = build_plan(spec, stack=args.stack, state=state, remote=remote)
            finally:
                remote.close()
        finally:
            os.chdir(cwd)
    except (EssoError, ValueError, OSError) as exc:
        print(f"esso plan: {exc}", file=sys.stderr)
        return 2
    if state_from == "none":
        plan.unknowns.insert(
            0, "the stack's state was not read (no Pulumi CLI, no --state-json): planned as a first up"
        )
    if args.json:
        print(json.dumps(plan.public(), indent=2))
    elif args.markdown is not None:
        args.markdown.write_text(markdown(plan), encoding="utf-8")
        print(f"wrote {args.markdown} ({len(plan.steps)} steps, config from {config_from}, state from {state_from})")
    else:
        print(text(plan))
    return 1 if plan.blocked else 0


def _log(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="esso log", description="The remote calls of a stack's last run.")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--project-dir", default=".")
    parser.add_argument("--all", action="store_true", help="every run, not only the last")
    parser.add_argument("--json", action="store_true", help="the records as JSON lines")
    args = parser.parse_args(argv)

    from provider.operate.render import timeline
    from provider.remote.recorder import last_run, read_log, stack_log

    try:
        path = stack_log(Path(args.project_dir).resolve(), args.stack)
    except ValueError as exc:
        print(f"esso log: --stack: {exc}", file=sys.stderr)
        return 2
    records = read_log(path)
    if not records:
        print(f"esso log: no run recorded for stack {args.stack} ({path})", file=sys.stderr)
        return 1
    chosen = records if args.all else last_run(records)
    if args.json:
        print("\n".join(r.model_dump_json() for r in chosen))
    elif args.all:
        runs = dict.fromkeys(r.run for r in chosen)
        print("\n\n".join(timeline([r for r in chosen if r.run == run]) for run in runs))
    else:
        print(timeline(chosen))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(f"usage: esso COMMAND ...\n\n{USAGE}")
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "check":
        from provider.config.cli import main as config_main

        return config_main(["check", *rest], prog="esso")
    if command in SIMULATOR:
        from provider.remote.sim_cli import main as sim_main

        return sim_main([command, *rest])
    if command == "plan":
        return _plan(rest)
    if command == "log":
        return _log(rest)
    print(f"esso: unknown command {command!r}\n\nusage: esso COMMAND ...\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
