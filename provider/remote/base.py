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
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from provider import contracts
from provider.errors import EssoError
from provider.remote.levels import Track
from provider.remote.recorder import Recorder

if TYPE_CHECKING:
    from provider.remote.cache import FactsCache

P = TypeVar("P", bound=contracts.Params)
R = TypeVar("R", bound=contracts.Result)
T = TypeVar("T")

# Bytes of file data per chunk: base64 grows it by 4/3 and the envelope (153,600 bytes by default)
# also carries the CLIXML wrapping, so 64 KiB of data stays well inside one message.
DEFAULT_CHUNK_BYTES = 64 * 1024

# Reads from a node are bounded (issue 13, M6): what a node answers decides nothing about how much this
# machine holds. The only file fetched is a master secret backup, a few KB; a script result is a small
# hashtable (the largest is one file chunk, bounded by the length asked for).
MAX_FETCH_BYTES = 1024 * 1024
MAX_RESULT_CHARS = 1024 * 1024
MAX_RESULT_DEPTH = 32


class TransientRemoteError(EssoError):
    """The connection dropped, timed out or was refused: the script may or may not have run.

    Reads are retried (bounded, with backoff). A change is never re-sent: the caller re-reads the
    facts and decides (``may_have_run`` says whether the request could have reached the node).
    """

    def __init__(self, code: str, detail: str, *, node: str, step: str, may_have_run: bool) -> None:
        super().__init__(code, detail, node=node, step=step)
        self.may_have_run = may_have_run


def node_key(name: str) -> str | None:
    """How computer names compare (the config refuses a repeat ignoring case): upper case, ASCII only.

    Non-ASCII names have no key: a look-alike (a long s upper-cases to 'S', a dotless i to 'I') can
    never fold onto a configured name.
    """
    return name.upper() if name.isascii() else None


# Characters that can move a URL's host, port or path (``evil.example:8443/x#``), or a line in a log.
_NOT_IN_A_HOST = re.compile(r"[@:/\\#?%\s\x00-\x1f\x7f-\x9f]")


def host_problem(name: str) -> str | None:
    """Why ``name`` cannot be a host a Remote connects to, whatever the policy (issue 13, H1), or None."""
    if not name:
        return "is empty"
    if len(name) > 253:
        return "is longer than a DNS name can be"
    if _NOT_IN_A_HOST.search(name):
        return "contains a character that would change the address (@ : / \\ # ? % a space or a control character)"
    return None


def shown(name: str) -> str:
    """A host name as an error may print it: control characters escaped, length bounded."""
    text = name.encode("unicode_escape").decode("ascii")
    return repr(text if len(text) <= 80 else text[:80] + "...")


@dataclass(frozen=True)
class CallPolicy:
    """What the stack lets a Remote do: which hosts it may reach, whether disruptive scripts run.

    ``nodes=None`` reaches any host and ``allow_disruption=True`` runs anything: the policy of a Remote built
    by hand. Providers always run under ``CallPolicy.for_stack``.
    """

    allow_disruption: bool = True
    nodes: tuple[str, ...] | None = None

    @classmethod
    def for_stack(cls, *, nodes: Iterable[str], allow_disruption: bool) -> CallPolicy:
        return cls(allow_disruption=allow_disruption, nodes=tuple(dict.fromkeys(nodes)))

    def target(self, node: str, *, step: str) -> str:
        """The configured spelling of ``node``; ESSO-070 when it names no configured node (issue 13, H1), or
        could not be a host at all (refused even by a Remote built by hand)."""
        why = host_problem(node)
        if why is None and self.nodes is None:
            return node
        if why is None:
            key = node_key(node)
            for configured in self.nodes or ():
                if key is not None and key == node_key(configured):
                    return configured
        reasons = [why] if why else []
        if self.nodes is not None:
            reasons.append(f"is not one of cluster.nodes ({', '.join(self.nodes)})")
        raise EssoError(
            "ESSO-070",
            f"{step} was to run on {shown(node)}, which {' and '.join(reasons)}; nothing was sent to it.",
            step=step,
        )

    def require_disruption(self, what: str, *, node: str | None, step: str) -> None:
        """ESSO-019 unless the stack sets allowDisruption: the one place that decides it."""
        if not self.allow_disruption:
            raise EssoError(
                "ESSO-019",
                f"{what}; the stack does not set allowDisruption.",
                node=node,
                step=step,
            )


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


