"""Replacing a failed node (issue 6), on the simulator, at provider level.

A node dies; the platform engineer evicts it, adds a prepared node and replaces the dead name in
``cluster.nodes``. ``tests.support.replacement.Stack`` runs that stack change as the engine sequences it
(diff and update what is still in the program, create what is new, in the component's order, then delete
what was removed in reverse dependency order), and each test compares the result with a fresh build of the
new node set. The same scenario through the SDK's dynamic provider host belongs to tests/engine.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from provider.errors import EssoError
from provider.escrow import LocalEscrow, S3Escrow
from provider.remote.simulator import Simulator, client_can_reach_secret_server
from provider.spec import ClusterSpec
from tests.support.procedure import Procedure, demo_spec
from tests.support.replacement import Event, Stack, add_node, evict_node, fail_node, ops, projection

REGION = "eu-west-1"
BUCKET = "esso-escrow-replacement"
NEW_BACKUP_PASSWORD = "Bak-Rotated-5e0c!"

# (nodes built, the node that dies, the node that replaces it)
NODE_K = [
    pytest.param(("SSO01", "SSO02"), "SSO02", "SSO04", id="2-nodes-node-2"),
    pytest.param(("SSO01", "SSO02", "SSO03"), "SSO02", "SSO04", id="3-nodes-node-2"),
]


def _replaced(nodes: tuple[str, ...], dead: str, new: str) -> tuple[str, ...]:
    """The stack's nodes with the dead name replaced in place."""
    return tuple(new if n == dead else n for n in nodes)


def _spec(tmp_path: Path, nodes: tuple[str, ...], **overrides: Any) -> ClusterSpec:
    return demo_spec(tmp_path, nodes, **overrides)


def _built(tmp_path: Path, nodes: tuple[str, ...], **overrides: Any) -> tuple[Stack, Simulator]:
    stack = Stack()
    stack.up(_spec(tmp_path, nodes, **overrides))
    return stack, Simulator(tmp_path / "world.json")


def _fresh_projection(tmp_path: Path, nodes: tuple[str, ...]) -> dict[str, Any]:
    """The world of a first `up` with ``nodes``, in a world and escrow of its own."""
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    _, sim = _built(fresh, nodes)
    return projection(sim.load(), nodes)


def _expected_ops(stack: Stack, spec: ClusterSpec, dead: str, new: str) -> dict[str, str]:
    """What `preview` must show: the new node's resources created, the dead node's deleted (restore before
    join, the reverse of their dependency), every other resource updated because its ``nodes`` input (a
    restore's also ``peers``) changed; nothing replaced."""
    expected = {
        name: "create" if name.endswith(f"-{new.lower()}") else "update" for name, _, _ in Procedure(spec).resources()
    }
    assert all(name in stack.state for name, op in expected.items() if op == "update")
    gone = [name for name in reversed(stack.state) if name not in expected]
    assert all(name.endswith(f"-{dead.lower()}") for name in gone), gone
    expected.update(dict.fromkeys(gone, "delete"))
    return expected


def _event(events: list[Event], name: str) -> Event:
    return next(e for e in events if e.name == name)


def _calls(sim: Simulator, script: str, node: str | None = None) -> int:
    return sim.load().calls_for(node=node, script=script)


# ------------------------------------------------------------------------------------------ node k


