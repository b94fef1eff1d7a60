"""Pod garbage collection: pods bound to a node that no longer exists are force-deleted, and finished pods
beyond the terminated-pod-gc-threshold are deleted, oldest first (pkg/controller/podgc upstream)."""

from __future__ import annotations

import asyncio

import structlog

from kubemu.api.serialization import time_value
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.client.informer import Informer
from kubemu.config import ClusterConfig
from kubemu.pb import core_pb2

log = structlog.get_logger()

GC_CHECK_PERIOD = 20.0
"""Seconds between passes (scaled by the profile)."""
TERMINATED_POD_GC_THRESHOLD = 12500
"""--terminated-pod-gc-threshold."""


class PodGCController:
    def __init__(self, client: Client, config: ClusterConfig, pods: Informer[core_pb2.Pod],
                 nodes: Informer[core_pb2.Node], threshold: int = TERMINATED_POD_GC_THRESHOLD) -> None:
        self.client = client
        self.config = config
        self.pods = pods
        self.nodes = nodes
        self.threshold = threshold
        self.log = log.bind(component="controllers", controller="pod-gc")

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.config.scaled(GC_CHECK_PERIOD))
            try:
                await self.gc_once()
            except errors.ApiError as e:
                self.log.warning("gc.failed", error=str(e))

    async def gc_once(self) -> None:
        pods = self.pods.store.list()
        for pod in pods:
            node = pod.spec.node_name
            if node and self.nodes.store.get(node) is None and await self._node_gone(node):
                await self._delete(pod, "orphaned", grace=0)
        finished = [p for p in pods if p.status.phase in ("Succeeded", "Failed")]
        excess = len(finished) - self.threshold
        if excess > 0:
            for pod in sorted(finished, key=lambda p: time_value(p.metadata.creation_timestamp))[:excess]:
                await self._delete(pod, "terminated", grace=None)

    async def _node_gone(self, name: str) -> bool:
        try:
            await self.client.nodes.get(name)  # the cache may lag: ask before deleting anything
        except errors.NotFound:
            return True
        return False

    async def _delete(self, pod: core_pb2.Pod, why: str, grace: int | None) -> None:
        try:
            await self.client.pods.delete(pod.metadata.name, pod.metadata.namespace, uid=pod.metadata.uid,
                                          grace_period_seconds=grace)
        except (errors.NotFound, errors.Conflict):
            return
        self.log.info("pod.collected", pod=f"{pod.metadata.namespace}/{pod.metadata.name}", reason=why)
