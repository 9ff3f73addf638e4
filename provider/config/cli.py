"""The command line: ``python -m provider.config`` (or ``python -m provider.spec``).

``check [--allow-missing-secrets] FILE...`` validates stack files offline (secure values count as
present; the flag accepts absent passwords for stacks such as demo whose passwords are set with
``pulumi config set --secret`` at run time). ``project-file [--write]`` compares (or rewrites) Pulumi.yaml's
config declarations with the model's; ``reference`` prints the configuration table for the README.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from provider.config.loading import check_stack_file
from provider.config.problems import printable
from provider.config.project_file import PROJECT_FILE, reference_markdown, with_declarations


def _check(files: Sequence[str], allow_missing_secrets: bool, out: Callable[[str], None]) -> int:
    status = 0
    for file in files:
        problems = check_stack_file(file, allow_missing_secrets=allow_missing_secrets)
        if problems:
            status = 1
            for problem in problems:
                out(str(problem))
            print(
                f"ESSO-040 {printable(file)}: {len(problems)} problem(s); fix each key as the message says",
                file=sys.stderr,
            )
        else:
            out(f"ok: {printable(file)}")
    return status


def _project_file(write: bool, out: Callable[[str], None]) -> int:
    current = PROJECT_FILE.read_text("utf-8")
    wanted = with_declarations(current)
    if current == wanted:
        out(f"ok: {PROJECT_FILE.name} declares the model's config keys")
        return 0
    if write:
        PROJECT_FILE.write_text(wanted, "utf-8")
        out(f"rewrote the config declarations of {PROJECT_FILE}")
        return 0
    out(f"{PROJECT_FILE.name}: config declarations differ from the model; run with --write")
    return 1


def main(
    argv: Sequence[str] | None = None, *, out: Callable[[str], None] = print, prog: str = "python -m provider.config"
) -> int:
    """Run one command; 0 when every file is valid (``check``) or Pulumi.yaml matches (``project-file``)."""
    parser = argparse.ArgumentParser(prog=prog, description="Validate esso-cluster stack files.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate stack files offline (no Pulumi CLI, no decryption)")
    check.add_argument("files", nargs="+", metavar="FILE", help="stacks/Pulumi.<stack>.yaml")
    check.add_argument(
        "--allow-missing-secrets",
        action="store_true",
        help="accept absent password keys (they are set with `pulumi config set --secret` at run time)",
    )
    project = commands.add_parser("project-file", help="compare Pulumi.yaml's config declarations with the model")
    project.add_argument("--write", action="store_true", help="rewrite them from the model's field descriptions")
    commands.add_parser("reference", help="print the configuration reference table (Markdown)")
    args = parser.parse_args(argv)
    if args.command == "check":
        return _check(args.files, args.allow_missing_secrets, out)
    if args.command == "project-file":
        return _project_file(args.write, out)
    out(reference_markdown())
    return 0