@pytest.mark.parametrize(("nodes", "dead", "new"), NODE_K)
def test_replacing_a_failed_node_creates_only_its_join_and_restore(
    tmp_path: Path, nodes: tuple[str, ...], dead: str, new: str
) -> None:
    stack, sim = _built(tmp_path, nodes)
    msid = stack.outputs("sso-system")["msid"]
    installs = _calls(sim, "Install-SsoSystem")

    fail_node(sim, dead)
    ok, why = client_can_reach_secret_server(sim.load())
    assert ok, why  # the survivors keep serving while the node is replaced

    # Before eviction: the dead node's join cannot be deleted, and the error says to evict it.
    with pytest.raises(EssoError) as err:
        stack.delete(_spec(tmp_path, nodes), f"sso-join-{dead.lower()}")
    assert f"sso-join-{dead.lower()}" in stack.state  # a failed delete keeps it
    assert err.value.code == "ESSO-021"
    assert err.value.node == dead
    assert "Remove-ClusterNode" in str(err.value)
    assert "evict" in err.value.fix.lower()

    evict_node(sim, dead)
    add_node(sim, new)
    replaced = _replaced(nodes, dead, new)
    spec = _spec(tmp_path, replaced)

    calls_before = dict(sim.load().calls)
    plan = stack.preview(spec)
    assert sim.load().calls == calls_before, "preview must not reach any node"
    assert ops(plan) == _expected_ops(stack, spec, dead, new)
    assert all(not e.replaces for e in plan)

    events = stack.up(spec)
    assert ops(events) == ops(plan)  # up does what the preview showed
    assert [e.name for e in events if e.op == "create"] == [
        f"sso-join-{new.lower()}",
        f"master-secret-restore-{new.lower()}",
    ]
    assert [e.name for e in events if e.op == "delete"] == [
        f"master-secret-restore-{dead.lower()}",
        f"sso-join-{dead.lower()}",
    ]
    forgot = _event(events, f"sso-join-{dead.lower()}").steps
    assert [(s["node"], s["step"]) for s in forgot] == [(dead, "forget-evicted-node")]

    # No new SSO system: the SsoSystem records the new node list without a remote call.
    system = _event(events, "sso-system")
    assert [s["step"] for s in system.steps] == ["record-settings"]
    assert _calls(sim, "Install-SsoSystem") == installs
    assert stack.outputs("sso-system")["msid"] == msid
    assert stack.outputs("sso-system")["createdBy"] == nodes[0]

    # The other nodes' joins and restores record the new list: no remote call, nothing moved.
    for node in replaced[1:]:
        if node != new:
            for name in (f"sso-join-{node.lower()}", f"master-secret-restore-{node.lower()}"):
                assert [s["step"] for s in _event(events, name).steps] == ["record-settings"], name

    # Possible owners follow the stack: exactly the new node set.
    assert sorted(stack.outputs("clustered-sso-service")["possibleOwners"]) == sorted(replaced)
    restore = stack.outputs(f"master-secret-restore-{new.lower()}")
    assert restore["holdsMsid"] is True
    assert restore["msid"] == msid
    # docs/design.md: failover is proven once per node, when it has been restored; the other nodes keep their proofs
    assert restore["verifiedNodes"] == [new]
    assert restore["failoverPending"] is False
    for node in replaced:
        assert stack.outputs(f"master-secret-restore-{node.lower()}")["failoverVerifiedAt"], node
    assert restore["ownerNode"] == replaced[0]
    assert restore["failoverVerifiedAt"]

    world = sim.load()
    (database,) = world.databases.values()
    assert database.msid == msid
    ok, why = client_can_reach_secret_server(world)
    assert ok, why
    assert projection(world, replaced) == _fresh_projection(tmp_path, replaced)


def test_an_unevicted_dead_node_stops_up_at_its_join_and_the_next_up_only_deletes_it(tmp_path: Path) -> None:
    """Forgetting the eviction: everything else converges, the join's delete says to evict, and after
    Remove-ClusterNode the next `up` has nothing left to do but that delete."""
    stack, sim = _built(tmp_path, ("SSO01", "SSO02"))
    fail_node(sim, "SSO02")
    add_node(sim, "SSO04")
    spec = _spec(tmp_path, ("SSO01", "SSO04"))
    with pytest.raises(EssoError) as err:
        stack.up(spec)
    assert (err.value.code, err.value.node) == ("ESSO-021", "SSO02")
    assert ops(stack.events)["master-secret-restore-sso04"] == "create"
    assert "sso-join-sso02" in stack.state  # a failed delete stays in state
    assert "master-secret-restore-sso02" not in stack.state

    evict_node(sim, "SSO02")
    again = stack.up(spec)
    assert {e.name: e.op for e in again if e.op != "same"} == {"sso-join-sso02": "delete"}
    world = sim.load()
    assert projection(world, ("SSO01", "SSO04")) == _fresh_projection(tmp_path, ("SSO01", "SSO04"))


