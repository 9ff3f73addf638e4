"""Whether a join is this stack's comes from evidence that survives a retry, not from ``changed`` (issue 14).

Join-SsoSystem.ps1 writes HKLM\\SOFTWARE\\esso-cluster JoinedSystem before Configuration.exe runs; a retried
create, which sees ``changed: false``, still finds it. A node configured before the stack carries no marker and
stays adopted (its delete keeps its configuration). Follow-up A of the fault review: a join whose reply was
lost, then the node leaves the stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from provider import contracts
from provider.errors import EssoError
from provider.remote.base import TransientRemoteError
from provider.remote.simulator import Simulator, demo_world
from tests.support.driver import Driver
from tests.support.procedure import demo_spec
from tests.support.replacement import Stack

THREE = ("SSO01", "SSO02", "SSO03")


def _seeded(tmp_path: Path, nodes: tuple[str, ...]) -> Simulator:
    sim = Simulator(tmp_path / "world.json")
    sim.seed(demo_world(nodes=list(nodes)))
    return sim


def test_a_join_whose_reply_was_lost_is_still_this_stacks_and_leaving_unconfigures_the_node(tmp_path: Path) -> None:
    sim = _seeded(tmp_path, THREE)
    sim.inject("SSO03", "Join-SsoSystem", "drop_after")
    stack = Stack()
    with pytest.raises(TransientRemoteError) as err:
        stack.up(demo_spec(tmp_path, THREE))
    assert (err.value.node, err.value.step) == ("SSO03", "Join-SsoSystem")
    assert sim.load().nodes["SSO03"].join_marker == "SQL01/SSODB"  # written before the change, kept after it
    stack.up(demo_spec(tmp_path, THREE))
    join = stack.outputs("sso-join-sso03")
    assert join["joined"] is True
    assert [s["changed"] for s in join["steps"] if s["step"] == "Join-SsoSystem"] == [False]  # not from changed

    events = stack.up(demo_spec(tmp_path, THREE[:2]))
    deleted = next(e for e in events if e.name == "sso-join-sso03")
    assert (deleted.op, [(s["step"], s["changed"]) for s in deleted.steps][-1]) == (
        "delete",
        ("Remove-SsoNodeConfiguration", True),
    )
    node = sim.load().nodes["SSO03"]
    assert (node.sso_server, node.sso_database, node.entsso_account, node.join_marker) == (None, None, None, None)


def test_a_node_configured_before_the_stack_is_adopted_and_keeps_its_configuration(tmp_path: Path) -> None:
    spec = demo_spec(tmp_path, THREE)
    _seeded(tmp_path, THREE)
    stack = Stack()
    stack.up(spec)
    sim = Simulator(tmp_path / "world.json")
    stack.forget("master-secret-restore-sso03")  # the join's dependent first, as `pulumi state delete` requires

    def create_join() -> dict[str, Any]:
        """The join of SSO03 created anew (an import, or a create retried): forgotten, then up as the target."""
        stack.forget("sso-join-sso03")
        stack.up(spec, targets={"sso-join-sso03"})
        return stack.outputs("sso-join-sso03")

    with sim.edit() as world:
        world.nodes["SSO03"].join_marker = None  # configured by hand, before this stack existed
    assert create_join()["joined"] is False
    with sim.edit() as world:
        world.nodes["SSO03"].join_marker = "sql01/ssodb"  # this tool's marker (any case) makes it this stack's
    assert create_join()["joined"] is True
    with sim.edit() as world:
        world.nodes["SSO03"].join_marker = "SQL02/OTHERDB"  # a marker for another system is not evidence
    assert create_join()["joined"] is False


def test_the_marker_is_written_by_a_change_and_removed_only_for_its_own_system(driver: Driver) -> None:
    """The simulator's model of the two scripts: no marker on adoption, none left after unconfiguring."""
    driver.prepare()
    driver.install()
    creator = driver.sim.load().nodes["SSO01"]
    assert creator.sso_server == "SQL01" and creator.join_marker is None  # Install-SsoSystem writes none
    driver.join("SSO02")
    assert driver.sim.load().nodes["SSO02"].join_marker == "SQL01/SSODB"
    assert driver.facts("SSO02").join_marker == "SQL01/SSODB"
    other = contracts.RemoveNodeConfigParams(server="SQL02", database="OTHERDB")
    with pytest.raises(EssoError) as refused:  # another system's unconfigure is refused (ESSO-005), marker kept
        driver.run("SSO02", contracts.REMOVE_SSO_NODE_CONFIGURATION, other)
    assert refused.value.code == "ESSO-005"
    assert driver.sim.load().nodes["SSO02"].join_marker == "SQL01/SSODB"
    ours = contracts.RemoveNodeConfigParams(server="SQL01", database="SSODB")
    assert driver.run("SSO02", contracts.REMOVE_SSO_NODE_CONFIGURATION, ours).changed is True
    assert driver.sim.load().nodes["SSO02"].join_marker is None
