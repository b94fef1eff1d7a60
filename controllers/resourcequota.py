"""The resource quota controller (pkg/controller/resourcequota upstream): each quota's status.hard follows its
spec, and status.used is recalculated from the objects in its namespace when the quota is created or its spec
changes, when an object it counts goes away or stops counting (replenishment), and on a full resync period."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import structlog

from controllers.workqueue import RateLimitingQueue, run_workers
from kubemu.api import kinds
from kubemu.api import quota as q
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.client.informer import Informer
from kubemu.config import ClusterConfig
from kubemu.pb import core_pb2

log = structlog.get_logger()

RESOURCE_QUOTA_SYNC_PERIOD = 300.0
"""--resource-quota-sync-period: seconds between full recalculations of every quota (scaled by the profile)."""


def _kind_of(resource: str, group: str) -> kinds.KindInfo | None:
    for info in kinds.all_kinds():
        if info.resource == resource and info.group == group:
            return info
    return None


class ResourceQuotaController:
    def __init__(self, client: Client, config: ClusterConfig, informers: dict[str, Informer[Any]],
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.config = config
        self.quotas = informers["ResourceQuota"]
        self.informers = informers
        self.clock = clock
        self.queue = RateLimitingQueue(name="resourcequota")
        self.log = log.bind(component="controllers", controller="resourcequota")
        self.quotas.add_handler(self._enqueue, self._quota_updated, lambda rq: None)
        for key in {("pods", ""), ("services", ""), ("persistentvolumeclaims", "")} | {
                (info.resource, info.group) for info in kinds.all_kinds() if info.kind in informers}:
            info = _kind_of(*key)
            if info is None or info.kind not in informers or info.kind == "ResourceQuota":
                continue
            ev = q.evaluator_for(*key)
            informers[info.kind].add_handler(
                lambda obj: None,
                lambda old, new, ev=ev: self._replenish_on_update(ev, old, new),
                self._replenish,
            )

    # -- event handlers only enqueue keys ---------------------------------------------------------

    @staticmethod
    def _key(obj: Any) -> str:
        return f"{obj.metadata.namespace}/{obj.metadata.name}"

    def _enqueue(self, rq: core_pb2.ResourceQuota) -> None:
        self.queue.add(self._key(rq))

    def _quota_updated(self, old: core_pb2.ResourceQuota, new: core_pb2.ResourceQuota) -> None:
        # Admission charges status.used all the time; only a change of intent asks for a recalculation.
        if dict(old.spec.hard) != dict(new.spec.hard) or dict(new.status.hard) != dict(new.spec.hard):
            self._enqueue(new)

    def _replenish(self, obj: Any) -> None:
        """An object went away: every quota of its namespace may have room again."""
        for rq in self.quotas.store.by_index("namespace", obj.metadata.namespace):
            self._enqueue(rq)

    def _replenish_on_update(self, ev: q.Evaluator, old: Any, new: Any) -> None:
        if not self.quotas.store.by_index("namespace", new.metadata.namespace):
            return  # most namespaces have no quota: nothing to look at
        now = self.clock()
        if ev.resource == "pods" and not ev.group:
            # A pod's resources do not change; it stops counting when it finishes (QuotaV1Pod upstream).
            changed = q.pod_counts(old, now) and not q.pod_counts(new, now)
        else:
            changed = ev.usage(old, now) != ev.usage(new, now)  # a claim that grew, a service that changed type
        if changed:
            self._replenish(new)

    # -- reconcile --------------------------------------------------------------------------------

    async def run(self, workers: int = 2) -> None:
        await asyncio.gather(
            run_workers(self.queue, self.sync, workers,
                        on_error=lambda k, e: self.log.warning("sync.failed", quota=k, error=str(e))),
            self._resync(),
        )

    async def _resync(self) -> None:
        while True:
            for rq in self.quotas.store.list():
                self._enqueue(rq)
            await asyncio.sleep(self.config.scaled(RESOURCE_QUOTA_SYNC_PERIOD))

    async def _objects(self, namespace: str, resource: str, group: str) -> list[Any]:
        info = _kind_of(resource, group)
        if info is None:
            return []
        informer = self.informers.get(info.kind)
        if informer is not None:
            return informer.store.by_index("namespace", namespace)
        return list((await self.client.resource(info.kind).list(namespace)).items)

    async def sync(self, key: str) -> None:
        cached = self.quotas.store.get(key)
        if cached is None:
            return
        namespace = cached.metadata.namespace
        try:
            # The store's copy, not the cache's: admission charges quotas all the time, and a cached status that
            # happens to equal the recalculation would make a needed write look like a no-op.
            rq = await self.client.resource("ResourceQuota").get(cached.metadata.name, namespace)
        except errors.NotFound:
            return
        objects = {res: await self._objects(namespace, *res) for res in q.counted_resources(rq.spec.hard)}
        used = q.to_strings(q.calculate_usage(rq, objects, self.clock()))
        if dict(rq.status.hard) == dict(rq.spec.hard) and dict(rq.status.used) == used:
            return
        new = core_pb2.ResourceQuota()
        new.CopyFrom(rq)
        new.status.hard.clear()
        new.status.hard.update(rq.spec.hard)
        new.status.used.clear()
        new.status.used.update(used)
        try:
            await self.client.resource("ResourceQuota").update_status(new)
        except errors.NotFound:
            return
        # A Conflict propagates: admission charged the quota meanwhile, and the key is retried with backoff.
        self.log.info("quota.synced", quota=key, used=used)
