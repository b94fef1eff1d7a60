"""The kubelet process: one node (`--node-name`) or many (`--nodes K`, the scale mode), all sharing what a process
has once. A Kubelet (kubelet/kubelet.py) is one node: its Node object, pods, pod workers, status manager, podCIDR,
static pods and mirrors. The host owns what the nodes share:

- one Client, so one gRPC channel to the apiserver;
- one pod informer, so one watch: `spec.nodeName=<node>` with one node, else every bound pod (field selectors have
  no set operator), each event dispatched to its node by spec.nodeName and the pods of other processes' nodes
  dropped before they reach the cache;
- one logs/exec server: every Node reports its port in status.daemonEndpoints and the host IP as InternalIP, and
  a request, which names the pod, is routed to the node that runs it;
- one timer loop heartbeating every node's Lease (kubelet/node_status.py LeaseRenewer), one eviction timer and
  one static pod folder timer;
- one podCIDR allocator, which lists the Nodes once for many registrations.

A process with one node behaves as the single-node kubelet always has. Killing the process fails all its nodes at
once, like a rack losing power.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Coroutine
from pathlib import Path
from typing import Any

import grpc
import structlog

from kubelet.kubelet import Kubelet
from kubelet.node_status import LeaseRenewer, NodeSpec, PodCidrs
from kubelet.object_manager import PodObjects
from kubelet.pod_worker import PodWorker
from kubelet.server import KubeletService
from kubemu.client.client import Client
from kubemu.client.informer import Informer, key_of
from kubemu.config import ClusterConfig
from kubemu.pb import api_pb2_grpc, core_pb2

log = structlog.get_logger()

REGISTRATION_CONCURRENCY = 16
"""Nodes registering at the same time (each reads and writes a few objects): bounds a burst at start."""


def node_pod_informer(client: Client, nodes: Collection[str]) -> Informer[core_pb2.Pod]:
    """The pods bound to the nodes of this process. With one node the apiserver filters (spec.nodeName=<node>);
    with several the watch carries every bound pod and pods of other nodes are dropped before the cache."""
    names = set(nodes)
    if len(names) == 1:
        return Informer(client.pods, field_selector=f"spec.nodeName={next(iter(names))}")
    return Informer(client.pods, field_selector="spec.nodeName!=", accept=lambda p: p.spec.node_name in names)


def node_names(count: int, prefix: str = "node-", first_index: int = 1) -> list[str]:
    """`--nodes 3 --node-prefix rack-a- --first-index 1` -> rack-a-1, rack-a-2, rack-a-3."""
    return [f"{prefix}{i}" for i in range(first_index, first_index + count)]


def node_range(names: list[str]) -> str:
    """How host-wide log lines name the nodes of the process: `node-1` or `node-51..node-100`."""
    return names[0] if len(names) == 1 else f"{names[0]}..{names[-1]}"


class KubeletHost:
    def __init__(self, client: Client, specs: list[NodeSpec], config: ClusterConfig,
                 static_paths: list[Path | None], listen: str = "127.0.0.1:0",
                 clock: Callable[[], float] = time.time) -> None:
        if not specs or len(specs) != len(static_paths):
            raise ValueError("one static pod path (or None) per node")
        self.client = client
        self.config = config
        self.listen = listen
        self.clock = clock
        gate = asyncio.Semaphore(REGISTRATION_CONCURRENCY)
        cidrs = PodCidrs(client)
        many = len(specs) > 1
        self.objects = PodObjects(client)
        """One watch per ConfigMap or Secret that a pod of any of the nodes references."""
        self.nodes: dict[str, Kubelet] = {}
        for spec, path in zip(specs, static_paths, strict=True):
            if spec.name in self.nodes:
                raise ValueError(f'node "{spec.name}" given twice')
            self.nodes[spec.name] = Kubelet(client, spec, config, path, clock, on_registered=self._registered,
                                            register_gate=gate, spread=many, cidrs=cidrs, objects=self.objects)
        self.leases = LeaseRenewer(config.node.lease_renew_interval_seconds)
        self.informer = node_pod_informer(client, self.nodes)
        self.informer.add_handler(self._on_pod, lambda old, new: self._on_pod(new), self._on_pod_deleted)
        self.server: grpc.aio.Server | None = None
        self.port = 0
        self.tasks: list[asyncio.Task[Any]] = []
        self.log = log.bind(component="kubelet", node=node_range(list(self.nodes)))

    # -- start and stop ---------------------------------------------------------------------------

    async def start(self) -> None:
        self.server = grpc.aio.server()
        api_pb2_grpc.add_KubeletServicer_to_server(KubeletService(self.find), self.server)
        self.port = self.server.add_insecure_port(self.listen)
        await self.server.start()
        for node in self.nodes.values():
            node.spec.kubelet_port = self.port
            node.start()
        first = next(iter(self.nodes.values()))
        self._spawn(self.leases.run(), "leases")
        self._spawn(self._every(first.oom_interval(), self._oom_tick), "oom-killer")
        self._spawn(self._every(first.eviction_interval(), self._eviction_tick), "eviction-manager")
        self._spawn(self._every(first.static_interval(), self._static_tick), "static-pods")
        self.informer.start()
        self.log.info("kubelet.started", kubelet_port=self.port, nodes=len(self.nodes))

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self.tasks.append(asyncio.create_task(coro, name=name))

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        await self.informer.stop()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await asyncio.gather(*(node.stop() for node in self.nodes.values()), return_exceptions=True)
        await self.objects.stop()
        if self.server is not None:
            await self.server.stop(0.5)

    # -- the shared pod watch ---------------------------------------------------------------------

    async def _on_pod(self, pod: core_pb2.Pod) -> None:
        node = self.nodes.get(pod.spec.node_name)
        if node is not None and node.registered:
            await node.on_pod(pod)

    async def _on_pod_deleted(self, pod: core_pb2.Pod) -> None:
        node = self.nodes.get(pod.spec.node_name)
        if node is not None and node.registered:
            await node.on_pod_deleted(pod)

    async def _registered(self, node: Kubelet) -> None:
        """A node just registered: heartbeat it, and give it the pods the watch already holds for it (later
        changes reach it directly)."""
        self.leases.add(node.agent, spread=len(self.nodes) > 1)
        for pod in self.informer.store.by_index("node", node.name):
            current = self.informer.store.get(key_of(pod))
            if current is not None:
                await node.on_pod(current)

    # -- logs and exec ----------------------------------------------------------------------------

    def find(self, namespace: str, name: str) -> PodWorker | None:
        """The worker of pod namespace/name, on whichever node runs it."""
        pod = self.informer.store.get(f"{namespace}/{name}")
        if pod is not None:
            node = self.nodes.get(pod.spec.node_name)
            found = node.find(namespace, name) if node is not None else None
            if found is not None:
                return found
        for node in self.nodes.values():  # a static pod whose mirror the API does not have (yet)
            found = node.find(namespace, name)
            if found is not None:
                return found
        return None

    # -- timers shared by every node -------------------------------------------------------------

    async def _every(self, interval: float, tick: Callable[[], Coroutine[Any, Any, None]]) -> None:
        while True:
            await asyncio.sleep(interval)
            await tick()

    async def _oom_tick(self) -> None:
        for node in self.nodes.values():
            try:
                node.oom_tick()
            except Exception as e:  # one node's failure must not stop the others' OOM checks
                node.log.warning("oom.check_failed", error=str(e) or type(e).__name__)

    async def _eviction_tick(self) -> None:
        for node in self.nodes.values():
            try:
                await node.eviction_tick()
            except Exception as e:  # one node's failure must not stop the others' eviction manager
                node.log.warning("eviction.failed", error=str(e) or type(e).__name__)

    async def _static_tick(self) -> None:
        for node in self.nodes.values():
            node.static_tick()
