"""What ``esso plan`` reports: its steps, blocked steps, preconditions and the stack's state resources.

Why apart: the renderer, the stack reader and the tests read these models; they change with the report,
not with how the plan is computed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


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
