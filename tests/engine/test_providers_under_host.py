"""What issue 5 asks of the providers under the host, beyond the scenarios: check() and diff() are safe in a
preview with unknown values (the engine sends them when an input depends on a resource not yet created)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pulumi.runtime import proto

from tests.engine.world import SEED_ORDER, demo_stack, new_engine, remote_calls
from tests.support.engine import learn
from tests.support.engine_wire import UNKNOWN


@pytest.mark.parametrize("unknown", ["nodes", "networkName"])
def test_check_and_diff_accept_unknown_inputs_without_touching_a_node(tmp_path: Path, unknown: str) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path)
    program = learn(config)
    engine.up(program)
    calls = remote_calls(config)
    state = {r.name: r for r in engine.state()}
    with engine.session(config) as session:
        for reg in program.dynamic:
            old = state[reg.name]
            news = {**reg.inputs, unknown: UNKNOWN}
            checked = session.rpc(
                "Check",
                proto.CheckRequest(urn=reg.urn, olds=session.wire(old.inputs), news=session.wire(news)),
                reg.name,
            )
            assert list(checked.failures) == [], reg.name
            diff = session.rpc(
                "Diff",
                proto.DiffRequest(
                    id=old.id,
                    urn=reg.urn,
                    olds=session.wire(old.outputs),
                    news=checked.inputs,
                    old_inputs=session.wire(old.inputs),
                ),
                reg.name,
            )
            # an unknown may change: the provider says "some change" (or cannot tell), never "replace"
            assert diff.changes in (proto.DiffResponse.DIFF_SOME, proto.DiffResponse.DIFF_UNKNOWN), reg.name
            assert list(diff.replaces) == [], reg.name
        assert [c.resource for c in session.deployment.calls if c.method == "Diff"] == SEED_ORDER
    assert remote_calls(config) == calls
