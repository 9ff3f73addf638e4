"""Facts read once per node per operation: a cache of read-only script answers, and the operation it lives in.

Why: every resource runs the preflight and reads the facts behind its outputs, so a first ``up`` used to read
the same node facts tens of times (issue 15, the performance review: 98 of 108 preflight reads repeated an
answer already read). Within one operation nothing but this provider host changes the nodes, so a read whose
answer is known, and that no change could have touched since, is answered from memory.

The rules, each enforced here and proven by ``tests/perf``:

* Only read scripts (``changes=False``) without secret parameters are cached; file chunks never are.
* Node facts are kept per node; cluster, database and domain facts (``SCOPES``) once per operation,
  whichever node answered.
* A change script forgets, when it returns (or fails, and may have run): cluster facts, unless it is a
  node-local change that cannot touch the cluster (``CLUSTER_UNTOUCHED``) and returned; database and
  domain facts when it reaches SQL Server or a domain controller (``second_hop``: without it a script cannot
  change them); node facts of its own node when it is ``NODE_LOCAL`` (it changes nothing another node
  reports), of its node and the owners before and after that its result names for a role move or a resource
  cycle (``OWNER_CHANGES``: ENTSSO stops on one node and starts on the other), of every node otherwise (the
  domain groups, the install, cluster resource changes, removals) and whenever a change fails.
* A new logon session on a node (``renew_logon``) forgets that node's facts: its token changed.
* A read that raced a change (it started before the change forgot) is not stored.
* An operation is one provider host's life: the Pulumi CLI starts ``python -m pulumi.dynamic`` once per
  ``up``/``preview``/``refresh``/``destroy`` and sends it one ``Configure``; every provider the host
  deserializes is configured with that same config object, which is what ``Operation.for_host`` keys on.
  A new ``Configure`` (a new host, or a new operation in a test's in-process host) starts a new, empty cache.
  Providers used without a host (``use_spec``) get no cache unless a test hands them an ``Operation``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import SecretStr

from provider import contracts
from provider.remote.levels import Levels, Track
from provider.remote.policy import node_key
from provider.resources.fingerprints import KeyRing

if TYPE_CHECKING:
    from provider.escrow.base import RecordedBackup

__all__ = ["FactsCache", "Levels", "Operation", "Track", "cacheable"]

# Read scripts whose answer does not depend on the node that runs them: cached once per operation, by scope.
SCOPES: dict[str, str] = {
    contracts.GET_CLUSTER_FACTS.name: "#cluster",
    contracts.GET_SSO_DATABASE_FACTS.name: "#database",
    contracts.GET_DOMAIN_GROUP_FACTS.name: "#domain",
}
# Reads never cached: their answer is data, not facts, and files change without a script saying so.
NOT_CACHED: frozenset[str] = frozenset({contracts.READ_FILE_CHUNK.name})
# Change scripts that change nothing another node's facts report: the node's own rights, its ENTSSO service
# (start mode, logon, a local restart), its own SSO configuration (join), its own copy of the master secret
# (restore; the backup writes a file and the database's backup digest, no node fact), its local files.
NODE_LOCAL: frozenset[str] = frozenset(
    {
        contracts.JOIN_SSO_SYSTEM.name,
        contracts.RESTORE_MASTER_SECRET.name,
        contracts.BACKUP_MASTER_SECRET.name,
        contracts.RESTART_ENTSSO_SERVICE.name,
        contracts.GRANT_SERVICE_LOGON_RIGHT.name,
        contracts.SET_ENTSSO_START_MODE.name,
        contracts.SET_ENTSSO_LOGON.name,
        contracts.NEW_PROTECTED_TEMP_DIR.name,
        contracts.WRITE_FILE_CHUNK.name,
        contracts.REMOVE_PROTECTED_PATH.name,
        contracts.REMOVE_MASTER_SECRET_BACKUP.name,
    }
)
# Node-local changes that cannot touch the failover cluster (Configuration.exe's join writes the node's registry
# and the SSO database, the grant the node's local security policy, the backup and the files the node's disk,
# the restore the node's own copy of the secret): they leave cluster facts cached. The ENTSSO service changes
# (start mode, logon, a local restart) are not here: the cluster watches that service once it is a resource.
CLUSTER_UNTOUCHED: frozenset[str] = frozenset(
    {
        contracts.JOIN_SSO_SYSTEM.name,
        contracts.GRANT_SERVICE_LOGON_RIGHT.name,
        contracts.BACKUP_MASTER_SECRET.name,
        contracts.RESTORE_MASTER_SECRET.name,
        contracts.NEW_PROTECTED_TEMP_DIR.name,
        contracts.WRITE_FILE_CHUNK.name,
        contracts.REMOVE_PROTECTED_PATH.name,
        contracts.REMOVE_MASTER_SECRET_BACKUP.name,
    }
)
assert CLUSTER_UNTOUCHED <= NODE_LOCAL
# Change scripts that change the facts of the nodes their result names as the role's or resource's owner before
# and after (the ENTSSO service stops on one and starts on the other), and of the node they ran on; when they
# fail, or their result names no owner, every node's facts are forgotten.
OWNER_CHANGES: frozenset[str] = frozenset({contracts.MOVE_SSO_ROLE.name, contracts.RESTART_SSO_CLUSTER_RESOURCE.name})

_NODES = "#nodes"  # the epoch of "every node's facts"


def _owners(result: contracts.Result | None) -> set[str] | None:
    """The owner nodes a change result reports before and after, or None when it names none."""
    found: set[str] = set()
    for side in (getattr(result, "before", None), getattr(result, "after", None)):
        owner = getattr(side, "owner_node", None)
        if isinstance(owner, str) and owner:
            found.add(_node(owner))
    return found or None


Audit = Callable[[str, contracts.Script[Any, Any], contracts.Params, contracts.Result], None]


def _node(name: str) -> str:
    """A node's key in the cache: as the call policy compares names (``node_key``); the raw name where none."""
    return node_key(name) or name


