"""Resource quota accounting shared by the ResourceQuota admission plugin and the resource quota controller: what
an object uses (pods, services, persistent volume claims, object counts), which quota scopes it falls under, and
the arithmetic of resource lists, as upstream's pkg/quota/v1 (evaluator/core, generic, resources.go).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from kubemu.api.qos import BEST_EFFORT, qos_class
from kubemu.api.quantity import Format, Quantity, QuantityError, parse_quantity
from kubemu.api.serialization import time_value
from kubemu.pb import core_pb2

ResourceList = dict[str, Quantity]

CREATE = "CREATE"
UPDATE = "UPDATE"

STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
BETA_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"

# Scopes (core/v1 ResourceQuotaScope) and scope selector operators.
TERMINATING = "Terminating"
NOT_TERMINATING = "NotTerminating"
BEST_EFFORT_SCOPE = "BestEffort"
NOT_BEST_EFFORT = "NotBestEffort"
PRIORITY_CLASS = "PriorityClass"
CROSS_NAMESPACE_POD_AFFINITY = "CrossNamespacePodAffinity"
VOLUME_ATTRIBUTES_CLASS = "VolumeAttributesClass"
STANDARD_SCOPES = (TERMINATING, NOT_TERMINATING, BEST_EFFORT_SCOPE, NOT_BEST_EFFORT, PRIORITY_CLASS,
                   CROSS_NAMESPACE_POD_AFFINITY, VOLUME_ATTRIBUTES_CLASS)
OP_IN, OP_NOT_IN, OP_EXISTS, OP_DOES_NOT_EXIST = "In", "NotIn", "Exists", "DoesNotExist"

_POD_COMPUTE = ("cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory")
_POD_RESOURCES = frozenset({
    "count/pods", "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods",
})
_CONSTRAINED = frozenset(_POD_COMPUTE)
"""validationSet: quota on these makes every container say its request or limit (a backward-compatibility rule)."""


# ---- resource lists -----------------------------------------------------------------------------------------------


def count(n: int) -> Quantity:
    """resource.NewQuantity(n, DecimalSI)."""
    return Quantity(Fraction(n), Format.DECIMAL_SI)


ZERO = count(0)


def parse_list(values: Mapping[str, str]) -> ResourceList:
    """A ResourceList from its wire form; an amount that does not parse is left out (validation refused it)."""
    out: ResourceList = {}
    for name, raw in values.items():
        try:
            out[name] = parse_quantity(raw)
        except QuantityError:
            continue
    return out


def to_strings(rl: Mapping[str, Quantity]) -> dict[str, str]:
    return {k: str(v) for k, v in rl.items()}


def add(a: Mapping[str, Quantity], b: Mapping[str, Quantity]) -> ResourceList:
    out = dict(a)
    for k, v in b.items():
        out[k] = out[k] + v if k in out else v
    return out


def subtract_non_negative(a: Mapping[str, Quantity], b: Mapping[str, Quantity]) -> ResourceList:
    """SubtractWithNonNegativeResult."""
    out: ResourceList = {}
    for k, v in a.items():
        d = v - b[k] if k in b else v
        out[k] = d if d.amount > 0 else Quantity(Fraction(0), v.format)
    return out


def mask(rl: Mapping[str, Quantity], names: Iterable[str]) -> ResourceList:
    keep = set(names)
    return {k: v for k, v in rl.items() if k in keep}


def remove_zeros(rl: Mapping[str, Quantity]) -> ResourceList:
    return {k: v for k, v in rl.items() if not v.is_zero()}


def negative(rl: Mapping[str, Quantity]) -> list[str]:
    return sorted(k for k, v in rl.items() if v.amount < 0)


def exceeded(used: Mapping[str, Quantity], hard: Mapping[str, Quantity]) -> list[str]:
    """LessThanOrEqual's second result: the names whose amount is above the hard one (absent from hard: fine)."""
    return sorted(k for k, v in used.items() if k in hard and hard[k] < v)


def pretty(rl: Mapping[str, Quantity]) -> str:
    """prettyPrint: `name=amount` by name, joined by commas."""
    return ",".join(f"{k}={rl[k]}" for k in sorted(rl))


def _max_into(target: ResourceList, other: Mapping[str, Quantity]) -> None:
    for k, v in other.items():
        if k not in target or target[k] < v:
            target[k] = v


# ---- pods -----------------------------------------------------------------------------------------------------------