def test_without_allow_disruption_the_restore_stops_before_moving_the_role(tmp_path: Path) -> None:
    stack, sim = _built(tmp_path, ("SSO01", "SSO02"))
    fail_node(sim, "SSO02")
    evict_node(sim, "SSO02")
    add_node(sim, "SSO04")
    moves = _calls(sim, "Move-SsoRole")
    with pytest.raises(EssoError) as err:
        stack.up(_spec(tmp_path, ("SSO01", "SSO04"), allowDisruption=False))
    assert (err.value.code, err.value.node) == ("ESSO-019", "SSO04")
    world = sim.load()
    assert world.cluster.groups["SSO"].owner_node == "SSO01"
    assert _calls(sim, "Move-SsoRole") == moves
    assert world.nodes["SSO04"].sso_server == "SQL01"  # the join needs no disruption and is done
    assert world.nodes["SSO04"].ssoss == []

    events = stack.up(_spec(tmp_path, ("SSO01", "SSO04")))
    assert [e.name for e in events if e.op == "create"] == ["master-secret-restore-sso04"]
    assert projection(sim.load(), ("SSO01", "SSO04")) == _fresh_projection(tmp_path, ("SSO01", "SSO04"))


# --------------------------------------------------------------------------------------- node 1


@pytest.mark.parametrize(
    "replaced",
    [
        pytest.param(("SSO02", "SSO05"), id="survivor-first"),
        pytest.param(("SSO05", "SSO02"), id="replacement-in-place"),
    ],
)
def test_losing_node_1_joins_and_restores_from_escrow_never_a_new_system(
    tmp_path: Path, replaced: tuple[str, ...]
) -> None:
    stack, sim = _built(tmp_path, ("SSO01", "SSO02"))
    system = dict(stack.outputs("sso-system"))
    installs = _calls(sim, "Install-SsoSystem")

    fail_node(sim, "SSO01")  # the role fails over to SSO02, which holds the master secret
    assert sim.load().cluster.groups["SSO"].owner_node == "SSO02"
    evict_node(sim, "SSO01")
    add_node(sim, "SSO05")
    assert sim.load().nodes["SSO05"].ssoss == []

    events = stack.up(_spec(tmp_path, replaced))

    # Never a new SSO system: same database, same MSID, no Install-SsoSystem anywhere, the creator recorded.
    world = sim.load()
    assert len(world.databases) == 1
    (database,) = world.databases.values()
    assert database.msid == system["msid"]
    assert _calls(sim, "Install-SsoSystem") == installs
    assert [s["step"] for s in _event(events, "sso-system").steps] == ["record-settings"]
    assert stack.outputs("sso-system")["createdBy"] == "SSO01"
    assert stack.outputs("sso-system")["msid"] == system["msid"]

    # SSO02 keeps its configuration and its copy of the secret; SSO05 is joined and restored from the escrow.
    for node in replaced:
        assert world.nodes[node].sso_server == "SQL01", node
        assert database.msid in world.nodes[node].ssoss, node
    restore = stack.outputs("master-secret-restore-sso05")
    assert restore["restoredFrom"] == system["escrowLocation"]
    assert restore["msid"] == system["msid"]

    # The role ends on nodes[0]; possible owners are the new node set; the world equals a fresh build.
    assert world.cluster.groups["SSO"].owner_node == replaced[0]
    assert sorted(stack.outputs("clustered-sso-service")["possibleOwners"]) == sorted(replaced)
    ok, why = client_can_reach_secret_server(world)
    assert ok, why
    assert projection(world, replaced) == _fresh_projection(tmp_path, replaced)


