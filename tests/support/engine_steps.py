"""The harness's step generator: which steps an ``up``, preview, refresh or destroy takes, in which order.

Each rule names the Go function it imitates (``pkg/resource/deploy/step_generator.go`` and ``step.go`` of
pulumi/pulumi at 1b5949891b, v3.259.0 + 14 commits; see ``tests/engine/README.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from tests.support.engine_calls import Calls
from tests.support.engine_program import Program, Registration
from tests.support.engine_results import DiffOutcome, EngineError
from tests.support.engine_state import ResourceState, topological
from tests.support.engine_wire import annotate_secrets, diff_inputs, from_struct, mark_additional_secret_outputs

REFRESH_WORKERS = 4  # the dynamic host serves four calls at a time (``ThreadPoolExecutor(max_workers=4)``)


class StepGenerator(Calls):
    """``stepGenerator`` and the step executor of one operation, serialized per resource."""

    # ---- up and preview ----------------------------------------------------------------------
    def update(self, program: Program, *, dry_run: bool) -> None:
        """Steps for every registration in dependency order, then the deletes (``generateSteps``)."""
        registrations = in_dependency_order(program.dynamic)
        seen: set[str] = set()
        replaced: set[str] = set()  # URNs replaced (or planned to be) in this deployment (``sg.replaces``)
        condemned: dict[str, ResourceState] = {}  # deleted early by a delete-before-replace (``sg.deletes``)
        pending: list[ResourceState] = []  # old halves of create-before-delete replacements
        for reg in registrations:
            seen.add(reg.urn)
            if reg.urn in condemned:
                # Case 1 of generateSteps, "recreating": Check with no olds (the ``recreating`` branch of the
                # Check call), then Replace + CreateReplacement; Diff is not called.
                inputs = self.check(reg, {})
                new = self.create(reg, inputs, dry_run=dry_run)
                self.step("create-replacement", reg, note="recreated after a delete-before-replace")
                replaced.add(reg.urn)
                if not dry_run:
                    self.put(new)
                continue
            old = self.live(reg.urn)
            inputs = self.check(reg, old.inputs if old else {})
            if old is None:
                new = self.create(reg, inputs, dry_run=dry_run)
                self.step("create", reg)
                if not dry_run:
                    self.put(new)
                continue
            forced = [urn.rsplit("::", 1)[-1] for urn in reg.replace_with if urn in replaced]
            # stepGenerator.diff: a resource whose ReplaceWith names a replaced resource is replaced before the
            # provider is asked (``DiffResult{DiffSome, ReplaceKeys: ["replaceWith"]}``), and delete-before-replace
            # only if the resource's own option says so.
            diff = DiffOutcome(True, ("replaceWith",), False, (), False) if forced else self.diff(reg, old, inputs)
            if not old.pending_replacement and not diff.changes:
                self.step("same", reg)
                if not dry_run:
                    self.put(ResourceState.of(reg, old.id, inputs, old.outputs))
                continue
            if not old.pending_replacement and not diff.replaces:
                new = self.update_call(reg, old, inputs, dry_run=dry_run)
                self.step("update", reg, diff.changed_keys, "engine diff (DIFF_UNKNOWN)" if diff.fallback else "")
                if not dry_run:
                    self.put(new)
                continue
            # continueStepsFromDiff: ``diff.Replace() || triggerReplace || old.PendingReplacement``
            self.replace(reg, old, diff, forced, dry_run=dry_run, condemned=condemned, pending=pending)
            replaced.add(reg.urn)
        self.delete_unregistered(seen, condemned, pending, dry_run=dry_run)

    def replace(
        self,
        reg: Registration,
        old: ResourceState,
        diff: DiffOutcome,
        forced: list[str],
        *,
        dry_run: bool,
        condemned: dict[str, ResourceState],
        pending: list[ResourceState],
    ) -> None:
        """A replacement (``continueStepsFromDiff``).

        * protect: refused when the resource is protected both in state and in the program ("we do allow
          unprotecting and replacing to happen in a single update"); a preview records the error and goes on.
        * the engine re-runs Check without olds before replacing ("recompute the default values").
        * delete-before-replace (the provider's ``deleteBeforeReplace``, overridden by the option): the
          dependents condemned with the resource are deleted first (``cascade``), then the old resource
          (unless it is already pending replacement: ``if !old.PendingReplacement``), then the new one is
          created; otherwise create first and delete the old one with the other deletes at the end (an old
          state already pending replacement is not deleted again: the create flushes it).
        """
        keys = tuple(f"replaceWith:{name}" for name in forced) or diff.replaces or ("pendingReplacement",)
        if reg.protect and old.protect:
            message = f"unable to replace resource {reg.urn!r} as it is currently marked for protection"
            if not dry_run:
                raise EngineError(message, resource=reg.name, method="Diff")
            self.deployment.errors.append(message)
        inputs = self.check(reg, {})
        dbr = reg.delete_before_replace if reg.delete_before_replace is not None else diff.delete_before_replace
        if dbr:
            for dependent in reversed(self.cascade(old)):
                if dependent.urn in condemned:  # ``sg.pendingDeletes``: already deleted by another DBR
                    continue
                if dependent.delete:  # a pending delete: a plain DeleteStep
                    self.delete(dependent, op="delete-replaced", dry_run=dry_run)
                    continue
                if dependent.protect:
                    raise EngineError(
                        f"unable to replace resource {dependent.urn!r} as part of replacing {reg.urn!r} "
                        "as it is currently marked for protection",
                        resource=dependent.name,
                        method="Delete",
                    )
                condemned[dependent.urn] = dependent
                self.delete(dependent, op="delete-replaced", dry_run=dry_run, pending_replace=True)
            if not old.pending_replacement:
                self.delete(old, op="delete-replaced", dry_run=dry_run, pending_replace=True)
            new = self.create(reg, inputs, dry_run=dry_run)
            self.step("create-replacement", reg, keys, "delete-before-replace")
        else:
            new = self.create(reg, inputs, dry_run=dry_run)
            self.step("create-replacement", reg, keys, "create-before-delete")
            if not dry_run and not old.pending_replacement:
                old = replace(old, delete=True)
                self.current = [
                    replace(s, delete=True) if s.urn == old.urn and not s.delete else s for s in self.current
                ]
            if not old.pending_replacement:
                pending.append(old)
        self.step("replace", reg, keys)
        if not dry_run:
            self.put(new)

    def cascade(self, root: ResourceState) -> list[ResourceState]:
        """The dependents a delete-before-replace of ``root`` condemns, in the order they are listed (deleted
        back to front).

        ``continueStepsFromDiff`` appends ``findDependentCascadeReplacements(urn)`` to
        ``calculateDependentReplacements(old)``. The latter re-diffs dependents whose *property* dependencies
        reach a condemned resource; ``learn`` refuses programs with property dependencies, so it is empty
        here. The former is every state whose ``ReplaceWith`` names ``root`` (directly: no dependency edge
        needed, not transitive), collected by ranging over ``sg.deployment.olds``, a Go map: its order is
        unspecified and random from run to run. The harness shuffles it with the deployment's seed.
        """
        found = [s for s in self.current if root.urn in s.replace_with and s.urn != root.urn]
        self.rng.shuffle(found)
        return found

    def delete_unregistered(
        self, seen: set[str], condemned: Mapping[str, ResourceState], pending: list[ResourceState], *, dry_run: bool
    ) -> None:
        """``GenerateDeletes`` + ``ScheduleDeletes``: what the program no longer registers, and the old halves
        of create-before-delete replacements, deleted in reverse dependency order. A resource pending
        replacement that is no longer registered leaves the state without a Delete
        (``NewRemovePendingReplaceStep``)."""
        doomed = [s for s in self.current if s.delete or (s.urn not in seen and s.urn not in condemned)]
        if dry_run:
            doomed += [s for s in pending if s not in doomed]
        for old in reversed(topological(doomed)):
            if old.pending_replacement and not old.delete:
                self.step("remove-pending-replace", old)
                if not dry_run:
                    self.drop(old)
                continue
            self.delete(old, op="delete-replaced" if old.delete or old in pending else "delete", dry_run=dry_run)

    # ---- refresh and destroy -----------------------------------------------------------------
    def refresh(self) -> None:
        """``GenerateRefreshes`` + ``ExecuteParallel``: every resource's ``RefreshStep`` at once.

        Each Read (and the Diff after it, ``Calls.read``) runs on its own thread, four at a time like the
        host; a resource pending replacement is not read ("pending-replace resources never change with a
        refresh"). The results are applied in state order: secretness re-derived against the old outputs
        and inputs (``annotateSecrets``), ``additionalSecretOutputs`` marked again; an empty id means the
        resource is gone and it leaves the state. ``Deployment.refreshed`` names the outputs that changed
        and ``Deployment.refresh_diffs`` the keys of the provider's inverted Diff.
        """
        olds = [s for s in self.current if not s.delete and not s.pending_replacement]
        with ThreadPoolExecutor(max_workers=REFRESH_WORKERS) as pool:
            answers = list(pool.map(self.read, olds))
        for old, (response, diff_keys) in zip(olds, answers, strict=True):
            if diff_keys is None:
                self.deployment.gone.append(old.name)
                self.step("refresh", old, note="gone: removed from the state")
                self.drop(old)
                continue
            outputs = annotate_secrets(from_struct(response.properties), old.outputs)
            inputs = (
                annotate_secrets(from_struct(response.inputs), old.inputs)
                if response.HasField("inputs")
                else old.inputs
            )
            new = replace(
                old,
                id=response.id,
                inputs=inputs,
                outputs=mark_additional_secret_outputs(outputs, old.additional_secret_outputs),
            )
            changed = [k for k in diff_inputs(old.outputs, new.outputs) if k != "__provider"]
            self.deployment.refreshed[old.name] = changed
            self.deployment.refresh_diffs[old.name] = list(diff_keys)
            self.step("refresh", old, changed)
            self.put(new)

    def destroy(self, *, dry_run: bool) -> None:
        """``pulumi destroy``: every resource in reverse dependency order; one pending replacement is only
        removed from the state (``NewRemovePendingReplaceStep``)."""
        for old in reversed(topological(list(self.current))):
            if old.pending_replacement and not old.delete:
                self.step("remove-pending-replace", old)
                if not dry_run:
                    self.drop(old)
                continue
            self.delete(old, op="delete-replaced" if old.delete else "delete", dry_run=dry_run)


def in_dependency_order(registrations: Sequence[Registration]) -> list[Registration]:
    """Registrations in dependency order (stable: the SDK already registers a resource after its dependencies)."""
    as_states = [
        ResourceState(r.urn, r.type, r.name, "", r.parent, r.inputs, {}, r.dependencies) for r in registrations
    ]
    by_urn = {r.urn: r for r in registrations}
    return [by_urn[s.urn] for s in topological(as_states)]


__all__: list[str] = ["StepGenerator", "in_dependency_order"]
