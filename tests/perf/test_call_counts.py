"""Remote calls per operation, counted by the simulator (issue 15): counts are stable, times are not."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.bench import Stack
from tests.support.engine import learn


@pytest.mark.parametrize("n", [2, 4])
def test_refresh_reads_each_node_once_and_previews_read_nothing(tmp_path: Path, n: int) -> None:
    stack = Stack(tmp_path, n)
    first = stack.up()
    program = learn(stack.config)
    assert sum(stack.counted(lambda: stack.engine.preview(program)).values()) == 0
    assert sum(stack.up().values()) == 0  # a no-change up
    refresh = stack.counted(lambda: stack.engine.refresh(stack.config))
    scripts = Counter(k.split("/", 1)[1] for k in refresh.elements())
    # one facts script per node, plus the cluster, the database and the domain groups: N + 3
    assert sum(refresh.values()) == n + 3
    assert scripts == Counter(
        {"Get-NodeFacts": n, "Get-ClusterFacts": 1, "Get-SsoDatabaseFacts": 1, "Get-DomainGroupFacts": 1}
    )
    assert all(refresh[f"{node}/Get-NodeFacts"] == 1 for node in (f"SSO{i:02d}" for i in range(1, n + 1)))
    # the first up reads node facts at most this often per node (without the cache: 13.5 at N=2, 18.5 at N=4)
    # and makes at most this many calls in all (before issue 15: 61 and 144 on main; the per-node failover
    # proof of point 1 lowered them to 49 and 85; the folded restore chain takes three calls per restored node
    # off: Remove-ProtectedPath (Restore-MasterSecret removes its own copy), New-ProtectedTempDir (Write-FileChunk
    # makes the folder) and Restart-SsoClusterResource (Move-SsoRole cycles ENTSSO): 46 and 76)
    assert sum(first.values()) <= {2: 46, 4: 76}[n]
    assert not any(k.endswith("/Restart-SsoClusterResource") for k in first)
    assert sum(v for k, v in first.items() if k.endswith("/New-ProtectedTempDir")) == 1  # the creator's sweep
    node_reads = sum(v for k, v in first.items() if k.endswith("/Get-NodeFacts"))
    assert node_reads <= {2: 14, 4: 28}[n]
    assert sum(v for k, v in first.items() if k.endswith("/Remove-ProtectedPath")) == 1  # the creator's sweep
