"""The node lifecycle controller: a node whose Lease goes unrenewed for node-monitor-grace-period becomes
Unknown ("Kubelet stopped posting node status.") and gets the unreachable taints; a NotReady node gets the
not-ready taints; both go when it is healthy again. NoExecute taints are added at a per-zone rate so a dead
rack is not evicted at once; the taint manager then deletes the pods that do not tolerate them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

from controllers.workqueue import RateLimitingQueue, run_workers
from kubemu.api.nodematch import tolerates
from kubemu.api.serialization import set_time, time_value
from kubemu.client import errors
from kubemu.client.client import Client, retry_on_conflict
from kubemu.client.events import EventRecorder
from kubemu.client.informer import Informer
from kubemu.config import ClusterConfig
from kubemu.pb import coordination_pb2, core_pb2

log = structlog.get_logger()

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
ZONE_LABEL = "topology.kubernetes.io/zone"
NODE_EVICTION_RATE = 0.1
"""--node-eviction-rate: NoExecute taints per second per zone (divided by the profile's time scale)."""
MARK_PODS_CONCURRENCY = 16
"""Pod status writes in flight while marking a lost node's pods not Ready."""
EVICTION_WORKERS = 8
"""The taint eviction controller's workers (upstream's UpdateWorkerSize): evictions from a lost node are
deleted concurrently, not one at a time."""


def ready_condition(node: core_pb2.Node) -> core_pb2.NodeCondition | None:
    return next((c for c in node.status.conditions if c.type == "Ready"), None)


def desired_taints(node: core_pb2.Node) -> set[tuple[str, str]]:
    """The condition taints a node should carry (key, effect), from its Ready condition and spec."""
    ready = ready_condition(node)
    out: set[tuple[str, str]] = set()
    if ready is not None and ready.status == "Unknown":
        out |= {(UNREACHABLE, "NoExecute"), (UNREACHABLE, "NoSchedule")}
    elif ready is not None and ready.status == "False":
        out |= {(NOT_READY, "NoExecute"), (NOT_READY, "NoSchedule")}
    if node.spec.unschedulable:
        out.add((UNSCHEDULABLE, "NoSchedule"))
    return out


MANAGED = {(UNREACHABLE, "NoExecute"), (UNREACHABLE, "NoSchedule"), (NOT_READY, "NoExecute"),
           (NOT_READY, "NoSchedule"), (UNSCHEDULABLE, "NoSchedule")}


class NodeLifecycleController:
    def __init__(self, client: Client, config: ClusterConfig, nodes: Informer[core_pb2.Node],
                 leases: Informer[coordination_pb2.Lease], pods: Informer[core_pb2.Pod],
                 recorder: EventRecorder, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.config = config
        self.nodes = nodes
        self.leases = leases
        self.pods = pods
        self.recorder = recorder
        self.clock = clock
        self.monotonic = monotonic
        self.probe: dict[str, tuple[float, float]] = {}
        """Per node: (renewTime last seen, local time we saw it change). Local time, so clock skew between
        hosts cannot make a live node look dead (upstream's probeTimestamp)."""
        self.queue = RateLimitingQueue(name="node-lifecycle")
        self.zone_tokens: dict[str, float] = {}
        self.zone_refill: dict[str, float] = {}
        self.log = log.bind(component="controllers", controller="node-lifecycle")
        nodes.add_handler(lambda n: self.queue.add(n.metadata.name),
                          lambda o, n: self.queue.add(n.metadata.name), None)

    async def run(self) -> None:
        workers = asyncio.create_task(run_workers(self.queue, self.sync, 1))
        try:
            while True:
                for name in self.nodes.store.keys():
                    self.queue.add(name)
                await asyncio.sleep(self.config.node.node_monitor_period_seconds)
        finally:
            self.queue.shut_down()
            workers.cancel()

    def _last_heartbeat(self, node: core_pb2.Node) -> float:
        """Local time of the node's last sign of life: its Lease renewal, else its Ready heartbeat."""
        lease = self.leases.store.get(f"kube-node-lease/{node.metadata.name}")
        seen = time_value(lease.spec.renew_time) if lease is not None else 0.0
        ready = ready_condition(node)
        if ready is not None:
            seen = max(seen, time_value(ready.last_heartbeat_time))
        name = node.metadata.name
        prev = self.probe.get(name)
        now = self.monotonic()
        if prev is None or seen > prev[0]:
            self.probe[name] = (seen, now)
            return now
        return prev[1]

    def _take_token(self, zone: str) -> bool:
        rate = NODE_EVICTION_RATE / max(self.config.time_scale, 1e-6)
        now = self.monotonic()
        last = self.zone_refill.get(zone, now)
        tokens = min(1.0, self.zone_tokens.get(zone, 1.0) + (now - last) * rate)
        self.zone_refill[zone] = now
        if tokens >= 1.0:
            self.zone_tokens[zone] = tokens - 1.0
            return True
        self.zone_tokens[zone] = tokens
        return False

    async def sync(self, name: str) -> None:
        node = self.nodes.store.get(name)
        if node is None:
            self.probe.pop(name, None)
            return
        heartbeat = self._last_heartbeat(node)
        grace = self.config.node.node_monitor_grace_period_seconds
        marked = None
        if self.monotonic() - heartbeat > grace:
            marked = await self._mark_unknown(node)
        # The taints first (upstream queues the node for its NoExecute taint before MarkPodsNotReady): a node with
        # many pods must not wait for each pod's status write before its pods can be evicted.
        await self._reconcile_taints(marked if marked is not None else node)
        if marked is not None:
            await self.recorder.event(node, "Normal", "NodeNotReady",
                                      f"Node {node.metadata.name} status is now: NodeNotReady")
            await self._mark_pods_not_ready(node.metadata.name)

    async def _mark_unknown(self, node: core_pb2.Node) -> core_pb2.Node | None:
        """Set the node's conditions Unknown; the node as written, or None when they already were."""
        ready = ready_condition(node)
        if ready is not None and ready.status == "Unknown":
            return None
        never = ready is None

        async def write() -> core_pb2.Node:
            cur = await self.client.nodes.get(node.metadata.name)
            now = float(int(self.clock()))
            for ctype in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
                c = next((c for c in cur.status.conditions if c.type == ctype), None)
                if c is None:
                    c = cur.status.conditions.add(type=ctype)
                if c.status != "Unknown":
                    set_time(c.last_transition_time, now)
                c.status = "Unknown"
                c.reason = "NodeStatusNeverUpdated" if never else "NodeStatusUnknown"
                c.message = "Kubelet never posted node status." if never else "Kubelet stopped posting node status."
            return await self.client.nodes.update_status(cur)

        written = await retry_on_conflict(write)
        self.log.warning("node.unknown", node=node.metadata.name)
        return written

    async def _mark_pods_not_ready(self, node_name: str) -> None:
        """MarkPodsNotReady: pods on an unreachable node are not Ready (services stop sending them traffic).
        Written MARK_PODS_CONCURRENCY at a time."""
        slots = asyncio.Semaphore(MARK_PODS_CONCURRENCY)

        async def write(pod: core_pb2.Pod) -> None:
            cur = await self.client.pods.get(pod.metadata.name, pod.metadata.namespace)
            for c in cur.status.conditions:
                if c.type in ("Ready", "ContainersReady") and c.status != "False":
                    c.status = "False"
                    set_time(c.last_transition_time, float(int(self.clock())))
            await self.client.pods.update_status(cur)

        async def mark(pod: core_pb2.Pod) -> None:
            async with slots:
                try:
                    await retry_on_conflict(lambda: write(pod))
                except errors.NotFound:
                    pass

        await asyncio.gather(*(
            mark(pod) for pod in self.pods.store.by_index("node", node_name)
            if any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)))

    async def _reconcile_taints(self, node: core_pb2.Node) -> None:
        want = desired_taints(node)
        have = {(t.key, t.effect) for t in node.spec.taints if (t.key, t.effect) in MANAGED}
        add, remove = want - have, have - want
        if any(effect == "NoExecute" for _, effect in add):
            zone = node.metadata.labels.get(ZONE_LABEL, "")
            if self._in_full_disruption(zone):
                add = {t for t in add if t[1] != "NoExecute"}  # a whole zone down: do not evict it
            elif not self._take_token(zone):
                add = {t for t in add if t[1] != "NoExecute"}
                self.queue.add_after(node.metadata.name, 1.0 / (NODE_EVICTION_RATE / self.config.time_scale))
        if not add and not remove:
            return

        async def write() -> None:
            cur = await self.client.nodes.get(node.metadata.name)
            taints = [t for t in cur.spec.taints if (t.key, t.effect) not in remove]
            present = {(t.key, t.effect) for t in taints}
            for key, effect in sorted(add - present):
                t = core_pb2.Taint(key=key, effect=effect)
                set_time(t.time_added, float(int(self.clock())))
                taints.append(t)
            del cur.spec.taints[:]
            cur.spec.taints.extend(taints)
            await self.client.nodes.update(cur)

        await retry_on_conflict(write)
        self.log.info("node.taints", node=node.metadata.name, added=sorted(add), removed=sorted(remove))

    def _in_full_disruption(self, zone: str) -> bool:
        nodes = [n for n in self.nodes.store.list() if n.metadata.labels.get(ZONE_LABEL, "") == zone]
        healthy = [n for n in nodes if (c := ready_condition(n)) is not None and c.status == "True"]
        return len(nodes) > 1 and not healthy


class TaintEvictionController:
    """The NoExecute taint manager: pods that do not tolerate a NoExecute taint of their node are deleted at
    once; pods that tolerate it for tolerationSeconds are deleted when that runs out."""

    def __init__(self, client: Client, nodes: Informer[core_pb2.Node], pods: Informer[core_pb2.Pod],
                 recorder: EventRecorder, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.nodes = nodes
        self.pods = pods
        self.recorder = recorder
        self.clock = clock
        self.queue = RateLimitingQueue(name="taint-eviction")
        self.log = log.bind(component="controllers", controller="taint-eviction")
        pods.add_handler(lambda p: self._enqueue_pod(p), lambda o, n: self._enqueue_pod(n), None)
        nodes.add_handler(lambda n: self._enqueue_node(n), lambda o, n: self._enqueue_node(n), None)

    def _enqueue_pod(self, pod: core_pb2.Pod) -> None:
        if pod.spec.node_name:
            self.queue.add(f"{pod.metadata.namespace}/{pod.metadata.name}")

    def _enqueue_node(self, node: core_pb2.Node) -> None:
        if any(t.effect == "NoExecute" for t in node.spec.taints):
            for pod in self.pods.store.by_index("node", node.metadata.name):
                self._enqueue_pod(pod)

    async def run(self) -> None:
        await run_workers(self.queue, self.sync, EVICTION_WORKERS)

    async def sync(self, key: str) -> None:
        pod = self.pods.store.get(key)
        if pod is None or pod.metadata.HasField("deletion_timestamp") or not pod.spec.node_name:
            return
        node = self.nodes.store.get(pod.spec.node_name)
        if node is None:
            return
        deadline = 0.0
        for taint in node.spec.taints:
            if taint.effect != "NoExecute":
                continue
            matching = [t for t in pod.spec.tolerations if tolerates([t], taint)]
            if not matching:
                deadline = -1.0  # not tolerated: evict now
                break
            seconds = [t.toleration_seconds for t in matching if t.HasField("toleration_seconds")]
            if len(seconds) == len(matching):  # every matching toleration is bounded
                until = time_value(taint.time_added) + max(0, min(seconds))
                deadline = until if deadline == 0.0 else min(deadline, until)
        if deadline == 0.0:
            return
        now = self.clock()
        if deadline > now:
            self.queue.add_after(key, deadline - now)
            return
        try:
            await self.client.pods.delete(pod.metadata.name, pod.metadata.namespace, uid=pod.metadata.uid)
        except (errors.NotFound, errors.Conflict):
            return
        self.log.info("pod.evicted", pod=key, node=node.metadata.name)
        await self.recorder.event(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {key}")
