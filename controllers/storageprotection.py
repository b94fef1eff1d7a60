"""The pvc-protection and pv-protection controllers (pkg/controller/volume/pvcprotection, pvprotection): a claim
being deleted keeps its finalizer while a scheduled pod that has not finished names it; a volume being deleted keeps
its finalizer while it is Bound. Once unused, the finalizer goes and the deletion completes."""

from __future__ import annotations

from typing import Any

import structlog

from controllers.workqueue import RateLimitingQueue, run_workers
from kubemu.api import storage
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.client.informer import Informer
from kubemu.pb import core_pb2

log = structlog.get_logger()


def pod_uses_claim(pod: core_pb2.Pod, claim: str) -> bool:
    """podUsesPVC: only a pod on a node counts (the kubelet refuses to start one whose claim is being deleted), and
    one that finished no longer does."""
    if not pod.spec.node_name or pod.status.phase in ("Succeeded", "Failed"):
        return False
    return any(v.HasField("persistent_volume_claim") and v.persistent_volume_claim.claim_name == claim
               for v in pod.spec.volumes)


async def _remove_finalizer(resource: Any, obj: Any, finalizer: str) -> bool:
    """Take `finalizer` off the object (read-modify-write); True when it is off or the object gone."""
    for _ in range(5):
        try:
            cur = await resource.get(obj.metadata.name, obj.metadata.namespace or None)
        except errors.NotFound:
            return True
        if cur.metadata.uid != obj.metadata.uid or finalizer not in cur.metadata.finalizers:
            return True
        cur.metadata.finalizers.remove(finalizer)
        try:
            await resource.update(cur)
            return True
        except errors.Conflict:
            continue
        except errors.NotFound:
            return True
    return False


class PVCProtectionController:
    def __init__(self, client: Client, claims: Informer[Any], pods: Informer[Any]) -> None:
        self.client = client
        self.claims = claims
        self.pods = pods
        self.queue = RateLimitingQueue("pvcprotection")
        self.log = log.bind(component="controllers", controller="pvc-protection")
        claims.add_handler(self._claim, lambda old, new: self._claim(new), None)
        pods.add_handler(None, lambda old, new: self._pod(new), self._pod)

    def _claim(self, pvc: Any) -> None:
        if pvc.metadata.HasField("deletion_timestamp") and storage.PVC_PROTECTION in pvc.metadata.finalizers:
            self.queue.add(f"{pvc.metadata.namespace}/{pvc.metadata.name}")

    def _pod(self, pod: Any) -> None:
        # A pod that finished or went may have been the last user of a claim being deleted.
        for v in pod.spec.volumes:
            if v.HasField("persistent_volume_claim"):
                pvc = self.claims.store.get(f"{pod.metadata.namespace}/{v.persistent_volume_claim.claim_name}")
                if pvc is not None:
                    self._claim(pvc)

    async def run(self) -> None:
        await run_workers(self.queue, self.sync,
                          on_error=lambda key, e: self.log.warning("sync.failed", key=key, error=str(e)))

    async def sync(self, key: str) -> None:
        pvc = self.claims.store.get(key)
        if pvc is None or not pvc.metadata.HasField("deletion_timestamp") or \
                storage.PVC_PROTECTION not in pvc.metadata.finalizers:
            return
        ns, name = pvc.metadata.namespace, pvc.metadata.name
        if any(pod_uses_claim(p, name) for p in self.pods.store.list() if p.metadata.namespace == ns):
            return
        # The cache may lag behind a pod just created: ask the apiserver before letting the claim go (askAPIServer).
        live = (await self.client.pods.list(ns)).items
        if any(pod_uses_claim(p, name) for p in live):
            return
        if await _remove_finalizer(self.client.resource("PersistentVolumeClaim"), pvc, storage.PVC_PROTECTION):
            self.log.info("claim.unprotected", claim=key)


class PVProtectionController:
    def __init__(self, client: Client, volumes: Informer[Any]) -> None:
        self.client = client
        self.volumes = volumes
        self.queue = RateLimitingQueue("pvprotection")
        self.log = log.bind(component="controllers", controller="pv-protection")
        volumes.add_handler(self._volume, lambda old, new: self._volume(new), None)

    def _volume(self, pv: Any) -> None:
        if pv.metadata.HasField("deletion_timestamp") and storage.PV_PROTECTION in pv.metadata.finalizers:
            self.queue.add(pv.metadata.name)

    async def run(self) -> None:
        await run_workers(self.queue, self.sync,
                          on_error=lambda key, e: self.log.warning("sync.failed", key=key, error=str(e)))

    async def sync(self, key: str) -> None:
        pv = self.volumes.store.get(key)
        if pv is None or not pv.metadata.HasField("deletion_timestamp") or \
                storage.PV_PROTECTION not in pv.metadata.finalizers:
            return
        if pv.status.phase == "Bound":  # isBeingUsed: the PV controller moves it on when its claim goes
            return
        if await _remove_finalizer(self.client.resource("PersistentVolume"), pv, storage.PV_PROTECTION):
            self.log.info("volume.unprotected", volume=key)
