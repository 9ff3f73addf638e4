"""Each precondition the seed assumes is refused with its ESSO code before any change script runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from provider.contracts import SCRIPTS
from provider.errors import EssoError
from provider.remote.simulator import Simulator
from provider.remote.world import World
from tests.support.procedure import Procedure, Stack, demo_spec

CHANGE_SCRIPTS = {name for name, s in SCRIPTS.items() if s.changes}


def _nlb(w: World) -> None:
    w.nodes["SSO02"].nlb = True


def _not_installed(w: World) -> None:
    w.nodes["SSO02"].esso_installed = False


def _other_version(w: World) -> None:
    w.nodes["SSO02"].esso_version = "10.0.1000.0"


def _node_down(w: World) -> None:
    w.cluster.nodes["SSO02"] = "Down"


def _not_member(w: World) -> None:
    del w.cluster.nodes["SSO02"]


def _no_msdtc(w: World) -> None:
    for name in [n for n, r in w.cluster.resources.items() if r.type == "Distributed Transaction Coordinator"]:
        del w.cluster.resources[name]


def _duplicate_cid(w: World) -> None:
    dtc = next(r for r in w.cluster.resources.values() if r.type == "Distributed Transaction Coordinator")
    w.nodes["SSO01"].dtc_cid = str(dtc.parameters["CID"])


def _cloned_node_cid(w: World) -> None:
    """Two nodes from one cloned image share their local MSDTC CID (issue 9 A3)."""
    w.nodes["SSO02"].dtc_cid = w.nodes["SSO01"].dtc_cid


def _no_network_name(w: World) -> None:
    for name in [n for n, r in w.cluster.resources.items() if r.type == "Network Name" and r.group == "SSO"]:
        del w.cluster.resources[name]


def _other_network_name(w: World) -> None:
    netname = next(r for r in w.cluster.resources.values() if r.type == "Network Name" and r.group == "SSO")
    netname.parameters["Name"] = "OTHERNAME"


def _gpo_without_account(w: World) -> None:
    w.nodes["SSO01"].gpo_logon_right = ["CONTOSO\\svc-other"]


CASES: list[tuple[str, Callable[[World], None], str]] = [
    ("nlb", _nlb, "ESSO-001"),
    ("esso-not-installed", _not_installed, "ESSO-016"),
    ("esso-version-differs", _other_version, "ESSO-016"),
    ("node-down", _node_down, "ESSO-017"),
    ("node-not-member", _not_member, "ESSO-017"),
    ("no-msdtc", _no_msdtc, "ESSO-008"),
    ("msdtc-cid-duplicated", _duplicate_cid, "ESSO-008"),
    ("node-cids-cloned", _cloned_node_cid, "ESSO-008"),
    ("role-without-network-name", _no_network_name, "ESSO-009"),
    ("network-name-mismatch", _other_network_name, "ESSO-007"),
    ("gpo-would-revert-logon-right", _gpo_without_account, "ESSO-018"),
]


@pytest.mark.parametrize(("name", "breaks", "code"), CASES, ids=[c[0] for c in CASES])
def test_preflight_refuses_before_any_change(
    tmp_path: Path, name: str, breaks: Callable[[World], None], code: str
) -> None:
    spec = demo_spec(tmp_path)
    sim = Simulator(tmp_path / "world.json")
    sim.seed(spec)
    with sim.edit() as world:
        breaks(world)
    with pytest.raises(EssoError) as err:
        Procedure(spec).up()
    assert err.value.code == code, str(err.value)
    calls = sim.load().calls
    ran = {key.split("/", 1)[1] for key, count in calls.items() if count}
    assert not ran & CHANGE_SCRIPTS, f"change scripts ran before the refusal: {ran & CHANGE_SCRIPTS}"
    assert "Fix:" in str(err.value)


def test_missing_second_hop_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    spec = demo_spec(tmp_path, transport={"auth": "negotiate", "secondHop": "none"})
    sim = Simulator(tmp_path / "world.json")
    sim.seed(spec)
    with pytest.raises(EssoError) as err:
        Procedure(spec).up()
    assert err.value.code == "ESSO-015"
    assert sum(sim.load().calls.values()) == 0


def test_stale_token_without_sso_administrators_is_refused(tmp_path: Path) -> None:
    """Rule 13: the configuring account's session must be opened after it joined SSO Administrators."""
    spec = demo_spec(tmp_path)
    sim = Simulator(tmp_path / "world.json")
    sim.seed(spec)
    stack = Stack()
    stack.up(spec, targets={"sso-domain-groups"})  # the groups first, as the component orders them
    # Someone removes the configuring account from the group behind our back: a new token lacks it.
    with sim.edit() as world:
        group = world.domain.groups["SSO Administrators"]
        group.members = [m for m in group.members if m.lower() != "esso-config"]
    before = sim.load().calls_for(script="Install-SsoSystem")
    with pytest.raises(EssoError) as err:
        stack.up(spec, targets={"sso-system"})
    assert err.value.code == "ESSO-004"
    assert sim.load().calls_for(script="Install-SsoSystem") == before
