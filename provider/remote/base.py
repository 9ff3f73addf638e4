"""The one interface through which providers reach Windows: run a named script, move a small file.

Why an interface: the same providers run against the simulator (tests, the demo stack) and against
real nodes over pypsrp. Both validate what a script returns with that script's result model, and
``Remote.run`` enforces what a contract declares before anything is sent:

* a script that needs a second hop the transport does not declare is refused (design rule 12, ESSO-015);
* a script marked ``disruptive`` (it moves the role or cycles ENTSSO) is refused unless the stack sets
  ``allowDisruption`` (ESSO-019) -- the one home of that rule;
* a host that is not one of the configured nodes never receives a script or the WinRM credentials
  (ESSO-070): a node name that comes back from a node (cluster facts, the role's owner) is used only when it
  names a configured node, and then in the configured spelling.

The last two are a ``CallPolicy`` the provider sets from the stack (``EssoProvider.remote``). A Remote built
by hand (tests, the simulator's command line) acts as told: its default policy restricts nothing.

Where: the policy and the node-name rules live in ``policy``, the bounds on a node's answer and their checks
in ``results``; both are re-exported here.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, TypeVar

from provider import contracts
from provider.errors import EssoError
from provider.remote.levels import Track
from provider.remote.policy import CallPolicy as CallPolicy
from provider.remote.policy import host_problem as host_problem
from provider.remote.policy import node_key as node_key
from provider.remote.policy import shown as shown
from provider.remote.recorder import Recorder
from provider.remote.results import _ENVELOPE_CHARS
from provider.remote.results import DEFAULT_CHUNK_BYTES as DEFAULT_CHUNK_BYTES
from provider.remote.results import MAX_FETCH_BYTES as MAX_FETCH_BYTES
from provider.remote.results import MAX_RESULT_CHARS as MAX_RESULT_CHARS
from provider.remote.results import MAX_RESULT_DEPTH as MAX_RESULT_DEPTH
from provider.remote.results import checked_chunk as checked_chunk
from provider.remote.results import encoded_chars as encoded_chars
from provider.remote.results import parse_result as parse_result
from provider.remote.results import result_size_problem as result_size_problem

if TYPE_CHECKING:
    from provider.remote.cache import FactsCache

P = TypeVar("P", bound=contracts.Params)
R = TypeVar("R", bound=contracts.Result)
T = TypeVar("T")


class TransientRemoteError(EssoError):
    """The connection dropped, timed out or was refused: the script may or may not have run.

    Reads are retried (bounded, with backoff). A change is never re-sent: the caller re-reads the
    facts and decides (``may_have_run`` says whether the request could have reached the node).
    """

    def __init__(self, code: str, detail: str, *, node: str, step: str, may_have_run: bool) -> None:
        super().__init__(code, detail, node=node, step=step)
        self.may_have_run = may_have_run


class Remote(ABC):
    """Runs contract scripts on named nodes. Implementations: simulator, pypsrp."""

    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    max_fetch_bytes: int = MAX_FETCH_BYTES
    """The largest file ``fetch_file`` accepts (ESSO-080 beyond it); set on an instance to configure."""
    max_result_chars: int = MAX_RESULT_CHARS
    """The largest script result ``run`` accepts, in characters of its values (ESSO-081 beyond it)."""

    def __init__(self, *, second_hop: bool, retries: int = 2, backoff: float = 0.5) -> None:
        self.second_hop = second_hop
        self.retries = retries
        self.backoff = backoff
        self.policy = CallPolicy()
        # The operation's facts cache (provider/remote/cache.py), set by the provider; None reads every time.
        self.cache: FactsCache | None = None
        # How many independent per-node calls may run at once (``fan_out``); 1 runs them in turn.
        self.concurrency = 1
        self.recorder: Recorder | None = None  # hears every remote call (issue 18): live progress, the run record
        self.levels: Track | None = None  # counts sequential round trips (provider/remote/cache.py ``Levels``)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every implementation's ``renew_logon`` opens a session only on a host the policy allows, as ``run``
        does: a new logon sends the credentials too."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("renew_logon")
        if own is None or getattr(own, "_guarded", False):
            return

        @functools.wraps(own)
        def guarded(self: Remote, node: str) -> None:
            target = self.policy.target(node, step="renew-logon")
            try:
                own(self, target)
            finally:
                if self.cache is not None:
                    self.cache.new_logon(target)  # a new token: the node's facts may read differently

        guarded._guarded = True  # type: ignore[attr-defined]
        cls.renew_logon = guarded  # type: ignore[method-assign]

    # -- what implementations provide ------------------------------------------------------------
    @abstractmethod
    def _invoke(self, node: str, script: contracts.Script[Any, Any], params: contracts.Params) -> Any:
        """Run the script on the node and return its raw output (one dict)."""

    @abstractmethod
    def renew_logon(self, node: str) -> None:
        """Start a new logon session on the node, so the token carries new group memberships (rule 13)."""

    def close(self) -> None:  # noqa: B027 - optional hook: the default holds no connection
        """Release connections; the default holds none."""

    # -- the shared contract ---------------------------------------------------------------------
    def run(self, node: str, script: contracts.Script[P, R], params: P) -> R:
        """Run ``script`` on ``node`` and return its validated result."""
        if not isinstance(params, script.params):
            raise TypeError(f"{script.name} takes {script.params.__name__}, not {type(params).__name__}")
        node = self.policy.target(node, step=script.name)
        if script.disruptive:
            self.policy.require_disruption(
                f"{script.name} moves the role or cycles ENTSSO", node=node, step=script.name
            )
        if script.second_hop and not self.second_hop:
            raise EssoError(
                "ESSO-015",
                f"{script.name} reaches SQL Server or a domain controller from {node}, and the transport "
                "declares no second hop.",
                node=node,
                step=script.name,
            )
        cache = self.cache
        if cache is None:
            return self._answer(node, script, params)
        from provider.remote.cache import cacheable

        if script.changes:
            try:
                result = self._answer(node, script, params)
            except BaseException:
                cache.changed(node, script, None)  # failed, or may have run: forget the most
                raise
            cache.changed(node, script, result)  # a read that raced it is not kept (its epoch moved)
            return result
        if not cacheable(script, params):
            return self._answer(node, script, params)
        return cache.read_through(node, script, params, lambda: self._answer(node, script, params), self.levels)

    def _attempt(self, node: str, script: contracts.Script[Any, Any], params: contracts.Params) -> Any:
        """Invoke, retrying a read (bounded, with backoff) after a transient failure; never a change."""
        attempt = 0
        while True:
            if self.levels is not None:
                self.levels.tick(node, script.name)
            try:
                return self._recorded(node, script, params)
            except TransientRemoteError:
                if script.changes or attempt >= self.retries:
                    raise
                time.sleep(self.backoff * (2**attempt))
                attempt += 1

    def _answer(self, node: str, script: contracts.Script[Any, R], params: contracts.Params) -> R:
        """The script's validated result, bounded (M6): never larger than any answer of this tool."""
        limit = self.max_result_chars
        if isinstance(params, contracts.ReadFileChunkParams):  # a chunk is never more than the length asked for
            limit = min(limit, encoded_chars(params.length) + _ENVELOPE_CHARS)
        return parse_result(node, script, self._attempt(node, script, params), limit=limit)

    def start(self, call: Callable[[], T]) -> Callable[[], T]:
        """Begin an independent read in the background (when ``concurrency`` allows); the returned function
        waits for its answer or raises its error. With concurrency 1 the call runs when its answer is asked."""
        if self.concurrency <= 1:
            return call
        track, ends = self.levels, list[int]()
        fork = track.cursor() if track is not None else 0
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="esso")
        future = pool.submit(call if track is None else lambda: track.branch(fork, call, ends))
        pool.shutdown(wait=False)

        def answer() -> T:
            try:
                return future.result()
            finally:
                if track is not None and ends:
                    track.advance(ends[0])

        return answer

    def fan_out(self, nodes: Iterable[str], call: Callable[[str], T]) -> dict[str, T]:
        """``call`` once per node, up to ``concurrency`` at a time: for independent per-node calls only (reads,
        the same node-local change on each node), never joins or restores. Answers keep the nodes' order; the
        first error (in that order) is raised after every started call has ended."""
        ordered = list(dict.fromkeys(nodes))
        if self.concurrency <= 1 or len(ordered) <= 1:
            return {n: call(n) for n in ordered}
        width = min(self.concurrency, len(ordered))
        track, ends = self.levels, {n: list[int]() for n in ordered}
        fork = track.cursor() if track is not None else 0

        def branch(node: str) -> T:
            return call(node) if track is None else track.branch(fork, lambda: call(node), ends[node])

        with ThreadPoolExecutor(max_workers=width, thread_name_prefix="esso") as pool:
            futures = {n: pool.submit(branch, n) for n in ordered}
            wait(futures.values())
        if track is not None:
            track.joined(fork, [max(ends[n], default=fork) for n in ordered], width)
        return {n: f.result() for n, f in futures.items()}

    def _recorded(self, node: str, script: contracts.Script[Any, Any], params: contracts.Params) -> Any:
        """``_invoke``, told to the recorder: before it is sent (progress), and how it ended (the record)."""
        if self.recorder is None:
            return self._invoke(node, script, params)
        started = self.recorder.begin(node, script.name)
        try:
            raw = self._invoke(node, script, params)
        except Exception as exc:
            code = exc.code if isinstance(exc, EssoError) else type(exc).__name__
            self.recorder.end(node, script.name, started, changes=script.changes, changed=None, error=code)
            raise
        changed = raw.get("changed") if script.changes and isinstance(raw, dict) else None
        self.recorder.end(
            node,
            script.name,
            started,
            changes=script.changes,
            changed=changed if isinstance(changed, bool) else None,
            error=None,
        )
        return raw

    def send_file(self, node: str, path: str, data: bytes) -> str:
        """Write ``data`` to ``path`` on the node in envelope-sized chunks; returns the verified SHA-256."""
        digest = hashlib.sha256(data).hexdigest()
        offsets = list(range(0, len(data), self.chunk_bytes)) or [0]
        written: contracts.WrittenFile | None = None
        for offset in offsets:
            chunk = data[offset : offset + self.chunk_bytes]
            written = self.run(
                node,
                contracts.WRITE_FILE_CHUNK,
                contracts.WriteFileChunkParams(
                    path=path,
                    data_base64=base64.b64encode(chunk).decode("ascii"),
                    offset=offset,
                    final=offset == offsets[-1],
                    expected_sha256=digest,
                ),
            )
        assert written is not None
        if written.size != len(data) or written.sha256 != digest:
            raise EssoError(
                "ESSO-022",
                f"{path} on {node} holds {written.size} bytes with SHA-256 {written.sha256}, "
                f"expected {len(data)} bytes with {digest}.",
                node=node,
                step="send-file",
            )
        return digest

    def fetch_file(self, node: str, path: str, *, max_bytes: int | None = None) -> bytes:
        """Read ``path`` from the node in chunks and verify it against the node's own SHA-256.

        Bounded (M6): a size above ``max_bytes`` (default ``max_fetch_bytes``), a chunk longer than asked
        for or past the size, a size or SHA-256 that changes between chunks, or non-canonical base64 is
        refused (ESSO-080) before more is read.
        """
        limit = self.max_fetch_bytes if max_bytes is None else max_bytes
        parts: list[bytes] = []
        offset = 0
        first: contracts.FileChunk | None = None
        while True:
            length = max(1, min(self.chunk_bytes, limit - offset))
            chunk = self.run(
                node, contracts.READ_FILE_CHUNK, contracts.ReadFileChunkParams(path=path, offset=offset, length=length)
            )
            first = first or chunk
            data = checked_chunk(node, path, chunk, first, offset=offset, length=length, limit=limit)
            parts.append(data)
            offset += len(data)
            if offset >= chunk.size or not data:
                break
        content = b"".join(parts)
        if hashlib.sha256(content).hexdigest() != chunk.sha256:
            raise EssoError(
                "ESSO-022",
                f"{path} fetched from {node} does not match the SHA-256 the node reported.",
                node=node,
                step="fetch-file",
            )
        return content
