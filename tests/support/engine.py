"""An imitation of the Pulumi engine's deployment loop, driving the SDK's real dynamic provider host over gRPC.

The Pulumi CLI (and with it the Go engine) is not available here, so this harness does what the engine
does with a Python program's dynamic resources, and nothing the providers could tell apart:

1. ``learn()`` runs ``__main__.py`` under ``set_mocks`` and records each ``RegisterResource`` request
   (``tests/support/engine_program.py``).
2. ``Engine.up / preview / refresh / destroy`` start the SDK's own host (``python -m pulumi.dynamic``, or
   the same servicer in process: ``tests/support/engine_host.py``), hand it the whole stack configuration
   (``Configure``), and send every dynamic resource through ``Check``, ``Diff``, ``Create``, ``Update``,
   ``Read`` and ``Delete`` in dependency order, with the engine's rules (each cited below).
3. State (URN -> id, inputs, outputs, which outputs are secret, options) persists between runs in a JSON
   file whose secrets are encrypted (``tests/support/engine_wire.py``); destroy runs in reverse order.

Engine functions imitated (Go source of pulumi/pulumi; see docs/testing.md):

* ``stepGenerator.generateSteps`` / ``continueStepsFromDiff`` (``pkg/resource/deploy/step_generator.go``):
  create, same, update, replace; create-before-delete by default, delete-before-replace when the provider
  (or the ``deleteBeforeReplace`` option) asks; ``replaceWith``; protect refusing a replacement.
* ``diffResource``: the ``DIFF_UNKNOWN`` fallback to the engine's own input diff.
* ``annotateSecrets`` (``pkg/resource/plugin/provider_plugin.go:918``) and ``MarshalOptions{KeepSecrets}``:
  secrets stripped before each call to a provider that answered ``acceptSecrets: false``, then re-derived.
* ``stepExecutor.continueExecuteStep``: ``additionalSecretOutputs`` marked secret after each step.
* ``provider_plugin.go`` Create/Update (``:1442``, ``:1718``): in a preview a provider without
  ``supportsPreview`` is not called; the inputs stand in for the outputs.
* ``GenerateDeletes`` + ``ScheduleDeletes``: resources no longer registered are deleted at the end, in
  reverse dependency order; ``DeleteStep.Apply``: protect refuses, ``retainOnDelete`` skips the call.
* ``RefreshStep.Apply``: ``Read`` with the last outputs; an empty id means the resource is gone.
* ``findDependentCascadeReplacements``: the dependents whose ``replaceWith`` names a delete-before-replaced
  resource are deleted first, in a random order (a Go map's); they stay in the state as
  ``PendingReplacement`` until recreated, and a later run deletes them again.
* ``stepGenerator.diff``: a replacement forced by ``replaceWith`` does not call the provider's Diff and is
  create-before-delete unless the resource's ``deleteBeforeReplace`` option is set.
* ``RefreshStep.Apply`` + ``GenerateRefreshes``: Reads in parallel, each followed by the provider's Diff.
* ``ApplyProjectConfig`` (``pkg/workspace/config.go``): ``Pulumi.yaml`` defaults in Configure
  (``StackConfig.demo``).

Not imitated (``tests/engine/README.md``): ignoreChanges, replaceOnChanges, update plans,
``--target``/``--exclude``, import, aliases, parallel steps of an up, component and stack state, stack outputs,
resource hooks, output values flowing back into the program (see ``engine_program``), and the
property-dependency half of ``calculateDependentReplacements`` (programs with property dependencies are
refused).

The seed of the cascade's order is drawn per operation (``ESSO_ENGINE_SEED`` fixes it) and printed with any
failure (``EngineError``'s note, and ``tests/engine/conftest.py`` for a failing test).

The modules: ``engine_state`` (state and checkpoint), ``engine_results`` (what an operation reports),
``engine_calls`` (the RPCs and their wire rules), ``engine_steps`` (the step generator), ``engine_host``,
``engine_program``, ``engine_wire``; this module is the ``Engine`` and the public names.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.support.engine_calls import DIFF_NONE, DIFF_SOME, DIFF_UNKNOWN
from tests.support.engine_host import GrpcCall, HostMode, ProviderHost
from tests.support.engine_program import PROJECT, ROOT, Program, Registration, StackConfig, learn
from tests.support.engine_results import Deployment, DiffOutcome, EngineError, Operation, Step
from tests.support.engine_state import ResourceState, StateStore, topological
from tests.support.engine_steps import StepGenerator, in_dependency_order

__all__ = [
    "DIFF_NONE",
    "DIFF_SOME",
    "DIFF_UNKNOWN",
    "PROJECT",
    "ROOT",
    "SEEDS_USED",
    "Deployment",
    "DiffOutcome",
    "Engine",
    "EngineError",
    "GrpcCall",
    "Program",
    "Registration",
    "ResourceState",
    "Session",
    "StackConfig",
    "StateStore",
    "Step",
    "in_dependency_order",
    "learn",
    "topological",
]

Session = StepGenerator
SEEDS_USED: list[int] = []  # every cascade seed drawn in this process, newest last (for failure reports)


def draw_seed() -> int:
    """``ESSO_ENGINE_SEED`` when set (to replay a run), else a fresh one."""
    text = os.environ.get("ESSO_ENGINE_SEED")
    return int(text) if text else random.SystemRandom().randrange(2**32)


class Engine:
    """One stack's engine: its state file, where its provider host runs, and the operations."""

    def __init__(
        self,
        state_path: Path,
        *,
        host: HostMode = "in-process",
        project_dir: Path = ROOT,
        passphrase: str = "engine-harness-passphrase",  # noqa: S107 - the test stack's passphrase
        before_call: Callable[[str, str], None] | None = None,
        seed: int | None = None,
        engine_address: str | None = None,
    ) -> None:
        self.store = StateStore(state_path, passphrase)
        self.engine_address = engine_address  # the engine's own address, passed to the host (engine_log.py)
        self.host_mode: HostMode = host
        self.project_dir = project_dir
        self.before_call = before_call
        self.seed = seed  # the cascade order's seed for every operation; None: drawn per operation
        self.history: list[Deployment] = []

    # ---- state -------------------------------------------------------------------------------
    def state(self) -> list[ResourceState]:
        return self.store.load()

    def resource(self, name: str) -> ResourceState:
        return next(r for r in self.state() if r.name == name and not r.delete)

    # ---- operations --------------------------------------------------------------------------
    def up(self, program: Program) -> Deployment:
        """``pulumi up``: converge every registration, then delete what the program no longer registers."""
        return self._run("update", program.config, lambda run: run.update(program, dry_run=False))

    def preview(self, program: Program) -> Deployment:
        """``pulumi preview``: Check and Diff only; the planned step per resource (``Deployment.plan``)."""
        return self._run("preview", program.config, lambda run: run.update(program, dry_run=True))

    def refresh(self, config: StackConfig) -> Deployment:
        """``pulumi refresh``: Read every resource; report changed outputs; drop what is gone."""
        return self._run("refresh", config, lambda run: run.refresh())

    def destroy(self, config: StackConfig, *, preview: bool = False) -> Deployment:
        """``pulumi destroy``: delete every resource in reverse dependency order."""
        return self._run("destroy", config, lambda run: run.destroy(dry_run=preview))

    @contextlib.contextmanager
    def session(self, config: StackConfig) -> Iterator[Session]:
        """A started and configured host, for tests that call single RPCs (``Session.rpc``, ``Session.wire``)."""
        deployment = Deployment("preview", host_mode=self.host_mode)
        with ProviderHost.start(
            self.host_mode,
            project_dir=self.project_dir,
            project=config.project,
            workdir=self.store.path.parent / "hosts",
        ) as host:
            deployment.calls = host.stub.calls
            session = self._generator(host, config, deployment, 0)
            session.connect()
            yield session

    def _generator(self, host: ProviderHost, config: StackConfig, deployment: Deployment, seed: int) -> StepGenerator:
        return StepGenerator(self.store, host.stub, config, deployment, project_dir=self.project_dir, seed=seed)

    def _run(self, operation: Operation, config: StackConfig, body: Callable[[StepGenerator], None]) -> Deployment:
        seed = self.seed if self.seed is not None else draw_seed()
        SEEDS_USED.append(seed)
        deployment = Deployment(operation, host_mode=self.host_mode, seed=seed)
        self.history.append(deployment)
        workdir = self.store.path.parent / "hosts"
        with ProviderHost.start(
            self.host_mode,
            project_dir=self.project_dir,
            project=config.project,
            workdir=workdir,
            engine_address=self.engine_address,
        ) as host:
            host.stub.before = self.before_call
            deployment.calls = host.stub.calls
            run = self._generator(host, config, deployment, seed)
            try:
                run.connect()
                body(run)
                if deployment.errors:
                    raise EngineError("; ".join(deployment.errors))
            except EngineError as exc:
                exc.deployment = deployment
                exc.add_note(f"cascade order seed {seed} (ESSO_ENGINE_SEED={seed} replays it)")
                raise
            finally:
                deployment.host_stderr = host.stderr()
        return deployment
