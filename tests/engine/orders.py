"""Delete the SSO system's dependents in a given order, twice each, then recreate them: the world must equal
a fresh build.

Why: when the SSO system is replaced, the engine deletes every resource that names it in ``replace_with``
first, in the order it ranges over a Go map (``findDependentCascadeReplacements``,
``pkg/resource/deploy/step_generator.go``): unspecified and different from run to run. Each ``delete()``
must therefore be correct whichever of the others ran before it, and safe to repeat (the engine keeps a
deleted dependent as ``PendingReplacement`` and deletes it again if the run fails before recreating it).

The world is built once per node set; each order starts from a copy of that world's file, so an order
costs its deletes and recreates only.
"""

from __future__ import annotations

import copy
import itertools
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provider.remote.simulator import Simulator, demo_world
from provider.spec import ClusterSpec
from tests.support.procedure import Stack, component_resources, demo_spec
from tests.support.replacement import projection

SAMPLE = 60  # orders tried per node set in the normal test run (issue 12: at least 60)


def order_seed() -> int:
    """``ESSO_ORDER_SEED`` when set (to replay a failure), else a fresh seed that a failure prints."""
    text = os.environ.get("ESSO_ORDER_SEED")
    return int(text) if text else random.SystemRandom().randrange(2**32)


def all_orders_wanted() -> bool:
    """``make orders`` sets ``ESSO_ORDERS=all``: every permutation instead of a sample."""
    return os.environ.get("ESSO_ORDERS", "") == "all"


def sample_orders(names: Sequence[str], count: int, seed: int) -> Iterator[tuple[str, ...]]:
    """The reverse dependency order first (what the harness used to assume), then distinct random ones."""
    rng = random.Random(seed)
    seen = {tuple(reversed(names))}
    yield tuple(reversed(names))
    limit = min(count, _factorial(len(names)))
    while len(seen) < limit:
        order = list(names)
        rng.shuffle(order)
        if tuple(order) not in seen:
            seen.add(tuple(order))
            yield tuple(order)


def every_order(names: Sequence[str]) -> Iterator[tuple[str, ...]]:
    return itertools.permutations(names)


def _factorial(n: int) -> int:
    result = 1
    for k in range(2, n + 1):
        result *= k
    return result


@dataclass
class Built:
    """One fresh build: the stack (the driver's state, tests/support/procedure.py), the world file's bytes and
    its projection."""

    stack: Stack
    spec: ClusterSpec
    world: bytes
    expected: dict[str, Any]
    nodes: tuple[str, ...]
    state: Path  # the world file

    @classmethod
    def build(cls, tmp_path: Path, nodes: tuple[str, ...]) -> Built:
        spec = demo_spec(tmp_path, nodes)
        sim = Simulator(tmp_path / "world.json")
        sim.seed(demo_world(nodes=list(nodes)))
        stack = Stack()
        stack.up(spec)
        return cls(stack, spec, sim.path.read_bytes(), projection(sim.load(), nodes), nodes, sim.path)

    def dependents(self) -> list[str]:
        """Every resource after the SSO system: each names it in ``replace_with`` (the component's rule)."""
        names = [name for name, _, _ in component_resources(self.spec)]
        return names[names.index("sso-system") + 1 :]

    def reset(self) -> None:
        """Back to the built world."""
        self.state.write_bytes(self.world)

    def delete(self, name: str) -> None:
        """``delete()`` of one resource with its outputs from the build, as the engine calls it; the resource
        stays in the built state (the engine keeps it as ``PendingReplacement`` and may delete it again)."""
        self.stack.delete(self.spec, name, pending=True)

    def project(self) -> dict[str, Any]:
        return projection(Simulator(self.state).load(), self.nodes)

    def replay(self, order: Sequence[str]) -> dict[str, Any]:
        """From the built world: delete in ``order`` (each twice), recreate in the component's order; project."""
        self.reset()
        for name in order:
            for _ in range(2):  # the second call is the engine's repeat of a PendingReplacement delete
                self.delete(name)
        dependents = self.dependents()
        rebuilt = Stack()  # the state without the deleted dependents: `up --target` creates them in order
        rebuilt.state = {name: copy.deepcopy(r) for name, r in self.stack.state.items() if name not in dependents}
        rebuilt.up(self.spec, targets=dependents)
        return self.project()


def failures(built: Built, orders: Iterator[tuple[str, ...]]) -> tuple[int, list[str]]:
    """How many orders were tried, and a line per order whose replay failed or left another world."""
    tried, failed = 0, []
    for order in orders:
        tried += 1
        try:
            world = built.replay(order)
        except Exception as exc:
            failed.append(f"{' > '.join(order)}: {type(exc).__name__}: {str(exc)[:300]}")
            continue
        if world != built.expected:
            keys = sorted(k for k in world if world[k] != built.expected[k])
            failed.append(f"{' > '.join(order)}: the world differs from a fresh build in {keys}")
    return tried, failed
