"""The scheduling framework's plain values: node infos in a snapshot, resource sums and plugin statuses (the
extension points are in interface.py). Plugins get these and nothing else (no client): tested without a cluster."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice
from typing import Any, Protocol, TypeVar, cast

from kubemu.api.nodematch import tolerates as tolerates  # plugins import it from the framework
from kubemu.api.quantity import bytes_of, cpu_millis, parse_quantity
from kubemu.pb import core_pb2

SUCCESS = "Success"
UNSCHEDULABLE = "Unschedulable"
UNRESOLVABLE = "UnschedulableAndUnresolvable"
"""Preemption on this node cannot help (wrong labels, taints, ...)."""

T = TypeVar("T")
V = TypeVar("V")
K = TypeVar("K", str, bytes)

MAX_NODE_SCORE = 100
DEFAULT_MILLI_CPU_REQUEST = 100
"""Scoring counts a container without a cpu request as 100m (pkg/scheduler/util/pod_resources.go)."""
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
"""... and without a memory request as 200Mi."""


@dataclass(frozen=True)
class Status:
    code: str = SUCCESS
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def ok(self) -> bool:
        return self.code == SUCCESS


OK = Status()


def unschedulable(plugin: str, *reasons: str, unresolvable: bool = False) -> Status:
    return Status(UNRESOLVABLE if unresolvable else UNSCHEDULABLE, tuple(reasons), plugin)


@dataclass
class Resources:
    milli_cpu: int = 0
    memory: int = 0
    pods: int = 0
    scalar: dict[str, int] = field(default_factory=dict)
    """Extended resources (nvidia.com/gpu, ...) and ephemeral-storage, in their base unit."""

    def add(self, other: Resources) -> None:
        self.milli_cpu += other.milli_cpu
        self.memory += other.memory
        self.pods += other.pods
        for k, v in other.scalar.items():
            self.scalar[k] = self.scalar.get(k, 0) + v

    def sub(self, other: Resources) -> None:
        self.milli_cpu -= other.milli_cpu
        self.memory -= other.memory
        self.pods -= other.pods
        for k, v in other.scalar.items():
            self.scalar[k] = self.scalar.get(k, 0) - v

    def set_max(self, other: Resources) -> None:
        self.milli_cpu = max(self.milli_cpu, other.milli_cpu)
        self.memory = max(self.memory, other.memory)
        for k, v in other.scalar.items():
            self.scalar[k] = max(self.scalar.get(k, 0), v)


def resources_of(values: Mapping[str, str]) -> Resources:
    """A ResourceList (requests, limits, allocatable) as numbers."""
    r = Resources()
    for name, text in values.items():
        if name == "cpu":
            r.milli_cpu = cpu_millis(text)
        elif name == "memory":
            r.memory = bytes_of(text)
        elif name == "pods":
            r.pods = parse_quantity(text).value()
        else:
            r.scalar[name] = parse_quantity(text).value()
    return r


def _is_sidecar(c: core_pb2.Container) -> bool:
    return c.HasField("restart_policy") and c.restart_policy == "Always"


def remember(memo: dict[Any, V], key: Any, value: V, limit: int) -> V:
    """Keep `value` under `key` and return it; a memo at `limit` entries starts over rather than grow. (The
    memos look up with memo.get themselves: a hit costs no call.)"""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value


_REQUESTS: dict[tuple[bytes, bool], Resources] = {}
REQUESTS_LIMIT = 1024
"""Pod specs whose requests pod_requests keeps; past it they start over."""


def pod_requests(pod: core_pb2.Pod, *, non_zero: bool = False) -> Resources:
    """What a pod asks of a node (pkg/api/v1/resource PodRequests): the sum of its containers, max'd with each
    init container (plus the sidecars started before it), plus overhead. With `non_zero`, missing cpu and
    memory requests count as 100m and 200Mi, as scoring does. Worked out once per spec (a cycle asks up to
    five times, for the pod and its assumed copy, and the pods of a workload share a spec); each caller gets
    its own copy to change."""
    key = (pod.spec.SerializeToString(), non_zero)
    found = _REQUESTS.get(key)
    if found is None:
        found = remember(_REQUESTS, key, _pod_requests(pod, non_zero), REQUESTS_LIMIT)
    return Resources(found.milli_cpu, found.memory, found.pods, dict(found.scalar))


def _pod_requests(pod: core_pb2.Pod, non_zero: bool) -> Resources:
    def one(c: core_pb2.Container) -> Resources:
        r = resources_of(c.resources.requests)
        if non_zero:
            if "cpu" not in c.resources.requests:
                r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST
            if "memory" not in c.resources.requests:
                r.memory = DEFAULT_MEMORY_REQUEST
        return r

    total = Resources()
    for c in pod.spec.containers:
        total.add(one(c))
    sidecars = Resources()
    for c in pod.spec.init_containers:
        r = one(c)
        if _is_sidecar(c):
            sidecars.add(r)
            total.add(r)
        else:
            with_sidecars = Resources()
            with_sidecars.add(r)
            with_sidecars.add(sidecars)
            total.set_max(with_sidecars)
    total.add(resources_of(pod.spec.overhead))
    return total


def has_pod_affinity(pod: core_pb2.Pod) -> bool:
    """podWithAffinity: the pod has pod affinity or anti-affinity (terms may still be empty)."""
    if not pod.spec.HasField("affinity"):
        return False
    a = pod.spec.affinity
    return a.HasField("pod_affinity") or a.HasField("pod_anti_affinity")


class ChangeLog:
    """A cache's record of which nodes changed what per-node counts read (pods added, removed, relabelled or
    starting to terminate; the node set, replaced or removed), numbered: a sum over every node (the spreading
    counts per domain) is kept in `sums` with the version it is current to, and brought up to date from the
    nodes changed since, instead of being added up over every node each cycle."""

    LIMIT = 4096
    """Changes remembered; a sum further behind is computed again from every node."""
    SUMS = 1024
    """Sums kept; past it the least recently kept is dropped (and computed again when next needed). A pod spec
    keeps five to seven (which nodes fail its filters, its spreading counts, columns of its scores and domains),
    so up to ~150 specs scheduled in turn keep theirs; past that every cycle would sum over every node."""

    def __init__(self) -> None:
        self.version = 0
        self._names: deque[str] = deque(maxlen=self.LIMIT)
        self.sums: dict[str, tuple[int, object]] = {}
        self._seen: dict[str, None] = {}

    def changed(self, name: str) -> None:
        self.version += 1
        self._names.append(name)

    def since(self, version: int) -> set[str] | None:
        """The nodes changed after `version`, or None when that is further back than the log reaches."""
        behind = self.version - version
        if behind < 0 or behind > len(self._names):
            return None
        return set(islice(reversed(self._names), behind))

    def seen_before(self, key: str) -> bool:
        """Whether `key` was asked about before (False the first time; at most SUMS keys are remembered)."""
        if key in self._seen:
            return True
        self._seen[key] = None
        if len(self._seen) > self.SUMS:
            del self._seen[next(iter(self._seen))]
        return False

    def keep(self, key: str, value: object) -> None:
        """Keep a sum current to this version; past SUMS the one kept longest ago is dropped."""
        self.sums.pop(key, None)
        self.sums[key] = (self.version, value)
        if len(self.sums) > self.SUMS:
            del self.sums[next(iter(self.sums))]


@dataclass
class NodeInfo:
    """A node and what is on it: bound pods and pods the scheduler has assumed onto it."""

    node: core_pb2.Node
    pods: list[core_pb2.Pod] = field(default_factory=list)
    requested: Resources = field(default_factory=Resources)
    non_zero_requested: Resources = field(default_factory=Resources)
    allocatable: Resources = field(default_factory=Resources)
    used_ports: set[tuple[str, str, int]] = field(default_factory=set)
    """(hostIP, protocol, hostPort) taken by pods on the node."""
    pods_with_affinity: list[core_pb2.Pod] = field(default_factory=list)
    """NodeInfo.PodsWithAffinity: the pods that carry pod affinity or anti-affinity terms."""
    match_counts: dict[tuple[str, str], int] = field(default_factory=dict, repr=False, compare=False)
    """How many pods here match a (selector, namespace), kept until the node's pods change: most nodes are
    unchanged from one scheduling cycle to the next, so spreading counts cost a lookup per node."""
    spread_counts: dict[str, tuple[tuple[int, str, int], ...]] = field(
        default_factory=dict, repr=False, compare=False)
    """PodTopologySpread's share of this node in a pod's per-domain counts, by (constraints, node affinity,
    namespace): (constraint index, domain, matching pods) for each constraint, () when the node does not count.
    Kept, like match_counts, until the node's pods change."""
    affinity_matches: dict[str, bool] = field(default_factory=dict, repr=False, compare=False)
    """Whether the node matches a required node affinity (by RequiredNodeAffinity.key): node-only answers,
    valid as long as this node info (a changed Node gets a new one)."""
    topology_values: dict[str, tuple[str, ...] | None] = field(default_factory=dict, repr=False, compare=False)
    """The node's values for a set of topology keys (None when it lacks one), by the keys joined: node-only
    answers, read once per node info."""
    local_results: dict[bytes, object] = field(default_factory=dict, repr=False, compare=False)
    """What the node-local plugins (NODE_LOCAL: they read only the pod's spec and this node info) answered for
    a pod spec (`spec_key`): the filters' status and each one's raw score. Kept until the node's pods are added
    or removed (a changed Node gets a new NodeInfo): the pods of a workload share one spec and most nodes are
    unchanged from one cycle to the next, so a cycle looks their answers up instead of running the plugins."""
    _requests: dict[tuple[str, str], tuple[Resources, Resources]] = field(
        default_factory=dict, repr=False, compare=False)
    """Per pod, what add_pod counted (requests, non-zero requests), so removing it subtracts the same."""

    log: ChangeLog | None = field(default=None, repr=False, compare=False)
    """The cache's change log, told when this node's counts change (None outside a cache)."""

    def __post_init__(self) -> None:
        self.name = str(self.node.metadata.name)
        """The node's name, read once (nodes are replaced by a new NodeInfo, never changed in place)."""

    @staticmethod
    def build(node: core_pb2.Node, pods: Iterable[core_pb2.Pod] = ()) -> NodeInfo:
        info = NodeInfo(node, allocatable=resources_of(node.status.allocatable))
        for p in pods:
            info.add_pod(p)
        return info

    def add_pod(self, pod: core_pb2.Pod) -> None:
        self._counts_changed()
        self.local_results.clear()
        self.pods.append(pod)
        if has_pod_affinity(pod):
            self.pods_with_affinity.append(pod)
        r = pod_requests(pod)
        r.pods = 1
        self.requested.add(r)
        nz = pod_requests(pod, non_zero=True)
        nz.pods = 1
        self.non_zero_requested.add(nz)
        self._requests[(pod.metadata.namespace, pod.metadata.name)] = (r, nz)
        for port in _host_ports(pod):
            self.used_ports.add(port)

    def remove_pod(self, pod: core_pb2.Pod) -> bool:
        """Take the pod off the node, subtracting what it added (NodeInfo.RemovePod), without a rebuild."""
        key = (pod.metadata.namespace, pod.metadata.name)
        i = self._index(key)
        if i is None:
            return False
        self._counts_changed()
        self.local_results.clear()
        gone = self.pods.pop(i)
        if has_pod_affinity(gone):
            self.pods_with_affinity = [p for p in self.pods_with_affinity if p is not gone]
        r, nz = self._requests.pop(key)
        self.requested.sub(r)
        self.non_zero_requested.sub(nz)
        for port in _host_ports(gone):
            self.used_ports.discard(port)
        return True

    def replace_pod(self, pod: core_pb2.Pod) -> bool:
        """A newer copy of a pod already counted here (its status moved on): swap the object, keep the sums.
        A pod's requests, ports and affinity cannot change once it is bound; its labels can, and it can start
        terminating, and spreading counts both."""
        i = self._index((pod.metadata.namespace, pod.metadata.name))
        if i is None:
            return False
        old = self.pods[i]
        self.pods[i] = pod
        if has_pod_affinity(old):
            self.pods_with_affinity = [pod if p is old else p for p in self.pods_with_affinity]
        if (old.metadata.labels != pod.metadata.labels
                or old.metadata.HasField("deletion_timestamp") != pod.metadata.HasField("deletion_timestamp")):
            self._counts_changed()
        return True

    def _counts_changed(self) -> None:
        self.match_counts.clear()
        self.spread_counts.clear()
        if self.log is not None:
            self.log.changed(self.name)

    def _index(self, key: tuple[str, str]) -> int | None:
        if key not in self._requests:
            return None
        for i, p in enumerate(self.pods):
            if p.metadata.name == key[1] and p.metadata.namespace == key[0]:
                return i
        return None

    @cached_property
    def image_states(self) -> dict[str, int]:
        """ImageStates: each name of each image in the node's status.images, with the image's size. The first
        entry wins for a name listed twice, as the cache's addNodeImageStates keeps the first summary. Read
        once: a changed Node gets a new NodeInfo."""
        states: dict[str, int] = {}
        for image in self.node.status.images:
            for name in image.names:
                states.setdefault(name, image.size_bytes)
        return states