def test_after_losing_node_1_a_new_backup_password_backs_up_from_a_node_that_holds_the_secret(
    tmp_path: Path,
) -> None:
    stack, sim = _built(tmp_path, ("SSO01", "SSO02"))
    olds = stack.outputs("sso-system")
    fail_node(sim, "SSO01")
    evict_node(sim, "SSO01")
    add_node(sim, "SSO05")
    spec = _spec(tmp_path, ("SSO02", "SSO05"), backupPassword=NEW_BACKUP_PASSWORD)
    planned = next(e for e in stack.preview(spec) if e.name == "sso-system")
    assert planned.changes and not planned.replaces
    (event,) = stack.up(spec, targets={"sso-system"})
    assert event.op == "update"
    updated = stack.outputs("sso-system")
    assert updated["createdBy"] == "SSO01"
    assert updated["msid"] == olds["msid"]
    assert updated["backupSha256"] != olds["backupSha256"]
    assert _calls(sim, "Backup-MasterSecret", "SSO02") == 1


# ------------------------------------------------------------------------------------------ escrow


@pytest.fixture
def s3_escrow(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A versioned, public-access-blocked bucket and a KMS key in moto; fake credentials only."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        s3.put_public_access_block(
            Bucket=BUCKET,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        key = boto3.client("kms", region_name=REGION).create_key(Description="esso escrow")
        yield {"kind": "s3", "path": None, "bucket": BUCKET, "region": REGION, "kmsKeyId": key["KeyMetadata"]["Arn"]}


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_the_escrowed_backup_is_what_restores_the_new_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, kind: str
) -> None:
    overrides: dict[str, Any] = {}
    if kind == "s3":
        overrides["escrow"] = request.getfixturevalue("s3_escrow")
    stack, sim = _built(tmp_path, ("SSO01", "SSO02"), **overrides)
    system = stack.outputs("sso-system")
    if kind == "s3":
        assert system["escrowLocation"].startswith(f"s3://{BUCKET}/esso/")
        assert "?versionId=" in system["escrowLocation"]

    fetched: list[tuple[str, str]] = []
    escrow_class = S3Escrow if kind == "s3" else LocalEscrow
    real_fetch = escrow_class.fetch

    def spy(self: Any, msid: str, sha256: str, location: str | None = None) -> bytes:
        fetched.append((msid, sha256))
        return real_fetch(self, msid, sha256, location)

    monkeypatch.setattr(escrow_class, "fetch", spy)

    fail_node(sim, "SSO02")
    evict_node(sim, "SSO02")
    add_node(sim, "SSO04")
    before = sim.load().nodes["SSO04"]
    assert before.ssoss == []
    assert before.files == {}  # the new node holds no copy of the secret or of its backup
    reads = _calls(sim, "Read-FileChunk")

    stack.up(_spec(tmp_path, ("SSO01", "SSO04"), **overrides))

    restore = stack.outputs("master-secret-restore-sso04")
    assert restore["restoredFrom"] == system["escrowLocation"]
    assert fetched == [(system["msid"], system["backupSha256"])]
    assert _calls(sim, "Read-FileChunk") == reads  # nothing was fetched from node 1 again
    after = sim.load().nodes["SSO04"]
    assert system["msid"] in after.ssoss
    assert not any(path.endswith(".bak") for path in after.files), "the copied backup is removed"