def _aggregate(spec: core_pb2.PodSpec, which: Callable[[core_pb2.ResourceRequirements], Mapping[str, str]],
               overhead: bool) -> ResourceList:
    """resourcehelper.PodRequests / PodLimits over the spec: containers and sidecars add up, a plain init container
    counts with the sidecars started before it, the larger of the two wins; pod-level cpu and memory override;
    the pod's overhead comes on top."""
    total: ResourceList = {}
    for c in spec.containers:
        total = add(total, parse_list(which(c.resources)))
    sidecars: ResourceList = {}
    init_max: ResourceList = {}
    for c in spec.init_containers:
        own = parse_list(which(c.resources))
        if c.HasField("restart_policy") and c.restart_policy == "Always":
            total = add(total, own)
            sidecars = add(sidecars, own)
            _max_into(init_max, sidecars)
        else:
            _max_into(init_max, add(own, sidecars))
    _max_into(total, init_max)
    if spec.HasField("resources"):
        for name, q in parse_list(which(spec.resources)).items():
            if name in ("cpu", "memory"):
                total[name] = q
    if overhead and spec.overhead:
        over = parse_list(spec.overhead)
        total = add(total, over) if which is _requests else add(total, mask(over, total))
    return total


def _requests(r: core_pb2.ResourceRequirements) -> Mapping[str, str]:
    return r.requests


def _limits(r: core_pb2.ResourceRequirements) -> Mapping[str, str]:
    return r.limits


def pod_requests(spec: core_pb2.PodSpec, *, overhead: bool = True) -> ResourceList:
    return _aggregate(spec, _requests, overhead)


def pod_limits(spec: core_pb2.PodSpec, *, overhead: bool = True) -> ResourceList:
    return _aggregate(spec, _limits, overhead)


def _is_extended(name: str) -> bool:
    if "/" not in name or "kubernetes.io/" in name or name.startswith("requests."):
        return False
    return True


def compute_usage(requests: Mapping[str, Quantity], limits: Mapping[str, Quantity]) -> ResourceList:
    """podComputeUsageHelper: what requests and limits charge (pods=1 included)."""
    out: ResourceList = {"pods": count(1)}
    for res in ("cpu", "memory", "ephemeral-storage"):
        if res in requests:
            out[res] = requests[res]
            out[f"requests.{res}"] = requests[res]
        if res in limits:
            out[f"limits.{res}"] = limits[res]
    for name, q in requests.items():
        if name.startswith("hugepages-"):
            out[name] = q
            out[f"requests.{name}"] = q
        if _is_extended(name):
            out[f"requests.{name}"] = q
    return out


def pod_counts(pod: core_pb2.Pod, now: float) -> bool:
    """QuotaV1Pod: a pod that finished, or whose deletion grace period ran out, no longer uses compute quota."""
    if pod.status.phase in ("Succeeded", "Failed"):
        return False
    meta = pod.metadata
    if meta.HasField("deletion_timestamp") and meta.HasField("deletion_grace_period_seconds"):
        if now > time_value(meta.deletion_timestamp) + meta.deletion_grace_period_seconds:
            return False
    return True


def pod_usage(pod: core_pb2.Pod, now: float) -> ResourceList:
    """PodUsageFunc: count/pods always (it counts what is stored); compute resources while the pod counts."""
    out: ResourceList = {"count/pods": count(1)}
    if not pod_counts(pod, now):
        return out
    return add(out, compute_usage(pod_requests(pod.spec), pod_limits(pod.spec)))


def pod_constraints(required: Iterable[str], pod: core_pb2.Pod) -> str | None:
    """podEvaluator.Constraints: with cpu or memory under quota, every container must state them; the error text."""
    wanted = set(required) & _CONSTRAINED
    missing: dict[str, set[str]] = {}
    for c in (*pod.spec.containers, *pod.spec.init_containers):
        has = set(compute_usage(parse_list(c.resources.requests), parse_list(c.resources.limits)))
        for name in wanted - has:
            missing.setdefault(name, set()).add(c.name)
    if not missing:
        return None
    return "must specify " + "; ".join(f"{r} for: {','.join(sorted(missing[r]))}" for r in sorted(missing))


def _pod_matching(names: Iterable[str]) -> list[str]:
    return [n for n in names if n in _POD_RESOURCES or n.startswith(("hugepages-", "requests.hugepages-"))
            or (n.startswith("requests.") and _is_extended(n[len("requests."):]))]


