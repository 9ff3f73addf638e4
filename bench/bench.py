"""``make bench``: remote calls, role moves and wall time of the stack's life at 2, 4 and 8 nodes (issue 15).

Why a script and not a test: times vary with the machine, counts do not. The tests (tests/perf) assert the
counts; this prints them with the times, every ratio taken within this one run.

Each size runs the demo stack (simulator target) through the imitation engine (tests/support/engine.py), which
drives the SDK's real dynamic provider host over gRPC in process:

1. latency 0: a first ``up``, a ``preview``, a no-change ``up`` and a ``refresh``; calls counted by the simulator
   (``World.calls``), CPU time of the preview; the first ``up``'s sequential round-trip levels, counted by the
   operation's logical clock (``provider.remote.levels.Levels``: deterministic, unlike a time), per resource and
   per script, and the same at ESSO_CONCURRENCY = N;
2. a fresh world at each uniform latency (``--latency-ms``, default 200 ms per call as the issue states it, then
   50 ms): the first ``up``'s wall time over the procedure's critical path, M(N) = 5N + 10 sequential round trips
   (the performance review §3);
3. a fresh world under the Windows-like latency profile (``provider.remote.simulator.WINDOWS_LIKE``, scaled by
   ``--scale``): the first ``up``'s wall time, where joins, role moves and cycles weigh what they weigh.

Run: ``venv/bin/python -m bench.bench`` (``--sizes 2,4,8``, ``--concurrency 4``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from provider.remote import simulator  # noqa: E402
from provider.remote.cache import Operation  # noqa: E402
from provider.remote.simulator import Simulator, demo_world  # noqa: E402
from provider.resources.base import CONCURRENCY_ENV  # noqa: E402
from tests.engine.world import SECRETS  # noqa: E402
from tests.support.engine import Engine, StackConfig, learn  # noqa: E402

MOVE = "Move-SsoRole"


def nodes_of(n: int) -> list[str]:
    return [f"SSO{i:02d}" for i in range(1, n + 1)]


def critical_path(n: int) -> int:
    """The procedure's strictly sequential round trips for a first ``up`` (perf review §3): 5N + 10."""
    return 5 * n + 10


@dataclass
class Size:
    """What one cluster size measured."""

    n: int
    first_up: Counter[str] = field(default_factory=Counter)  # "NODE/Script" -> calls
    preview: int = 0
    no_change_up: int = 0
    refresh: int = 0
    preview_cpu: float = 0.0
    preview_derivations: int = 0
    levels: int = 0  # sequential round-trip levels of the first up (the operation's logical clock)
    levels_by_resource: Counter[str] = field(default_factory=Counter)
    levels_by_script: Counter[str] = field(default_factory=Counter)
    levels_unbounded: int = 0  # the same first up's levels with ESSO_CONCURRENCY = N (no fan-out waits for a worker)
    wall_uniform: dict[int, float] = field(default_factory=dict)  # latency ms -> wall seconds
    wall_profile: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.first_up.values())

    @property
    def moves(self) -> int:
        return sum(v for k, v in self.first_up.items() if k.endswith("/" + MOVE))

    def per(self, index: int) -> Counter[str]:
        found: Counter[str] = Counter()
        for key, count in self.first_up.items():
            found[key.split("/", 1)[index]] += count
        return found


class Stack:
    """One stack and its simulated world in a scratch folder."""

    def __init__(self, folder: Path, n: int, latency_ms: int = 0) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        nodes = nodes_of(n)
        self.config = StackConfig.demo(folder, SECRETS, cluster={"nodes": nodes})
        self.sim = Simulator(self.config.simulator_state)
        world = demo_world(nodes=nodes)
        world.latency_ms = latency_ms
        self.sim.seed(world)
        self.engine = Engine(folder / "stack" / "state.json")

    def calls(self) -> Counter[str]:
        return Counter(self.sim.load().calls)

    def counted(self, run: Callable[[], object]) -> Counter[str]:
        before = self.calls()
        run()
        after = self.calls()
        after.subtract(before)
        return +after

    def up(self) -> Counter[str]:
        return self.counted(lambda: self.engine.up(learn(self.config)))


def levels_at_concurrency(folder: Path, n: int) -> int:
    """A first up's sequential levels when every per-node fan-out runs all nodes at once (ESSO_CONCURRENCY = N)."""
    configured = os.environ.get(CONCURRENCY_ENV)
    os.environ[CONCURRENCY_ENV] = str(n)
    try:
        Stack(folder, n).up()
    finally:
        if configured is None:
            os.environ.pop(CONCURRENCY_ENV, None)
        else:
            os.environ[CONCURRENCY_ENV] = configured
    return Operation._current.levels.done if Operation._current is not None else -1


def measure(n: int, scratch: Path, latencies: Sequence[int], scale: float) -> Size:
    size = Size(n)
    stack = Stack(scratch / f"n{n}-counts", n)
    size.first_up = stack.up()
    if Operation._current is not None:  # the first up's operation: its critical path in round trips
        levels = Operation._current.levels
        size.levels, size.levels_by_resource, size.levels_by_script = levels.done, levels.by_resource, levels.by_script
    size.levels_unbounded = levels_at_concurrency(scratch / f"n{n}-wide", n)
    program = learn(stack.config)
    cpu = time.process_time()
    size.preview = sum(stack.counted(lambda: stack.engine.preview(program)).values())
    size.preview_cpu = time.process_time() - cpu
    operation = Operation._current  # the preview host's operation: its fingerprint key derivations
    size.preview_derivations = operation.keys.derivations if operation is not None else -1
    size.no_change_up = sum(stack.up().values())
    size.refresh = sum(stack.counted(lambda: stack.engine.refresh(stack.config)).values())

    for latency_ms in latencies:
        timed = Stack(scratch / f"n{n}-uniform-{latency_ms}", n, latency_ms=latency_ms)
        started = time.monotonic()
        timed.up()
        size.wall_uniform[latency_ms] = time.monotonic() - started

    simulator.latency_profile = replace(simulator.WINDOWS_LIKE, scale=scale)
    try:
        profiled = Stack(scratch / f"n{n}-profile", n)
        started = time.monotonic()
        profiled.up()
        size.wall_profile = time.monotonic() - started
    finally:
        simulator.latency_profile = None
    return size


