"""Shared pieces of the engine scenarios: sentinel secrets, the demo stack, the simulated world's projections."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from provider.remote.simulator import Simulator
from provider.remote.world import Node, World
from tests.support.engine import Engine, StackConfig
from tests.support.procedure import seed_order

SECRETS = {
    "serviceAccountPassword": "Svc-Engine-Sentinel-6b2f!",
    "backupPassword": "Bak-Engine-Sentinel-0c9d#",
}
# the component's order for the demo stack's nodes, derived from the component run under mocks (the seed's
# procedure as a rule is checked in tests/program/test_program.py)
SEED_ORDER = seed_order(Path("/learning"))


def demo_stack(tmp_path: Path, **overrides: Any) -> StackConfig:
    """The demo stack with sentinel passwords, its world and escrow under ``tmp_path``."""
    return StackConfig.demo(tmp_path, SECRETS, **overrides)


def new_engine(tmp_path: Path, **kwargs: Any) -> Engine:
    return Engine(tmp_path / "stack" / "state.json", **kwargs)


def sim(config: StackConfig) -> Simulator:
    return Simulator(config.simulator_state)


def remote_calls(config: StackConfig) -> int:
    """Every remote script call the simulator has counted so far."""
    path = config.simulator_state
    return sum(Simulator(path).load().calls.values()) if path.exists() else 0


def add_node(world: World, name: str) -> None:
    """A new cluster member with ESSO installed, unconfigured: what ``demo_world`` builds for each node."""
    world.nodes[name] = Node(name=name, dtc_cid=str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.local-dtc")))
    world.cluster.nodes[name] = "Up"
    world.cluster.cycled_on[name] = False
    for resource in world.cluster.resources.values():
        if resource.type != "Generic Service" and name not in resource.possible_owners:
            resource.possible_owners.append(name)


def entsso_resource(world: World) -> Any:
    return next(r for r in world.cluster.resources.values() if r.type == "Generic Service")