def cacheable(script: contracts.Script[Any, Any], params: contracts.Params) -> bool:
    """A read whose answer is facts, and whose parameters carry no secret (a secret is never a cache key)."""
    if script.changes or script.name in NOT_CACHED:
        return False
    return not any(isinstance(v, SecretStr) for v in params.wire().values())


@dataclass
class FactsCache:
    """Answers of read scripts, by (node or ``*``, script, parameters), for one operation. Thread-safe."""

    hits: int = 0
    misses: int = 0
    audit: Audit | None = None  # tests: called on every hit, to compare the answer with a fresh read
    _answers: dict[tuple[str, str, str], contracts.Result] = field(default_factory=dict)
    _ready: dict[tuple[str, str, str], int] = field(default_factory=dict)  # the level each answer arrived at
    _epochs: dict[str, int] = field(default_factory=dict)  # per node, and ``*`` for cluster-wide facts
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _inflight: dict[tuple[str, str, str], threading.Event] = field(default_factory=dict)

    @staticmethod
    def _scope(node: str, script: contracts.Script[Any, Any]) -> str:
        return SCOPES.get(script.name) or _node(node)

    def _key(self, node: str, script: contracts.Script[Any, Any], params: contracts.Params) -> tuple[str, str, str]:
        return self._scope(node, script), script.name, params.model_dump_json()

    def epoch(self, node: str, script: contracts.Script[Any, Any]) -> int:
        """The change count of what ``script`` reads on ``node``; a read stores its answer only if unchanged."""
        scope = self._scope(node, script)
        with self._lock:
            return self._epochs.get(scope, 0) + (0 if scope.startswith("#") else self._epochs.get(_NODES, 0))

    def get(
        self,
        node: str,
        script: contracts.Script[Any, contracts.R],
        params: contracts.Params,
        track: Track | None = None,
    ) -> contracts.R | None:
        """The kept answer, or None; ``track`` goes on from the level the answer arrived at (a read begun in
        the background may have been kept before the caller got there)."""
        key = self._key(node, script, params)
        with self._lock:
            found = self._answers.get(key)
            if found is None:
                self.misses += 1
                return None
            self.hits += 1
            ready = self._ready.get(key, 0)
        if track is not None:
            track.advance(ready)
        if self.audit is not None:
            self.audit(node, script, params, found)
        return found.model_copy(deep=True)  # type: ignore[return-value]

    def read_through(
        self,
        node: str,
        script: contracts.Script[Any, contracts.R],
        params: contracts.Params,
        read: Callable[[], contracts.R],
        track: Track | None = None,
    ) -> contracts.R:
        """The cached answer, or ``read()`` once: concurrent asks for the same facts (the engine runs a
        refresh's Reads in parallel) wait for the read in flight instead of sending their own."""
        key = self._key(node, script, params)
        while True:
            known = self.get(node, script, params, track)
            if known is not None:
                return known
            with self._lock:
                leader = self._inflight.get(key)
                if leader is None:
                    mine = self._inflight[key] = threading.Event()
                    break
            leader.wait()  # then ask again: the answer is kept, or a change forgot it and this one reads
        try:
            epoch = self.epoch(node, script)
            answer = read()
            self.put(node, script, params, answer, epoch, ready=track.cursor() if track is not None else 0)
            return answer
        finally:
            with self._lock:
                self._inflight.pop(key, None)
            mine.set()

    def put(
        self,
        node: str,
        script: contracts.Script[Any, Any],
        params: contracts.Params,
        answer: contracts.Result,
        epoch: int,
        *,
        ready: int = 0,
    ) -> None:
        """Keep ``answer`` (it arrived at level ``ready``) unless a change forgot these facts while it was read."""
        if self.epoch(node, script) != epoch:
            return
        key = self._key(node, script, params)
        with self._lock:
            self._answers[key] = answer.model_copy(deep=True)
            self._ready[key] = ready

    def changed(self, node: str, script: contracts.Script[Any, Any], result: contracts.Result | None = None) -> None:
        """A change script ran on ``node`` (``result``), or failed and may have run (None): forget what it can
        have changed. Cluster facts unless ``CLUSTER_UNTOUCHED`` returned; database and domain facts when it
        reaches SQL Server or a domain controller (a script without the second hop cannot change them); node
        facts of its node when it is ``NODE_LOCAL``, of its node and the owners its result names for
        ``OWNER_CHANGES``, else of every node."""
        nodes: set[str] | None = None
        if script.name in NODE_LOCAL:
            nodes = {_node(node)}
        elif script.name in OWNER_CHANGES and (owners := _owners(result)) is not None:
            nodes = {_node(node), *owners}
        cluster = not (result is not None and script.name in CLUSTER_UNTOUCHED)
        self._forget(nodes, cluster=cluster, sql_and_ad=script.second_hop)

    def new_logon(self, node: str) -> None:
        """A new logon session on ``node``: its token (and so its node facts) may differ."""
        self._forget({_node(node)}, cluster=False, sql_and_ad=False)

    def _forget(self, nodes: set[str] | None, *, cluster: bool, sql_and_ad: bool) -> None:
        """Drop answers: of ``nodes`` (None: every node), of the cluster, of the database and the domain."""
        scopes = (
            set(nodes or ())
            | ({"#cluster"} if cluster else set())
            | ({"#database", "#domain"} if sql_and_ad else set())
        )
        with self._lock:
            self._answers = {
                k: v
                for k, v in self._answers.items()
                if k[0] not in scopes and not (nodes is None and not k[0].startswith("#"))
            }
            for scope in (*scopes, *([_NODES] if nodes is None else [])):
                self._epochs[scope] = self._epochs.get(scope, 0) + 1


