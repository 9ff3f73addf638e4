"""The machinery every contract shares: parameter and result models, and the ``Script`` record.

Why apart: the wire conventions (PascalCase parameters, camelCase results, change reports) change for
reasons of their own, not when one script's fields do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel, to_pascal


class Params(BaseModel):
    """Script parameters: PascalCase on the wire, as PowerShell expects."""

    model_config = ConfigDict(
        alias_generator=to_pascal, populate_by_name=True, extra="forbid", frozen=True, hide_input_in_errors=True
    )

    def wire(self) -> dict[str, Any]:
        """Parameters by their PowerShell names; ``SecretStr`` values stay wrapped for the transport."""
        return {to_pascal(name): getattr(self, name) for name in type(self).model_fields}


class Result(BaseModel):
    """Script output: camelCase keys of the one hashtable a script emits."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


S = TypeVar("S", bound=BaseModel)


class ChangeResult(Result, Generic[S]):
    """What every change script returns: whether it acted, and the state before and after."""

    changed: bool
    before: S | None = None
    after: S


class NoParams(Params):
    pass


P = TypeVar("P", bound=Params)
R = TypeVar("R", bound=Result)


@dataclass(frozen=True)
class Script(Generic[P, R]):
    """One remote operation. ``name`` is the .ps1 file stem under provider/scripts/."""

    name: str
    params: type[P]
    result: type[R]
    changes: bool
    second_hop: bool = False  # reaches SQL Server or a domain controller (design rule 12)
    disruptive: bool = False  # moves the role or cycles ENTSSO: needs allowDisruption
    scope: Literal["node", "cluster"] = "node"  # cluster scripts act on the cluster from any Up node
    # The ESSO ids the script throws itself (beyond ESSO-035, any error without an id); the simulator's handler
    # refuses with exactly these too (tests/providers/test_simulator_raises.py).
    raises: tuple[str, ...] = ()
    # The ids the transport derives from a tool's own error text (errors.KNOWN_WINDOWS_ERRORS: Configuration.exe,
    # the service controller), which the script passes on without an id and the simulator models as such.
    classified: tuple[str, ...] = ()
    # The points between the steps of a multi-step change script at which the simulator can interrupt it (fault
    # kind ``interrupt``, issue 14 point 3): what ran before the point stays done, nothing after it runs.
    phases: tuple[str, ...] = ()