def window(items: list[T], start: int, end: int) -> list[T]:
    """items[start:end], going round past the last."""
    return items[start:end] if end <= len(items) else items[start:] + items[:end - len(items)]


_SHARED_KEYS: dict[object, object] = {}
SHARED_KEYS_LIMIT = 4096
"""Keys kept by shared_key; past it they start over (lookups then compare contents until each is shared again)."""


def shared_key(key: K) -> K:
    """The one object for keys equal to `key`. The per-node memos (local_results, topology_values) are looked up
    under a key made again each cycle, once per candidate node: a dict finds its entry by identity before it
    compares contents, so with one object for each key the ~420 lookups of a cycle never compare contents."""
    found = _SHARED_KEYS.get(key)
    if found is None:
        found = remember(_SHARED_KEYS, key, key, SHARED_KEYS_LIMIT)
    return cast(K, found)


def spec_key(pod: core_pb2.Pod) -> bytes:
    """A 128-bit digest of the pod's spec: pods with the same key get the same answers from the node-local
    plugins. A digest, not the spec's bytes, because every node keeps answers under it."""
    return hashlib.blake2b(pod.spec.SerializeToString(deterministic=True), digest_size=16).digest()


def _host_ports(pod: core_pb2.Pod) -> Iterable[tuple[str, str, int]]:
    for c in pod.spec.containers:
        for port in c.ports:
            if port.host_port:
                yield (port.host_ip or "0.0.0.0", port.protocol or "TCP", port.host_port)


