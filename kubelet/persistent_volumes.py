"""The node's simulated disk and the volumes on it: a pod's persistentVolumeClaim volumes (and inline hostPath
volumes) are trees of the node's disk, keyed by the volume's host path (hostPath and local PersistentVolumes) or by
the PersistentVolume's name, not by the pod, so what a pod writes there outlives it and the next pod on the node to
mount that volume sees it (upstream's volume manager, pkg/kubelet/volumemanager, reduced to what a simulation needs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from kubelet.runtime.fs import FileSystem, FsError, Volume, normpath
from kubemu.client import errors
from kubemu.pb import core_pb2

log = structlog.get_logger()

RETRY_SECONDS = 2.0
"""How often a pod whose claim is not bound (yet) asks again (scaled by the profile)."""


@dataclass
class NodeDisk:
    """The node's disk: one tree per host path or volume, made on first use, kept as long as the node's kubelet."""

    trees: dict[str, FileSystem] = field(default_factory=dict)

    def tree(self, key: str) -> FileSystem:
        fs = self.trees.get(key)
        if fs is None:
            fs = self.trees[key] = FileSystem()
        return fs


def disk_key(pv: core_pb2.PersistentVolume) -> str:
    """Where a PersistentVolume's data is on the node: its host path for hostPath and local volumes (shared with any
    hostPath volume of that path), else the volume itself."""
    if pv.spec.HasField("host_path"):
        return normpath(pv.spec.host_path.path)
    if pv.spec.HasField("local"):
        return normpath(pv.spec.local.path)
    return f"pv:{pv.metadata.name}"


GetClaim = Callable[[str, str], Awaitable[Any]]
GetVolume = Callable[[str], Awaitable[Any]]


class VolumeManager:
    """Mounts a pod's node-disk volumes before its containers start (WaitForAttachAndMount): `mount` returns once
    every claim the pod names is bound and its tree is in place."""

    def __init__(self, get_claim: GetClaim, get_volume: GetVolume, *, retry: float = RETRY_SECONDS) -> None:
        self.get_claim = get_claim
        self.get_volume = get_volume
        self.retry = retry
        self.disk = NodeDisk()

    async def mount_until(self, pod: core_pb2.Pod, volumes: dict[str, Volume], wake: asyncio.Event,
                          stopping: Callable[[], bool], waiting: Callable[[], None]) -> bool:
        """`mount`, given up when the pod is to stop meanwhile (`stopping()` after `wake`): True once mounted.
        `waiting()` is called once if the volumes are not there at once (the pod shows ContainerCreating)."""
        if not any(v.HasField("persistent_volume_claim") for v in pod.spec.volumes):
            await self.mount(pod, volumes)  # hostPath volumes at most: nothing to ask for, nothing to wait for
            return True
        mounting = asyncio.ensure_future(self.mount(pod, volumes))
        told = False
        try:
            while not mounting.done():
                woken = asyncio.ensure_future(wake.wait())
                await asyncio.wait({mounting, woken}, timeout=None if told else 0.0,
                                   return_when=asyncio.FIRST_COMPLETED)
                if not told and not mounting.done():
                    told = True
                    waiting()
                woken.cancel()
                if not mounting.done() and stopping():
                    return False
                wake.clear()
            mounting.result()
            return True
        finally:
            mounting.cancel()

    async def mount(self, pod: core_pb2.Pod, volumes: dict[str, Volume]) -> None:
        ns, name = pod.metadata.namespace, pod.metadata.name
        for vol in pod.spec.volumes:
            if vol.HasField("host_path"):
                key = normpath(vol.host_path.path)
            elif vol.HasField("persistent_volume_claim"):
                key = await self._claim_key(ns, name, vol.persistent_volume_claim.claim_name)
            else:
                continue
            target = volumes.get(vol.name)
            if target is None:
                continue
            target.fs = self.disk.tree(key)
            for c in [*pod.spec.init_containers, *pod.spec.containers]:
                for m in c.volume_mounts:
                    if m.name == vol.name and m.sub_path:
                        try:
                            target.fs.mkdir(normpath(m.sub_path), parents=True)
                        except FsError:
                            pass
            log.info("volume.mounted", pod=f"{ns}/{name}", volume=vol.name, disk=key)

    async def _claim_key(self, ns: str, pod: str, claim: str) -> str:
        """The disk key of the claim's volume, once the claim is bound to an existing volume."""
        waiting = False
        while True:
            why = ""
            try:
                pvc = await self.get_claim(claim, ns)
                if pvc.spec.volume_name and pvc.status.phase == "Bound":
                    return disk_key(await self.get_volume(pvc.spec.volume_name))
                why = "claim not bound"
            except errors.ApiError as e:  # NotFound, or the apiserver away for a moment: ask again
                why = str(e)
            if not waiting:
                log.info("volume.waiting", pod=f"{ns}/{pod}", claim=claim, reason=why)
                waiting = True
            await asyncio.sleep(self.retry)