def table(rows: Sequence[Sequence[object]]) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append(" | ".join(cells))
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def report(sizes: list[Size], latencies: Sequence[int], scale: float, concurrency: int) -> str:
    out: list[str] = [f"esso-cluster bench: simulator target, in-process provider host, concurrency {concurrency}", ""]
    rows: list[list[object]] = [["", *[f"N={s.n}" for s in sizes], "target at N=8"]]
    rows.append(["first up: remote calls", *[s.total for s in sizes], "<= 160, linear"])
    rows.append(["first up: calls per node (avg)", *[f"{s.total / s.n:.1f}" for s in sizes], ""])
    rows.append(["first up: role moves", *[s.moves for s in sizes], "<= N+1 = 9"])
    rows.append(["preview (converged): calls", *[s.preview for s in sizes], "0"])
    rows.append(["no-change up: calls", *[s.no_change_up for s in sizes], "0"])
    rows.append(["refresh: calls", *[s.refresh for s in sizes], "<= N+3 = 11"])
    rows.append(["preview: CPU seconds", *[f"{s.preview_cpu:.2f}" for s in sizes], "half of 0.4-0.8"])
    rows.append(["preview: PBKDF2 derivations (was 2+2N)", *[s.preview_derivations for s in sizes], "2"])
    rows.append(["first up: sequential round-trip levels", *[s.levels for s in sizes], "<= ~75 (1.5 M)"])
    rows.append(["  the same at ESSO_CONCURRENCY = N", *[s.levels_unbounded for s in sizes], ""])
    rows.append(["critical path M = 5N+10 [calls]", *[critical_path(s.n) for s in sizes], ""])
    rows.append(["levels / M", *[f"{s.levels / critical_path(s.n):.2f}" for s in sizes], ""])
    for latency_ms in latencies:
        rows.append(
            [f"first up wall, {latency_ms} ms/call [s]", *[f"{s.wall_uniform[latency_ms]:.2f}" for s in sizes], ""]
        )
        rows.append(
            [
                f"wall / (M x {latency_ms} ms)",
                *[
                    f"{s.wall_uniform[latency_ms] / (critical_path(s.n) * max(latency_ms, 1) / 1000):.2f}"
                    for s in sizes
                ],
                "<= 1.5" if latency_ms == latencies[0] else "",
            ]
        )
    rows.append([f"first up wall, Windows-like x{scale:g} [s]", *[f"{s.wall_profile:.2f}" for s in sizes], ""])
    out.append(table(rows))
    first, last = sizes[0], sizes[-1]
    out.append("")
    walls = ", ".join(f"wall at {ms} ms {last.wall_uniform[ms] / first.wall_uniform[ms]:.2f}x" for ms in latencies)
    out.append(
        f"N={last.n} / N={first.n}: calls {last.total / first.total:.2f}x, role moves "
        f"{last.moves / max(first.moves, 1):.2f}x, levels {last.levels / max(first.levels, 1):.2f}x, "
        f"{walls}, wall Windows-like {last.wall_profile / first.wall_profile:.2f}x (target <= 2.5x)"
    )
    if len(sizes) >= 3:
        a, b, c = (s.total for s in sizes[-3:])
        out.append(f"calls grow by {b - a} then {c - b} (sizes {sizes[-3].n}, {sizes[-2].n}, {sizes[-1].n})")
    for s in sizes:
        out.append("")
        out.append(
            f"N={s.n}, first up, calls per node:   " + ", ".join(f"{k} {v}" for k, v in sorted(s.per(0).items()))
        )
        out.append(f"N={s.n}, first up, calls per script: " + ", ".join(f"{k} {v}" for k, v in s.per(1).most_common()))
        out.append(
            f"N={s.n}, first up, levels per resource: " + ", ".join(f"{k} {v}" for k, v in s.levels_by_resource.items())
        )
        out.append(
            f"N={s.n}, first up, levels per script (a tie goes to the call that got there first): "
            + ", ".join(f"{k} {v}" for k, v in s.levels_by_script.most_common())
        )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="2,4,8", help="cluster sizes, comma-separated")
    parser.add_argument(
        "--latency-ms",
        default="200,50",
        help="uniform latencies per call of the timed runs, comma-separated (the first is the issue's: 200 ms)",
    )
    parser.add_argument("--scale", type=float, default=0.01, help="factor on the Windows-like latency profile")
    parser.add_argument("--concurrency", type=int, default=4, help="ESSO_CONCURRENCY for the provider host")
    args = parser.parse_args(argv)
    os.environ[CONCURRENCY_ENV] = str(args.concurrency)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    latencies = [int(ms) for ms in args.latency_ms.split(",") if ms.strip()]
    with tempfile.TemporaryDirectory(prefix="esso-bench-") as scratch:
        measured = [measure(n, Path(scratch), latencies, args.scale) for n in sizes]
    print(report(measured, latencies, args.scale, args.concurrency))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