def parse_result(node: str, script: contracts.Script[Any, R], raw: Any, *, limit: int = MAX_RESULT_CHARS) -> R:
    """Validate raw script output against the script's result model (ESSO-037 on a mismatch).

    A result larger than ``limit`` characters, or nested deeper than ``MAX_RESULT_DEPTH``, is refused
    first (ESSO-081): no script of this tool returns one, so a node that does is not answered in kind.
    """
    why = result_size_problem(raw, limit)
    if why:
        raise EssoError(
            "ESSO-081",
            f"{script.name} on {node} returned {why}; nothing of it was used.",
            node=node,
            step=script.name,
        )
    try:
        return script.result.model_validate(raw)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) or "(root)" for err in exc.errors())
        raise EssoError(
            "ESSO-037",
            f"{script.name} on {node} returned output that does not match its contract (fields: {fields}).",
            node=node,
            step=script.name,
        ) from None


# Room for the rest of a file chunk's result (size, sha256, keys) beyond its base64 text.
_ENVELOPE_CHARS = 4096


def encoded_chars(length: int) -> int:
    """How many base64 characters ``length`` bytes take."""
    return 4 * ((max(length, 0) + 2) // 3)


def checked_chunk(
    node: str,
    path: str,
    chunk: contracts.FileChunk,
    first: contracts.FileChunk,
    *,
    offset: int,
    length: int,
    limit: int,
) -> bytes:
    """One chunk's bytes, or ESSO-080 when the node answered more, or otherwise, than was asked for."""

    def refuse(why: str) -> EssoError:
        return EssoError("ESSO-080", f"{path} on {node}: {why}; nothing was kept.", node=node, step="fetch-file")

    if chunk.size < 0 or chunk.size > limit:
        raise refuse(f"the node reports {chunk.size} bytes, more than the {limit} this read allows")
    if (chunk.size, chunk.sha256) != (first.size, first.sha256):
        raise refuse("the size or SHA-256 the node reports changed between chunks")
    if len(chunk.data_base64) > encoded_chars(length):
        raise refuse(f"a chunk holds more than the {length} bytes asked for")
    try:
        data = base64.b64decode(chunk.data_base64, validate=True)
    except ValueError:
        raise refuse("a chunk is not canonical base64") from None
    if len(data) > length or offset + len(data) > chunk.size:
        raise refuse(f"a chunk of {len(data)} bytes at offset {offset} exceeds what was asked for or the file size")
    return data


def result_size_problem(raw: Any, limit: int) -> str | None:
    """Why ``raw`` is too large to parse (characters of its keys and values, or its nesting), or None.

    Iterative and stops at the limit, so an answer of any size costs no more than ``limit`` to judge.
    """
    total = 0
    stack: list[tuple[Any, int]] = [(raw, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_RESULT_DEPTH:
            return f"a result nested deeper than {MAX_RESULT_DEPTH} levels"
        if isinstance(value, str | bytes):
            total += len(value)
        elif isinstance(value, dict):
            total += 1 + len(value)  # counted before anything is stacked: a huge container stops here
            if total > limit:
                break
            for key, item in value.items():
                stack.append((key, depth + 1))
                stack.append((item, depth + 1))
        elif isinstance(value, list | tuple):
            total += 1 + len(value)
            if total > limit:
                break
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, int) and not isinstance(value, bool):
            total += value.bit_length() // 3 + 1
        else:
            total += 1
        if total > limit:
            break
    if total > limit:
        return f"more than {limit} characters, the most a result of this call may hold"
    return None