@dataclass(frozen=True)
class VolumeListers:
    """PersistentVolumeClaims by `namespace/name`, PersistentVolumes and StorageClasses by name: read-only views of
    the scheduler's informers (upstream's listers)."""

    claims: Lister
    volumes: Lister
    classes: Lister


class Lister(Protocol):
    def get(self, key: str) -> Any: ...

    def list(self) -> list[Any]: ...


@dataclass
class Snapshot:
    """Every node info at the start of a scheduling cycle; plugins read it, never change it."""

    nodes: list[NodeInfo]
    log: ChangeLog | None = None
    """Set when the nodes are exactly a cache's current node infos (SchedulerCache.snapshot): sums over them
    may then be kept up to date from the log. Snapshots that swap node infos (nominated pods, preemption
    trials) have none and sum over their nodes."""
    by_name: dict[str, NodeInfo] = field(default_factory=dict)
    """The nodes by name (made from `nodes` when not given)."""
    names: list[str] | None = None
    """The nodes' names in `nodes`' order, when the cache keeps them (SchedulerCache.snapshot)."""
    position: dict[str, int] | None = None
    """Each node's index in `nodes`, when the cache keeps it."""
    generation: int = -1
    """The cache's number for its node list: every snapshot of one generation has the same nodes (by name) in
    the same order, so a column over them (`column`) stays in place. -1: not a cache's snapshot."""
    volumes: VolumeListers | None = None
    """The claims, volumes and classes the volume plugins read (the scheduler's informers); None: no volume
    information (a preemption trial), and the volume plugins pass every node."""

    def __post_init__(self) -> None:
        if not self.by_name:
            self.by_name = {n.name: n for n in self.nodes}
        self._cycle: dict[str, tuple[core_pb2.Pod, object]] = {}

    def cycle_state(self, key: str, pod: core_pb2.Pod, compute: Callable[[], T]) -> T:
        """Upstream's CycleState as written by PreFilter / PreScore: what `compute` returns for this pod over
        this snapshot, computed once and reused by every per-node Filter / Score call of the cycle. Whoever
        changes a node info of the snapshot afterwards (preemption trials) must call `invalidate`."""
        hit = self._cycle.get(key)
        if hit is not None and hit[0] is pod:
            return cast(T, hit[1])
        value = compute()
        self._cycle[key] = (pod, value)
        return value

    def invalidate(self) -> None:
        """Forget the cycle state and what was derived from the node infos: one of them has changed."""
        self._cycle.clear()
        for derived in ("image_num_nodes", "any_pod_affinity"):
            self.__dict__.pop(derived, None)

    def kept(self, key: str, new: Callable[[], V], update: Callable[[V, str, NodeInfo | None], None]) -> V:
        """A value summed over the nodes: `new()` empty, then `update(value, name, info)` for each node (info None
        for a node gone; update takes out what it added for that name before, if anything). Over a cache's
        snapshot the value is kept in its change log and updated for the nodes changed since, instead of
        summed over every node again."""
        log = self.log
        found = log.sums.get(key) if log is not None else None
        changed = log.since(found[0]) if log is not None and found is not None else None
        if found is not None and changed is not None:
            value = cast(V, found[1])
            for name in changed:
                update(value, name, self.by_name.get(name))
        else:
            value = new()
            for n in self.nodes:
                update(value, n.name, n)
        if log is not None:
            log.keep(key, value)
        return value

    def column(self, key: str, value_of: Callable[[NodeInfo], V]) -> list[V] | None:
        """`value_of(node)` for every node, in `nodes`' order, so that a run of candidates is a slice of it: kept
        in the cache's log for this generation of its node list and brought up to date from the nodes changed
        since (value_of must read only what a change to a node records there: its pods and its Node). None
        outside a cache's snapshot, and the first time a key is asked for in a generation, so that a key asked
        for once (a pod spec of its own) never costs a pass over every node."""
        log, position = self.log, self.position
        if log is None or position is None or self.generation < 0:
            return None
        key = f"{key}\0{self.generation}"
        if not log.seen_before(key):
            return None

        def new() -> list[V | None]:
            return [None] * len(self.nodes)

        def update(col: list[V | None], name: str, info: NodeInfo | None) -> None:
            if info is not None:  # a node gone is a new generation: its column is never asked for again
                col[position[name]] = value_of(info)

        return cast(list[V], self.kept(key, new, update))

    def column_for(self, nodes: Sequence[NodeInfo], key: str, value_of: Callable[[NodeInfo], V]) -> list[V] | None:
        """`column(key, value_of)` for `nodes` when they are a run of this snapshot's nodes (round the end), as
        a cycle's candidates are when every node passes the filters; else None."""
        position = self.position
        if not nodes or position is None:
            return None
        start = position.get(nodes[0].name)
        if start is None or len(nodes) > len(self.nodes):
            return None
        end = start + len(nodes)
        if window(self.nodes, start, end) != list(nodes):  # the same objects: compared by identity
            return None
        col = self.column(key, value_of)
        return None if col is None else window(col, start, end)

    @cached_property
    def image_num_nodes(self) -> dict[str, int]:
        """ImageStateSummary.NumNodes: how many of the snapshot's nodes hold each image name."""
        counts, _ = self.kept("image nodes", _no_images, _update_image_counts)
        return dict(counts)

    @cached_property
    def any_pod_affinity(self) -> bool:
        """Whether a pod on any node has pod affinity or anti-affinity (HavePodsWithAffinityList non-empty)."""
        return bool(self.kept("nodes with pod affinity", set, _update_affinity_holders))

    def all_pods(self) -> Iterable[tuple[NodeInfo, core_pb2.Pod]]:
        for n in self.nodes:
            for p in n.pods:
                yield n, p


