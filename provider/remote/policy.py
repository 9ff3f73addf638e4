"""Which hosts a Remote may reach and whether a disruptive script may run: ``CallPolicy``, and the node-name
rules it applies (``node_key``, ``host_problem``).

Why apart: the stack's policy changes with the rules (design rule 12, ESSO-019, ESSO-070), not with the
transport; ``Remote.run`` consults it before anything is sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from provider.errors import EssoError


def node_key(name: str) -> str | None:
    """How computer names compare (the config refuses a repeat ignoring case): upper case, ASCII only.

    Non-ASCII names have no key: a look-alike (a long s upper-cases to 'S', a dotless i to 'I') can
    never fold onto a configured name.
    """
    return name.upper() if name.isascii() else None


# Characters that can move a URL's host, port or path (``evil.example:8443/x#``), or a line in a log.
_NOT_IN_A_HOST = re.compile(r"[@:/\\#?%\s\x00-\x1f\x7f-\x9f]")


def host_problem(name: str) -> str | None:
    """Why ``name`` cannot be a host a Remote connects to, whatever the policy (issue 13, H1), or None."""
    if not name:
        return "is empty"
    if len(name) > 253:
        return "is longer than a DNS name can be"
    if _NOT_IN_A_HOST.search(name):
        return "contains a character that would change the address (@ : / \\ # ? % a space or a control character)"
    return None


def shown(name: str) -> str:
    """A host name as an error may print it: control characters escaped, length bounded."""
    text = name.encode("unicode_escape").decode("ascii")
    return repr(text if len(text) <= 80 else text[:80] + "...")


@dataclass(frozen=True)
class CallPolicy:
    """What the stack lets a Remote do: which hosts it may reach, whether disruptive scripts run.

    ``nodes=None`` reaches any host and ``allow_disruption=True`` runs anything: the policy of a Remote built
    by hand. Providers always run under ``CallPolicy.for_stack``.
    """

    allow_disruption: bool = True
    nodes: tuple[str, ...] | None = None

    @classmethod
    def for_stack(cls, *, nodes: Iterable[str], allow_disruption: bool) -> CallPolicy:
        return cls(allow_disruption=allow_disruption, nodes=tuple(dict.fromkeys(nodes)))

    def target(self, node: str, *, step: str) -> str:
        """The configured spelling of ``node``; ESSO-070 when it names no configured node (issue 13, H1), or
        could not be a host at all (refused even by a Remote built by hand)."""
        why = host_problem(node)
        if why is None and self.nodes is None:
            return node
        if why is None:
            key = node_key(node)
            for configured in self.nodes or ():
                if key is not None and key == node_key(configured):
                    return configured
        reasons = [why] if why else []
        if self.nodes is not None:
            reasons.append(f"is not one of cluster.nodes ({', '.join(self.nodes)})")
        raise EssoError(
            "ESSO-070",
            f"{step} was to run on {shown(node)}, which {' and '.join(reasons)}; nothing was sent to it.",
            step=step,
        )

    def require_disruption(self, what: str, *, node: str | None, step: str) -> None:
        """ESSO-019 unless the stack sets allowDisruption: the one place that decides it."""
        if not self.allow_disruption:
            raise EssoError(
                "ESSO-019",
                f"{what}; the stack does not set allowDisruption.",
                node=node,
                step=step,
            )