def test_a_tampered_escrow_stops_the_restore_before_anything_reaches_the_new_node(tmp_path: Path) -> None:
    """ESSO-022: nothing is restored; putting the recorded bytes back (a previous version) lets `up` finish."""
    stack, sim = _built(tmp_path, ("SSO01", "SSO02"))
    backup = Path(stack.outputs("sso-system")["escrowLocation"])
    good = backup.read_bytes()
    backup.write_bytes(good.replace(b"esso-sim-backup", b"esso-sim-bckup!"))
    fail_node(sim, "SSO02")
    evict_node(sim, "SSO02")
    add_node(sim, "SSO04")
    moves = _calls(sim, "Move-SsoRole")
    spec = _spec(tmp_path, ("SSO01", "SSO04"))

    with pytest.raises(EssoError) as err:
        stack.up(spec)
    assert err.value.code == "ESSO-022"
    assert "previous version" in err.value.fix
    world = sim.load()
    assert world.nodes["SSO04"].ssoss == []
    assert world.calls_for(node="SSO04", script="Write-FileChunk") == 0
    assert _calls(sim, "Move-SsoRole") == moves
    assert world.cluster.groups["SSO"].owner_node == "SSO01"

    backup.write_bytes(good)  # the previous version, restored
    events = stack.up(spec)
    assert [e.name for e in events if e.op == "create"] == ["master-secret-restore-sso04"]
    assert [e.name for e in events if e.op == "delete"] == ["master-secret-restore-sso02", "sso-join-sso02"]
    assert projection(sim.load(), ("SSO01", "SSO04")) == _fresh_projection(tmp_path, ("SSO01", "SSO04"))


def test_a_lost_escrow_is_refilled_by_a_new_backup_password_and_the_replacement_restores_from_it(
    tmp_path: Path,
) -> None:
    stack, sim = _built(tmp_path, ("SSO01", "SSO02"))
    old = dict(stack.outputs("sso-system"))
    shutil.rmtree(tmp_path / "escrow")  # the escrow is lost
    fail_node(sim, "SSO02")
    evict_node(sim, "SSO02")
    add_node(sim, "SSO04")

    with pytest.raises(EssoError) as err:
        stack.up(_spec(tmp_path, ("SSO01", "SSO04")))
    assert err.value.code == "ESSO-025"
    assert sim.load().nodes["SSO04"].ssoss == []

    # A new backup password: SsoSystem takes a new backup on node 1 (overwriting the file there) and escrows it.
    events = stack.up(_spec(tmp_path, ("SSO01", "SSO04"), backupPassword=NEW_BACKUP_PASSWORD))
    steps = _event(events, "sso-system").changed_steps()
    assert ("SSO01", "Backup-MasterSecret") in steps
    assert ("SSO01", "escrow-backup") in steps
    system = stack.outputs("sso-system")
    assert system["msid"] == old["msid"]
    assert system["backupSha256"] != old["backupSha256"]
    assert Path(system["escrowLocation"]).exists()
    restore = stack.outputs("master-secret-restore-sso04")
    assert restore["restoredFrom"] == system["escrowLocation"]
    assert projection(sim.load(), ("SSO01", "SSO04")) == _fresh_projection(tmp_path, ("SSO01", "SSO04"))


def test_a_new_backup_password_is_a_new_escrowed_backup_and_restores_keep_their_secret(tmp_path: Path) -> None:
    """Rotating (or replacing a lost) backup password: a new backup, a new escrow object beside the old one;
    the nodes that hold the MSID are not touched."""
    stack, sim = _built(tmp_path, ("SSO01", "SSO02", "SSO03"))
    old = dict(stack.outputs("sso-system"))
    moves = _calls(sim, "Move-SsoRole")
    restores = _calls(sim, "Restore-MasterSecret")
    events = stack.up(_spec(tmp_path, ("SSO01", "SSO02", "SSO03"), backupPassword=NEW_BACKUP_PASSWORD))
    restore_names = {name for name in stack.state if name.startswith("master-secret-restore-")}
    assert {e.name for e in events if e.op == "update"} == {"sso-system", *restore_names}
    system = stack.outputs("sso-system")
    assert system["backupSha256"] != old["backupSha256"]
    assert Path(old["escrowLocation"]).exists()  # the escrow never deletes a backup
    assert Path(system["escrowLocation"]).exists()
    assert _calls(sim, "Move-SsoRole") == moves
    assert _calls(sim, "Restore-MasterSecret") == restores