def _uses_cross_namespace_affinity(pod: core_pb2.Pod) -> bool:
    aff = pod.spec.affinity
    terms: list[Any] = []
    for kind in (aff.pod_affinity, aff.pod_anti_affinity):
        terms += list(kind.required_during_scheduling_ignored_during_execution)
        terms += [w.pod_affinity_term for w in kind.preferred_during_scheduling_ignored_during_execution]
    return any(len(t.namespaces) > 0 or t.HasField("namespace_selector") for t in terms)


@dataclass(frozen=True)
class Scope:
    """A ScopedResourceSelectorRequirement; a plain `scopes` entry is one with the Exists operator."""

    name: str
    operator: str = OP_EXISTS
    values: tuple[str, ...] = ()

    def matches_value(self, value: str) -> bool:
        """The selector's operator applied to a pod's priority class name (empty: none)."""
        if self.operator == OP_EXISTS:
            return value != ""
        if self.operator == OP_DOES_NOT_EXIST:
            return value == ""
        if self.operator == OP_IN:
            return value in self.values
        if self.operator == OP_NOT_IN:
            return value not in self.values
        return False


def scopes_of(rq: core_pb2.ResourceQuota) -> list[Scope]:
    """getScopeSelectorsFromQuota."""
    out = [Scope(s) for s in rq.spec.scopes]
    out += [Scope(r.scope_name, r.operator, tuple(r.values)) for r in rq.spec.scope_selector.match_expressions]
    return out


def _pod_matches_scope(scope: Scope, pod: core_pb2.Pod) -> bool:
    terminating = pod.spec.HasField("active_deadline_seconds") and pod.spec.active_deadline_seconds >= 0
    if scope.name == TERMINATING:
        return terminating
    if scope.name == NOT_TERMINATING:
        return not terminating
    if scope.name == BEST_EFFORT_SCOPE:
        return qos_class(pod.spec) == BEST_EFFORT
    if scope.name == NOT_BEST_EFFORT:
        return qos_class(pod.spec) != BEST_EFFORT
    if scope.name == PRIORITY_CLASS:
        return scope.matches_value(pod.spec.priority_class_name)
    if scope.name == CROSS_NAMESPACE_POD_AFFINITY:
        return _uses_cross_namespace_affinity(pod)
    return False


# ---- services and claims --------------------------------------------------------------------------------------------


def service_usage(svc: Any, now: float) -> ResourceList:
    """serviceEvaluator.Usage: the service, and its node ports and load balancer by type."""
    out: ResourceList = {"count/services": count(1), "services": count(1), "services.loadbalancers": ZERO,
                         "services.nodeports": ZERO}
    ports = len(svc.spec.ports)
    if svc.spec.type == "NodePort":
        out["services.nodeports"] = count(ports)
    elif svc.spec.type == "LoadBalancer":
        if svc.spec.HasField("allocate_load_balancer_node_ports") and not svc.spec.allocate_load_balancer_node_ports:
            out["services.nodeports"] = count(sum(1 for p in svc.spec.ports if p.node_port != 0))
        else:
            out["services.nodeports"] = count(ports)
        out["services.loadbalancers"] = count(1)
    return out


def claim_class(pvc: Any) -> str:
    """GetPersistentVolumeClaimClass: the beta annotation first, then spec.storageClassName."""
    annotated = pvc.metadata.annotations.get(BETA_STORAGE_CLASS_ANNOTATION)
    if annotated is not None:
        return str(annotated)
    return str(pvc.spec.storage_class_name) if pvc.spec.HasField("storage_class_name") else ""


