"""How long one script call may take in all, per contract, however many WinRM OperationTimeout faults arrive.

Why: a real node answers an idle Receive with the w:TimedOut fault after each OperationTimeout for as long as
the script runs, and pypsrp polls again; without an overall deadline a stuck Configuration.exe or
``Start-Process -Wait`` would block ``pulumi up`` forever (review wsman_fidelity 3.1.1; recordings
test_psrp_long_running_cmdlet, test_winrs_operation_timeout). Past its deadline a call fails with ESSO-060,
which says the script may still be running on the node.

The figures: Configuration.exe creates or joins the SSO database and registers services (Microsoft's procedure
runs it interactively; 30 minutes covers a slow SQL Server); a role move or resource cycle waits up to 300 s per
cluster cmdlet in the scripts (``-Wait 300``), twice; other changes run one tool; a fact read only reads.
``PsrpRemote(deadlines={"Install-SsoSystem": 3600})`` overrides any of them; the stack sets them with
``transport.configurationTimeoutMinutes`` and ``transport.scriptDeadlines`` (``PsrpRemote.from_spec``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from provider import contracts
from provider.config.sections import TransportSection

FACT_READ_S = 120.0
CHANGE_S = 600.0
ROLE_MOVE_S = 900.0
CONFIGURATION_EXE_MARGIN_S = 300.0  # after Configuration.exe's own timeout: kill its tree, mask and keep its log
# the script's own timeout (TimeoutMinutes, the stack's transport.configurationTimeoutMinutes default), then the margin
CONFIGURATION_EXE_S: float = float(TransportSection().configuration_timeout_minutes) * 60.0 + CONFIGURATION_EXE_MARGIN_S

# Scripts that run Configuration.exe.
CONFIGURATION_EXE = frozenset({contracts.INSTALL_SSO_SYSTEM.name, contracts.JOIN_SSO_SYSTEM.name})
# Scripts that move the role, cycle a cluster resource or wait on an external tool with -Wait.
ROLE_MOVES = frozenset(
    {
        contracts.MOVE_SSO_ROLE.name,
        contracts.RESTART_SSO_CLUSTER_RESOURCE.name,
        contracts.REMOVE_CLUSTERED_SSO_SERVICE.name,
        contracts.SET_CLUSTERED_SSO_SERVICE.name,
        contracts.RESTART_ENTSSO_SERVICE.name,
        contracts.SET_ENTSSO_START_MODE.name,
        contracts.SET_SECRET_SERVER_NAME.name,
    }
)


def default_deadline(script: contracts.Script[Any, Any]) -> float:
    """The contract's overall deadline in seconds: generous for Configuration.exe and role moves, short for reads."""
    if script.name in CONFIGURATION_EXE:
        return CONFIGURATION_EXE_S
    if script.name in ROLE_MOVES:
        return ROLE_MOVE_S
    return CHANGE_S if script.changes else FACT_READ_S


def deadline_for(script: contracts.Script[Any, Any], overrides: Mapping[str, float]) -> float:
    """An override by script name wins over the contract's default."""
    return float(overrides.get(script.name, default_deadline(script)))


def check_overrides(overrides: Mapping[str, float]) -> dict[str, float]:
    """Refuse an unknown script name or a deadline that is not a positive number of seconds (ESSO-040)."""
    from provider.errors import EssoError

    checked: dict[str, float] = {}
    for name, seconds in overrides.items():
        if name not in contracts.SCRIPTS:
            raise EssoError(
                "ESSO-040",
                f"deadlines: {name!r} is not a contract script; give one of {', '.join(sorted(contracts.SCRIPTS))}.",
            )
        if not (isinstance(seconds, int | float) and 0 < seconds < float("inf")):
            raise EssoError("ESSO-040", f"deadlines.{name}: {seconds!r} is not a positive number of seconds.")
        checked[name] = float(seconds)
    return checked
