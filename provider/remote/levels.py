"""Sequential round-trip levels of an operation: the critical path of a first ``up`` counted, never timed (issue 15).

Why its own module: ``Remote`` (provider/remote/base.py) advances these clocks on every call and in its parallel
helpers, and the facts cache keeps the level each answer arrived at; both import this, and it imports nothing of
the project.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

QUEUED = "(queued behind ESSO_CONCURRENCY)"  # the levels a fan-out waited for a free worker, in ``by_script``


def bounded_levels(durations: Sequence[int], width: int) -> int:
    """Levels that branches of the given lengths take on ``width`` workers, dealt out in order (``fan_out``'s
    ThreadPoolExecutor): ESSO_CONCURRENCY 4 reads 8 nodes in two levels, not one."""
    if width <= 0:
        return sum(durations)
    slots = [0] * width
    for index, length in enumerate(durations):
        slots[index % width] += length
    return max(slots, default=0)


class Levels:
    """Sequential round-trip levels of one operation: a logical clock, so the critical path is counted, never timed.

    Why: the wall time of a first ``up`` is its number of round trips one after another times the latency
    (issue 15); counting those levels is deterministic where a timing is not. Each provider call's Remote gets a
    ``Track`` (its cursor on this clock); a call one level after its cursor; calls in parallel branches
    (``Remote.fan_out``, ``Remote.start``) start at the level where they were forked, and the caller goes on
    from the latest branch end it waits for. ``done`` is the longest chain so far; the levels it grew by are
    told per resource and per script (which calls sit on the critical path).
    """

    def __init__(self) -> None:
        self.done = 0
        self.by_resource: Counter[str] = Counter()
        self.by_script: Counter[str] = Counter()
        self._lock = threading.Lock()

    def track(self, label: str) -> Track:
        """A new provider call's cursor: after everything this operation ran so far (the engine runs this
        stack's resources one after another, each after the one it depends on)."""
        with self._lock:
            return Track(self, label, self.done)

    def reached(self, level: int, label: str, script: str) -> None:
        with self._lock:
            if level > self.done:
                self.by_resource[label] += level - self.done
                self.by_script[script] += level - self.done
                self.done = level


class Track:
    """One provider call's cursor on its operation's ``Levels``; a parallel branch keeps its own per thread."""

    def __init__(self, levels: Levels, label: str, start: int) -> None:
        self.levels = levels
        self.label = label
        self._main = start
        self._local = threading.local()

    def cursor(self) -> int:
        """The level the calling thread's last round trip (or its fork) ended at."""
        found: int | None = getattr(self._local, "cursor", None)
        return self._main if found is None else found

    def advance(self, level: int) -> None:
        """The caller waited for an answer that was ready at ``level``: it goes on from there at the earliest."""
        if getattr(self._local, "cursor", None) is None:
            self._main = max(self._main, level)
        else:
            self._local.cursor = max(self._local.cursor, level)

    def joined(self, fork: int, ends: Sequence[int], width: int) -> None:
        """A fan-out forked at ``fork`` has ended: its branches ended at ``ends`` (in the order they were dealt
        out), run at most ``width`` at a time. The caller goes on from the last one; the levels they waited for a
        free worker (``ESSO_CONCURRENCY``) count on the critical path as such."""
        ran = max(ends, default=fork)
        bound = fork + bounded_levels([end - fork for end in ends], width)
        self.advance(ran)
        if bound > ran:
            self.advance(bound)
            self.levels.reached(bound, self.label, QUEUED)

    def tick(self, node: str, script: str) -> None:
        """One round trip to a node, one level after the cursor."""
        self.advance(self.cursor() + 1)
        self.levels.reached(self.cursor(), self.label, script)

    def branch(self, fork: int, call: Callable[[], T], ends: list[int]) -> T:
        """Run ``call`` on this thread as a branch forked at level ``fork``; its end level goes to ``ends``."""
        before: int | None = getattr(self._local, "cursor", None)
        self._local.cursor = fork
        try:
            return call()
        finally:
            ends.append(self._local.cursor)
            self._local.cursor = before
