"""Build the Remote a stack targets: the simulator (demo, tests) or pypsrp (real nodes)."""

from __future__ import annotations

from pathlib import Path

from provider.remote.base import Remote
from provider.spec import ClusterSpec


def connect(spec: ClusterSpec, *, project_dir: Path) -> Remote:
    """A fresh Remote for one provider call; pypsrp pools outlive it in their module registry."""
    second_hop = spec.transport.second_hop != "none"
    if spec.target == "simulator":
        from provider.remote.simulator import SimulatorRemote

        assert spec.simulator_state is not None  # the spec requires it for the simulator target
        state = Path(spec.simulator_state)
        if not state.is_absolute():
            state = project_dir / state
        return SimulatorRemote(
            state,
            second_hop=second_hop,
            identity=spec.sso.configuring_account,
            retries=spec.transport.retries,
            backoff=0.0,
            spec=spec,
        )
    from provider.remote.psrp import PsrpRemote

    return PsrpRemote.from_spec(spec)