def _no_images() -> tuple[dict[str, int], dict[str, tuple[str, ...]]]:
    return {}, {}


def _update_image_counts(value: tuple[dict[str, int], dict[str, tuple[str, ...]]], name: str,
                         info: NodeInfo | None) -> None:
    """Image counts by name, with the names counted for each node."""
    counts, held = value
    for image in held.pop(name, ()):
        left = counts[image] - 1
        if left:
            counts[image] = left
        else:
            del counts[image]
    if info is not None and info.image_states:
        held[name] = tuple(info.image_states)
        for image in held[name]:
            counts[image] = counts.get(image, 0) + 1


def _update_affinity_holders(holders: set[str], name: str, info: NodeInfo | None) -> None:
    if info is not None and info.pods_with_affinity:
        holders.add(name)
    else:
        holders.discard(name)


def default_normalize(scores: dict[str, int], reverse: bool = False) -> dict[str, int]:
    """helper.DefaultNormalizeScore: scale so the highest is 100 (reverse: the lowest is 100)."""
    return dict(zip(scores, default_normalize_values(list(scores.values()), reverse), strict=True))


def default_normalize_values(values: list[int], reverse: bool = False) -> list[int]:
    """default_normalize over the scores alone, in their order."""
    top = max(values, default=0)
    if top == 0:
        return [MAX_NODE_SCORE if reverse else 0] * len(values)
    if reverse:
        return [MAX_NODE_SCORE - MAX_NODE_SCORE * v // top for v in values]
    return [MAX_NODE_SCORE * v // top for v in values]
