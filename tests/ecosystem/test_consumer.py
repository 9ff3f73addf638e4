"""examples/biztalk-consumer reads this stack's outputs as the program really exports them.

Why: the consumer is another team's stack; renaming or removing an output here would break it only
at their next deployment. The output names and values are not typed here: this project's own program
runs under mocks (real providers against the simulator), and the consumer then runs under mocks with
a StackReference that returns exactly those outputs.
"""

from __future__ import annotations

import gc
import re
import runpy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import settings
from pulumi.runtime.settings import get_root_resource

ROOT = Path(__file__).resolve().parents[2]
CONSUMER = ROOT / "examples" / "biztalk-consumer"
SECRETS = {"serviceAccountPassword": "Svc-Consumer-Sentinel-1!", "backupPassword": "Bak-Consumer-Sentinel-2!"}
ESSO_STACK = "organization/esso-cluster/demo"


def resolved(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The root resource's outputs, resolved (run inside a ``pulumi.runtime.test`` function)."""
    got: dict[str, Any] = {}

    @pulumi.runtime.test
    def collect() -> Any:
        return pulumi.Output.all(**outputs).apply(got.update)

    collect()
    return got


def this_stacks_outputs(program: Callable[..., Any]) -> dict[str, Any]:
    program(SECRETS)
    root = get_root_resource()
    assert root is not None
    return resolved(root.outputs)  # type: ignore[attr-defined]


class StackReferenceMocks(pulumi.runtime.Mocks):
    """A StackReference to ESSO_STACK returns the given outputs; nothing else is registered by the consumer."""

    def __init__(self, outputs: Mapping[str, Any]) -> None:
        self.outputs = dict(outputs)
        self.references: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        assert args.typ == "pulumi:pulumi:StackReference", args.typ
        self.references.append(args.inputs["name"])
        return args.inputs["name"], {"name": args.inputs["name"], "outputs": self.outputs, "secretOutputNames": []}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def run_consumer(outputs: Mapping[str, Any]) -> tuple[dict[str, Any], StackReferenceMocks, dict[str, Any]]:
    """Run examples/biztalk-consumer/__main__.py under mocks; returns its exports, the mocks and its globals."""
    mocks = StackReferenceMocks(outputs)
    pulumi.runtime.set_mocks(mocks, project="biztalk-consumer", stack="prod", preview=False)
    pulumi.runtime.set_all_config({"biztalk-consumer:essoStack": ESSO_STACK})
    namespace = runpy.run_path(str(CONSUMER / "__main__.py"), run_name="__main__")
    root = get_root_resource()
    assert root is not None
    return resolved(root.outputs), mocks, namespace  # type: ignore[attr-defined]


@pytest.fixture
def restore_settings() -> Any:
    old = settings.SETTINGS
    yield
    settings.configure(old)
    settings.reset_options()


def test_the_consumer_turns_this_stacks_outputs_into_biztalk_settings(program: Any, restore_settings: Any) -> None:
    outputs = this_stacks_outputs(program)
    exports, mocks, namespace = run_consumer(outputs)
    assert set(namespace["READS"]) <= set(outputs), "the consumer reads an output this stack does not export"
    assert mocks.references == [ESSO_STACK]
    name = outputs["secretServerName"]
    assert exports["ssoServerName"] == name
    assert exports["ssomanageServerAll"] == f"ssomanage -serverall {name}"
    assert exports["joinExistingSsoSystem"] == {
        "databaseServer": outputs["ssoDatabaseServer"],
        "databaseName": outputs["ssoDatabaseName"],
        "serviceAccount": outputs["entssoAccount"],
    }
    assert exports["ssoAdministrators"] == outputs["ssoAdminGroup"]
    assert exports["ssoAffiliateAdministrators"] == outputs["ssoAffiliateAdminGroup"]
    assert "\\" in exports["ssoAdministrators"]  # DOMAIN\group, as BizTalk Configuration wants it


@pytest.mark.filterwarnings("ignore:coroutine 'Output:RuntimeWarning")
def test_a_renamed_output_breaks_the_consumer_here(program: Any, restore_settings: Any) -> None:
    outputs = this_stacks_outputs(program)
    _, _, namespace = run_consumer(outputs)
    for key in namespace["READS"]:
        renamed = {(f"{key}Renamed" if k == key else k): v for k, v in outputs.items()}
        with pytest.raises(Exception, match=key):
            run_consumer(renamed)
    gc.collect()  # the failed run leaves Output coroutines unawaited: collect them under this test's filter


@pytest.mark.filterwarnings("ignore:coroutine 'Output:RuntimeWarning")
def test_an_empty_output_is_refused_with_its_name(program: Any, restore_settings: Any) -> None:
    outputs = this_stacks_outputs(program)
    with pytest.raises(ValueError, match="exports no ssoDatabaseName: run 'pulumi up' on it first"):
        run_consumer({**outputs, "ssoDatabaseName": ""})
    gc.collect()


def test_the_consumer_pins_the_same_sdk() -> None:
    pins = dict(re.findall(r"^([\w-]+)==(\S+)$", (ROOT / "requirements.txt").read_text(encoding="utf-8"), re.M))
    ours = dict(re.findall(r"^([\w-]+)==(\S+)$", (CONSUMER / "requirements.txt").read_text(encoding="utf-8"), re.M))
    assert ours and all(pins[k] == v for k, v in ours.items())