def pvc_usage(pvc: Any, now: float) -> ResourceList:
    """pvcEvaluator.Usage: the claim (per class too) and its storage, the larger of requested and allocated."""
    out: ResourceList = {"persistentvolumeclaims": count(1), "count/persistentvolumeclaims": count(1)}
    cls = claim_class(pvc)
    if cls:
        out[f"{cls}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = count(1)
    storage = parse_list(pvc.spec.resources.requests).get("storage")
    allocated = parse_list(pvc.status.allocated_resources).get("storage")
    if allocated is not None and (storage is None or storage < allocated):
        storage = allocated
    if storage is not None:
        out["requests.storage"] = storage
        if cls:
            out[f"{cls}{STORAGE_CLASS_SUFFIX}requests.storage"] = storage
    return out


def _pvc_matching(names: Iterable[str]) -> list[str]:
    fixed = {"persistentvolumeclaims", "count/persistentvolumeclaims", "requests.storage"}
    return [n for n in names if n in fixed or (STORAGE_CLASS_SUFFIX in n and n.endswith(
        ("/persistentvolumeclaims", "/requests.storage")))]


# ---- evaluators ---------------------------------------------------------------------------------------------------


_LEGACY_COUNTS = {
    "pods": "pods", "services": "services", "configmaps": "configmaps", "secrets": "secrets",
    "persistentvolumeclaims": "persistentvolumeclaims", "replicationcontrollers": "replicationcontrollers",
    "resourcequotas": "resourcequotas",
}
"""The core resources whose object count also goes by its bare name (`pods`, `services`, ...)."""


def count_name(resource: str, group: str) -> str:
    """ObjectCountQuotaResourceNameFor: `count/<resource>` in the core group, `count/<resource>.<group>` else."""
    return f"count/{resource}" if not group else f"count/{resource}.{group}"


@dataclass(frozen=True)
class Evaluator:
    """What quota knows of one resource (upstream's quota.Evaluator)."""

    resource: str
    group: str
    usage: Callable[[Any, float], ResourceList]
    matching: Callable[[Iterable[str]], list[str]]
    scoped: Callable[[Scope, Any], bool] | None = None
    """Whether an object falls under a scope; None: a quota with any scope never covers this resource."""
    constraints: Callable[[Iterable[str], Any], str | None] | None = None
    operations: frozenset[str] = frozenset({CREATE})

    def matches(self, rq: core_pb2.ResourceQuota, obj: Any) -> bool:
        """generic.Matches: the quota limits one of this resource's names and the object is in all its scopes."""
        if not self.matching(rq.status.hard):
            return False
        scopes = scopes_of(rq)
        if self.scoped is None:
            return not scopes
        return all(self.scoped(s, obj) for s in scopes)


def _object_count(resource: str, group: str) -> Evaluator:
    names = {count_name(resource, group)}
    if not group and resource in _LEGACY_COUNTS:
        names.add(_LEGACY_COUNTS[resource])

    def usage(obj: Any, now: float) -> ResourceList:
        return {n: count(1) for n in names}

    return Evaluator(resource, group, usage, lambda hard: [n for n in hard if n in names])


_EVALUATORS: dict[tuple[str, str], Evaluator] = {
    ("pods", ""): Evaluator("pods", "", lambda o, now: pod_usage(o, now), _pod_matching, _pod_matches_scope,
                            pod_constraints),
    ("services", ""): Evaluator("services", "", service_usage,
                                lambda hard: [n for n in hard if n in (
                                    "services", "count/services", "services.nodeports", "services.loadbalancers")],
                                operations=frozenset({CREATE, UPDATE})),
    ("persistentvolumeclaims", ""): Evaluator("persistentvolumeclaims", "", pvc_usage, _pvc_matching,
                                              operations=frozenset({CREATE, UPDATE})),
}


def evaluator_for(resource: str, group: str) -> Evaluator:
    """The evaluator of a resource: its own, or an object count one (what admission makes on demand upstream)."""
    found = _EVALUATORS.get((resource, group))
    return found if found is not None else _object_count(resource, group)


def counted_resources(hard: Iterable[str]) -> set[tuple[str, str]]:
    """The (resource, group) pairs whose objects a quota limiting `hard` has to count."""
    out: set[tuple[str, str]] = set()
    for name in hard:
        if name in _LEGACY_COUNTS:
            out.add((name, ""))
        elif name.startswith("count/"):
            resource, _, group = name[len("count/"):].partition(".")
            out.add((resource, group))
        elif _pod_matching([name]):
            out.add(("pods", ""))
        elif name.startswith("services."):
            out.add(("services", ""))
        elif _pvc_matching([name]):
            out.add(("persistentvolumeclaims", ""))
    return out


def calculate_usage(rq: core_pb2.ResourceQuota, objects: Mapping[tuple[str, str], Iterable[Any]],
                    now: float) -> ResourceList:
    """CalculateUsage for one quota: every hard name starts at zero, then each evaluator adds what the objects in
    scope use, masked to the names the quota limits."""
    hard = list(rq.spec.hard)
    used: ResourceList = {name: ZERO for name in hard}
    scopes = scopes_of(rq)
    for key, objs in objects.items():
        ev = evaluator_for(*key)
        names = ev.matching(hard)
        if not names:
            continue
        if scopes and ev.scoped is None:
            continue
        total: ResourceList = {}
        for obj in objs:
            if ev.scoped is not None and not all(ev.scoped(s, obj) for s in scopes):
                continue
            total = add(total, mask(ev.usage(obj, now), names))
        for name, q in total.items():
            used[name] = used[name] + q
    return used
