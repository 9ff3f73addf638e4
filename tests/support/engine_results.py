"""What an operation of the harness reports: its steps, the provider calls, and the errors.

Why apart: tests read these (``Deployment.plan``, ``EngineError.summary``) without the machinery behind them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tests.support.engine_host import GrpcCall

Operation = Literal["update", "preview", "refresh", "destroy"]


@dataclass(frozen=True)
class Step:
    """One engine step: ``same``, ``create``, ``update``, ``replace``, ``create-replacement``,
    ``delete-replaced``, ``delete`` or ``refresh`` (``deploy.StepOp``), with the keys that caused it."""

    op: str
    name: str
    urn: str
    keys: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class DiffOutcome:
    """A provider's Diff after the engine's fallback (``diffResource``)."""

    changes: bool
    replaces: tuple[str, ...]
    delete_before_replace: bool
    changed_keys: tuple[str, ...]
    fallback: bool  # the provider answered DIFF_UNKNOWN and the engine diffed the inputs itself


@dataclass
class Deployment:
    """What one operation did (or, for a preview, would do)."""

    operation: Operation
    steps: list[Step] = field(default_factory=list)
    calls: list[GrpcCall] = field(default_factory=list)
    refreshed: dict[str, list[str]] = field(default_factory=dict)  # name -> output keys that changed
    gone: list[str] = field(default_factory=list)  # refresh: resources whose Read returned no id
    host_stderr: str = ""
    host_mode: str = ""
    accept_secrets: bool | None = None
    errors: list[str] = field(default_factory=list)
    # refresh: per resource, the keys of the inverted Diff the engine runs after each Read (``RefreshStep.Apply``)
    refresh_diffs: dict[str, list[str]] = field(default_factory=dict)
    seed: int | None = None  # the seed of the cascade's order (Go map iteration), printed with every failure

    @property
    def plan(self) -> dict[str, str]:
        """Per resource, in order of first appearance: create, same, update, replace, delete or refresh."""
        summary: dict[str, str] = {}
        for step in self.steps:
            op = step.op
            if op in ("create-replacement", "delete-replaced", "replace"):
                op = "replace"
            if summary.get(step.name) == "replace":
                continue
            summary[step.name] = op
        return summary

    def names(self, op: str) -> list[str]:
        """Resources with this summarized op, in order."""
        return [name for name, summary in self.plan.items() if summary == op]

    def step_ops(self) -> list[tuple[str, str]]:
        return [(s.op, s.name) for s in self.steps]

    def provider_calls(self, *methods: str) -> list[tuple[str, str]]:
        return [(c.method, c.resource) for c in self.calls if c.method in methods]


class EngineError(Exception):
    """A failed operation: which resource, which RPC, and the provider's error (the host's traceback)."""

    def __init__(self, message: str, *, resource: str = "", method: str = "", details: str = "") -> None:
        self.resource = resource
        self.method = method
        self.details = details
        self.deployment: Deployment | None = None
        super().__init__(message)

    @property
    def summary(self) -> str:
        """The last line of the provider's traceback: the exception and its message."""
        lines = [line for line in self.details.strip().splitlines() if line.strip()]
        return lines[-1] if lines else str(self)
