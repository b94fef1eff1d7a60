"""VolumeBinding's PreBind (volumebinding's BindPodVolumes): before a pod is bound, each of its claims that waits for
a first consumer is told the chosen node (volume.kubernetes.io/selected-node), and the binding cycle waits until the
PV controller (and the provisioner) have bound every claim of the pod, as upstream waits up to bindTimeoutSeconds."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from kubemu.api import storage
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.pb import core_pb2
from scheduler.framework import VolumeListers
from scheduler.plugins.volume_binding import claim_names, is_delay_binding

log = structlog.get_logger()

BIND_TIMEOUT_SECONDS = 600.0
"""bindTimeoutSeconds of VolumeBindingArgs (scaled by the profile)."""


class VolumePreBinder:
    def __init__(self, client: Client, listers: VolumeListers, *, time_scale: float = 1.0) -> None:
        self.claims = client.resource("PersistentVolumeClaim")
        self.listers = listers
        self.timeout = BIND_TIMEOUT_SECONDS * time_scale
        self._changed = asyncio.Event()
        self.log = log.bind(component="scheduler")

    def changed(self) -> None:
        """A claim, volume or class changed: the binding cycles waiting on claims look again."""
        self._changed.set()
        self._changed = asyncio.Event()

    def _claims(self, pod: core_pb2.Pod) -> list[Any]:
        out = []
        for name, _ in claim_names(pod):
            pvc = self.listers.claims.get(f"{pod.metadata.namespace}/{name}")
            if pvc is not None:
                out.append(pvc)
        return out

    async def pre_bind(self, pod: core_pb2.Pod, node: str) -> None:
        """Raises TimeoutError when the claims are not bound in time, an errors.ApiError when one cannot be told."""
        pending = [pvc for pvc in self._claims(pod)
                   if not pvc.spec.volume_name and is_delay_binding(pvc, self.listers)]
        if not pending:
            return
        for pvc in pending:
            if pvc.metadata.annotations.get(storage.SELECTED_NODE) != node:
                await self._select(pvc, node)
        self.log.info("pod.waiting_for_volumes", pod=f"{pod.metadata.namespace}/{pod.metadata.name}", node=node,
                      claims=[p.metadata.name for p in pending])
        async with asyncio.timeout(self.timeout):
            while not self._all_bound(pod):
                await self._changed.wait()

    def _all_bound(self, pod: core_pb2.Pod) -> bool:
        for pvc in self._claims(pod):
            if not pvc.spec.volume_name or storage.BIND_COMPLETED not in pvc.metadata.annotations:
                return False
        return True

    async def _select(self, pvc: core_pb2.PersistentVolumeClaim, node: str) -> None:
        for _ in range(5):
            try:
                cur = await self.claims.get(pvc.metadata.name, pvc.metadata.namespace)
            except errors.NotFound:
                return
            cur.metadata.annotations[storage.SELECTED_NODE] = node
            try:
                await self.claims.update(cur)
                return
            except errors.Conflict:
                continue
