"""The namespace controller: a namespace being deleted is emptied of every namespaced object of every deletable kind,
its deletion conditions kept up to date, and then finalized (the `kubernetes` token taken out of spec.finalizers
through the finalize subresource), whereupon the apiserver removes it (pkg/controller/namespace upstream)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from controllers.workqueue import RateLimitingQueue, run_workers
from kubemu.api import kinds
from kubemu.api.serialization import set_time, time_value
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.client.informer import Informer
from kubemu.config import ClusterConfig
from kubemu.pb import core_pb2

log = structlog.get_logger()

FINALIZER_TOKEN = "kubernetes"
FINALIZER_ESTIMATE_SECONDS = 15
"""The wait assumed for finalizers found on content being deleted (finalizerEstimateSeconds)."""
CONCURRENT_NAMESPACE_SYNCS = 10
"""--concurrent-namespace-syncs."""
_DELETES_IN_FLIGHT = 32

# The condition types the deleter owns, in upstream's order, with their reason and message when all is well.
CONDITION_TYPES: tuple[tuple[str, str, str], ...] = (
    ("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered", "All resources successfully discovered"),
    ("NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions", "All legacy kube types successfully parsed"),
    ("NamespaceDeletionContentFailure", "ContentDeleted",
     "All content successfully deleted, may be waiting on finalization"),
    ("NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"),
    ("NamespaceFinalizersRemaining", "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
)


class ResourcesRemaining(Exception):
    """Content is still going away (pods in their grace period, finalizers): look again after a while."""

    def __init__(self, estimate: int) -> None:
        super().__init__(f"some content remains in the namespace, estimate {estimate} seconds before it is removed")
        self.estimate = estimate


@dataclass
class _KindResult:
    estimate: int = 0
    remaining: int = 0
    finalizers: dict[str, int] = field(default_factory=dict)


@dataclass
class _Conditions:
    """namespaceConditionUpdater: the failures of one pass, made into conditions at its end."""

    new: dict[str, tuple[str, str]] = field(default_factory=dict)
    """condition type -> (reason, message) of the ones that report a problem (status True)."""
    content_errors: list[str] = field(default_factory=list)

    def content_totals(self, remaining: dict[str, int], finalizers: dict[str, int]) -> None:
        if remaining:
            parts = sorted(f"{resource} has {n} resource instances" for resource, n in remaining.items() if n)
            self.new["NamespaceContentRemaining"] = (
                "SomeResourcesRemain", f"Some resources are remaining: {', '.join(parts)}")
        if finalizers:
            parts = sorted(f"{f} in {n} resource instances" for f, n in finalizers.items() if n)
            self.new["NamespaceFinalizersRemaining"] = (
                "SomeFinalizersRemain", f"Some content in the namespace has finalizers remaining: {', '.join(parts)}")

    def apply(self, ns: core_pb2.Namespace, now: float) -> bool:
        """Write the conditions into ns.status (the good variant of each type without a problem); True if any
        changed. A condition's lastTransitionTime moves only when its status does."""
        if self.content_errors and "NamespaceDeletionContentFailure" not in self.new:
            msgs = sorted(self.content_errors)
            self.new["NamespaceDeletionContentFailure"] = (
                "ContentDeletionFailed", f"Failed to delete all resource types, {len(msgs)} remaining: "
                                         f"{', '.join(msgs)}")
        changed = False
        for ctype, ok_reason, ok_message in CONDITION_TYPES:
            status, (reason, message) = ("True", self.new[ctype]) if ctype in self.new else \
                ("False", (ok_reason, ok_message))
            old = next((c for c in ns.status.conditions if c.type == ctype), None)
            if old is None:
                old = ns.status.conditions.add(type=ctype, status=status, reason=reason, message=message)
                set_time(old.last_transition_time, float(int(now)))
                changed = True
            elif (old.status, old.reason, old.message) != (status, reason, message):
                if old.status != status:
                    set_time(old.last_transition_time, float(int(now)))
                old.status, old.reason, old.message = status, reason, message
                changed = True
        return changed