@dataclass
class Operation:
    """One engine operation in this provider host: its facts cache and how many calls may run at once."""

    cache: FactsCache = field(default_factory=FactsCache)
    concurrency: int = 4
    token: object | None = None  # the host's Configure payload this operation belongs to (kept alive: see above)
    keys: KeyRing = field(default_factory=KeyRing)  # fingerprints: one key derivation per secret per operation
    levels: Levels = field(default_factory=Levels)  # the operation's critical path in round trips (the bench)
    # sso-system's authenticated escrow records, by (escrow, MSID): each check derives a PBKDF2 key (~0.1 s), and
    # every restore of the operation checks the same record, which sso-system wrote before any restore ran
    escrow_records: dict[tuple[str, str], RecordedBackup] = field(default_factory=dict)
    # the backup password read from Secrets Manager, by (secret id, region): one GetSecretValue per operation, not
    # one per caller (every restore, the escrow record checks, sso-system)
    secrets_manager: dict[tuple[str, str | None], SecretStr] = field(default_factory=dict)

    audit: ClassVar[Audit | None] = None  # tests: the audit every new operation's cache gets
    _current: ClassVar[Operation | None] = None  # class-level: the operation of the last Configure seen in this process
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def for_host(cls, token: object, *, concurrency: int = 4) -> Operation:
        """The operation of the host whose Configure payload is ``token``: the same object for every provider
        the host configures, a new one when a new Configure arrives."""
        with cls._lock:
            current = cls._current
            if current is None or current.token is not token:
                current = cls(cache=FactsCache(audit=cls.audit), token=token, concurrency=concurrency)
                cls._current = current
            return current
