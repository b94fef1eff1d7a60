"""The scheduler's cache of node allocations: pods bound (from the informer) and pods assumed by this
scheduler before their binding is seen, so two pods cannot both take the last free CPU of a node."""

from __future__ import annotations

from kubemu.pb import core_pb2
from scheduler.framework import ChangeLog, NodeInfo, Snapshot


def pod_key(pod: core_pb2.Pod) -> str:
    return f"{pod.metadata.namespace}/{pod.metadata.name}"


def occupies_node(pod: core_pb2.Pod) -> bool:
    """Pods that hold resources on their node: bound and not finished."""
    return bool(pod.spec.node_name) and pod.status.phase not in ("Succeeded", "Failed")


class SchedulerCache:
    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {}
        self.pod_node: dict[str, str] = {}
        """Where each pod we count sits (bound or assumed)."""
        self.assumed: set[str] = set()
        self._orphans: dict[str, core_pb2.Pod] = {}
        """Bound pods whose node we have not seen yet."""
        self.log = ChangeLog()
        self._sorted: list[NodeInfo] | None = None
        """The node infos by name, kept until the set of nodes changes."""
        self._names: list[str] = []
        self._position: dict[str, int] = {}
        self.generation = -1
        """Numbers the sorted node lists: a new one each time the set of nodes changes (Snapshot.generation)."""

    # -- nodes ------------------------------------------------------------------------------------

    def set_node(self, node: core_pb2.Node) -> None:
        name = node.metadata.name
        info = self.nodes.get(name)
        pods = info.pods if info is not None else [p for p in self._orphans.values() if p.spec.node_name == name]
        for p in pods:
            self._orphans.pop(pod_key(p), None)
        known = name in self.nodes
        info = NodeInfo.build(node, pods)
        info.log = self.log
        self.nodes[name] = info
        self.log.changed(name)
        if known and self._sorted is not None:
            self._sorted[self._position[name]] = info  # the same name in the same place: the same generation
        else:
            self._sorted = None

    def remove_node(self, name: str) -> None:
        info = self.nodes.pop(name, None)
        self.log.changed(name)
        self._sorted = None
        if info is not None:
            for p in info.pods:
                self._orphans[pod_key(p)] = p

    # -- pods -------------------------------------------------------------------------------------

    def _place(self, key: str, node: str, pod: core_pb2.Pod) -> None:
        info = self.nodes.get(node)
        if info is None:
            self._orphans[key] = pod
        else:
            info.add_pod(pod)
        self.pod_node[key] = node

    def _unplace(self, key: str, pod: core_pb2.Pod) -> None:
        node = self.pod_node.pop(key, None)
        self._orphans.pop(key, None)
        if node is not None and node in self.nodes:
            self.nodes[node].remove_pod(pod)

    def update_pod(self, pod: core_pb2.Pod) -> None:
        """A pod from the informer: count it where it is bound, until it finishes."""
        key = pod_key(pod)
        self.assumed.discard(key)
        node = pod.spec.node_name
        if occupies_node(pod) and self.pod_node.get(key) == node and node in self.nodes:
            if self.nodes[node].replace_pod(pod):
                return  # a status change of a pod already counted there: most updates
        self._unplace(key, pod)
        if occupies_node(pod):
            self._place(key, node, pod)

    def remove_pod(self, pod: core_pb2.Pod) -> None:
        key = pod_key(pod)
        self.assumed.discard(key)
        self._unplace(key, pod)

    def assume(self, pod: core_pb2.Pod, node: str) -> None:
        """Count the pod on `node` now, before its binding comes back through the watch."""
        assumed = core_pb2.Pod()
        assumed.CopyFrom(pod)
        assumed.spec.node_name = node
        key = pod_key(pod)
        self._unplace(key, pod)
        self._place(key, node, assumed)
        self.assumed.add(key)

    def forget(self, pod: core_pb2.Pod) -> None:
        key = pod_key(pod)
        if key in self.assumed:
            self.assumed.discard(key)
            self._unplace(key, pod)

    def snapshot(self) -> Snapshot:
        if self._sorted is None:
            self._sorted = sorted(self.nodes.values(), key=lambda n: n.name)
            self._names = [n.name for n in self._sorted]
            self._position = {name: i for i, name in enumerate(self._names)}
            self.generation += 1
        return Snapshot(list(self._sorted), self.log, dict(self.nodes), self._names, self._position, self.generation)