def deletable_kinds() -> list[kinds.KindInfo]:
    """The namespaced kinds discovery lists with the delete verb: every one of them is emptied out of a namespace
    that goes (discovery.FilteredBy SupportsAllVerbs{delete})."""
    return [info for info in kinds.all_kinds() if info.namespaced and "delete" in info.verbs]


class NamespaceController:
    def __init__(self, client: Client, config: ClusterConfig, namespaces: Informer[core_pb2.Namespace],
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.config = config
        self.namespaces = namespaces
        self.clock = clock
        self.queue = RateLimitingQueue(name="namespace", base_delay=0.005, max_delay=60.0)
        self.log = log.bind(component="controllers", controller="namespace")
        namespaces.add_handler(self._enqueue, lambda old, new: self._enqueue(new), lambda ns: None)

    def _enqueue(self, ns: core_pb2.Namespace) -> None:
        if ns.metadata.HasField("deletion_timestamp"):
            self.queue.add(ns.metadata.name)

    async def run(self) -> None:
        await run_workers(self.queue, self._sync_and_requeue, CONCURRENT_NAMESPACE_SYNCS,
                          on_error=lambda k, e: self.log.warning("namespace.sync_failed", namespace=k, error=str(e)))

    async def _sync_and_requeue(self, name: str) -> None:
        try:
            await self.sync(name)
        except ResourcesRemaining as e:
            # Not a failure: pods are in their grace period or finalizers are pending. Come back halfway through.
            delay = self.config.scaled(e.estimate / 2 + 1)
            self.log.info("namespace.content_remaining", namespace=name, estimate=e.estimate, retry_in=delay)
            self.queue.add_after(name, delay)

    async def sync(self, name: str) -> None:
        """namespacedResourcesDeleter.Delete, for one namespace."""
        try:
            ns = await self.client.namespaces.get(name)  # the live object: several controllers edit it
        except errors.NotFound:
            return
        if not ns.metadata.HasField("deletion_timestamp"):
            return
        if ns.status.phase != "Terminating":
            ns.status.phase = "Terminating"
            try:
                ns = await self.client.namespaces.update_status(ns)
            except errors.NotFound:
                return
        if not ns.spec.finalizers:
            return  # finalized already
        estimate = await self.delete_all_content(ns)
        if estimate > 0:
            raise ResourcesRemaining(estimate)
        await self._finalize(ns)

    async def _finalize(self, ns: core_pb2.Namespace) -> None:
        """Take our token out of spec.finalizers, the others kept (sorted, as upstream's set leaves them)."""
        for _ in range(5):
            out = core_pb2.Namespace()
            out.CopyFrom(ns)
            del out.spec.finalizers[:]
            out.spec.finalizers.extend(sorted({f for f in ns.spec.finalizers if f != FINALIZER_TOKEN}))
            try:
                await self.client.namespaces.finalize(out)
            except errors.NotFound:
                return  # removed already
            except errors.Conflict:
                ns = await self.client.namespaces.get(ns.metadata.name)
                continue
            self.log.info("namespace.finalized", namespace=ns.metadata.name)
            return
        raise errors.Conflict(f'Operation cannot be fulfilled on namespaces "{ns.metadata.name}": the object has '
                              "been modified; please apply your changes to the latest version and try again")

    async def delete_all_content(self, ns: core_pb2.Namespace) -> int:
        """Delete everything in the namespace; the seconds it is estimated to take to go (0: all gone)."""
        name = ns.metadata.name
        deleted_at = time_value(ns.metadata.deletion_timestamp)
        conditions = _Conditions()
        estimate = 0
        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        errs: list[str] = []
        for info in deletable_kinds():
            try:
                result = await self._delete_kind(info, name, deleted_at)
            except (errors.ApiError, _Unexpected) as e:
                errs.append(str(e))
                conditions.content_errors.append(str(e))
                result = e.result if isinstance(e, _Unexpected) else _KindResult()
            estimate = max(estimate, result.estimate)
            if result.remaining:
                remaining[_group_resource(info)] = result.remaining
                for f, n in result.finalizers.items():
                    finalizers[f] = finalizers.get(f, 0) + n
        conditions.content_totals(remaining, finalizers)
        # Always written when they changed: a condition that said "it failed" must be able to say "it worked".
        if conditions.apply(ns, self.clock()):
            try:
                await self.client.namespaces.update_status(ns)
            except errors.ApiError as e:
                self.log.warning("namespace.status_failed", namespace=name, error=str(e))
        self.log.info("namespace.content_deleted", namespace=name, estimate=estimate, remaining=remaining,
                      errors=len(errs))
        if errs:
            raise _Aggregate(errs)
        return estimate

    async def _delete_kind(self, info: kinds.KindInfo, namespace: str, deleted_at: float) -> _KindResult:
        """deleteAllContentForGroupVersionResource: delete each object of the kind (there is no deletecollection
        on gRPC; upstream falls back to the same), then count what remains and the finalizers holding it."""
        rc = self.client.resource(info.kind)
        items = (await rc.list(namespace)).items
        estimate = self._estimate(items, deleted_at) if info.kind == "Pod" else 0
        slots = asyncio.Semaphore(_DELETES_IN_FLIGHT)

        async def delete(obj: Any) -> None:
            async with slots:
                try:
                    await rc.delete(obj.metadata.name, namespace, propagation_policy="Background")
                except (errors.NotFound, errors.MethodNotAllowed):
                    pass

        await asyncio.gather(*(delete(o) for o in items if not o.metadata.HasField("deletion_timestamp")))
        left = (await rc.list(namespace)).items if items else []
        if not left:
            return _KindResult()
        held: dict[str, int] = {}
        for obj in left:
            for f in obj.metadata.finalizers:
                held[f] = held.get(f, 0) + 1
        if estimate:
            return _KindResult(estimate, len(left), held)
        if held:
            return _KindResult(FINALIZER_ESTIMATE_SECONDS, len(left), held)
        raise _Unexpected(f"unexpected items still remain in namespace: {namespace} for gvr: {_gvr(info)}",
                          _KindResult(0, len(left)))

    def _estimate(self, pods: list[core_pb2.Pod], deleted_at: float) -> int:
        """estimateGracefulTerminationForPods: the longest grace period of the pods not finished, or 0 once that
        long (on the profile's clock) has passed since the namespace's deletion."""
        estimate = 0
        for pod in pods:
            if pod.status.phase in ("Succeeded", "Failed"):
                continue
            if pod.spec.HasField("termination_grace_period_seconds"):
                estimate = max(estimate, pod.spec.termination_grace_period_seconds)
        return 0 if self.clock() - deleted_at >= self.config.scaled(estimate) else estimate


class _Unexpected(Exception):
    def __init__(self, message: str, result: _KindResult) -> None:
        super().__init__(message)
        self.result = result


class _Aggregate(Exception):
    """utilerrors.NewAggregate: several errors in one, `[a, b]` when more than one."""

    def __init__(self, errs: list[str]) -> None:
        super().__init__(errs[0] if len(errs) == 1 else f"[{', '.join(errs)}]")


def _group_resource(info: kinds.KindInfo) -> str:
    """`configmaps.`, `deployments.apps`: gvr.Resource + "." + gvr.Group, as the NamespaceContentRemaining message
    prints it."""
    return f"{info.plural}.{info.group}"


def _gvr(info: kinds.KindInfo) -> str:
    """schema.GroupVersionResource's String(): `/v1, Resource=pods`, `apps/v1, Resource=deployments`."""
    return f"{info.group}/{info.version}, Resource={info.plural}"
