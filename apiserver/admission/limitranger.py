"""LimitRanger (plugin/pkg/admission/limitranger): a new pod's containers get the default requests and limits of
the namespace's LimitRanges, then the pod is held to their min, max and limit/request ratio per Container and per
Pod; a claim's storage request to its PersistentVolumeClaim min and max."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from apiserver import errors
from apiserver.admission import CREATE, UPDATE, Attributes, Plugin
from kubemu.api import quota as q
from kubemu.api.quantity import Quantity
from kubemu.pb import core_pb2

ANNOTATION = "kubernetes.io/limit-ranger"


def forbidden(a: Attributes, message: str) -> errors.Forbidden:
    """admission.NewForbidden: `<resource> "<name>" is forbidden: <why>`."""
    resource = a.info.resource if not a.info.group else f"{a.info.resource}.{a.info.group}"
    name = a.name or (a.obj.metadata.generate_name if a.obj is not None else "")
    about = f'{resource} "{name}"' if name else resource
    return errors.Forbidden(f"{about} is forbidden: {message}",
                            details=errors.StatusDetails(name=name, group=a.info.group, kind=a.info.resource))


def aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate's text: one message as it is, several in brackets."""
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


def _merge(container: core_pb2.Container, limits: Mapping[str, str], requests: Mapping[str, str], prefix: str,
           notes: list[str]) -> None:
    """mergeContainerResources: what the container does not say comes from the defaults, and is noted."""
    res = container.resources
    for name, value in res.limits.items():  # the pod's own defaulting: a limit without a request is both
        res.requests.setdefault(name, value)
    set_limits = sorted(k for k in limits if k not in res.limits)
    set_requests = sorted(k for k in requests if k not in res.requests)
    for k in set_limits:
        res.limits[k] = limits[k]
    for k in set_requests:
        res.requests[k] = requests[k]
    if set_requests:
        notes.append(f"{', '.join(set_requests)} request for {prefix} {container.name}")
    if set_limits:
        notes.append(f"{', '.join(set_limits)} limit for {prefix} {container.name}")


def mutate_pod(lr: core_pb2.LimitRange, pod: core_pb2.Pod) -> None:
    """PodMutateLimitFunc."""
    limits: dict[str, str] = {}
    requests: dict[str, str] = {}
    for item in lr.spec.limits:
        if item.type == "Container":
            requests.update(item.default_request)
            limits.update(item.default)
    notes: list[str] = []
    for c in pod.spec.containers:
        _merge(c, limits, requests, "container", notes)
    for c in pod.spec.init_containers:
        _merge(c, limits, requests, "init container", notes)
    if notes:
        pod.metadata.annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)


def _min(kind: str, name: str, enforced: Quantity, requests: Mapping[str, Quantity],
         limits: Mapping[str, Quantity]) -> str | None:
    req, lim = requests.get(name), limits.get(name)
    if req is None:
        return f"minimum {name} usage per {kind} is {enforced}.  No request is specified"
    if req < enforced:
        return f"minimum {name} usage per {kind} is {enforced}, but request is {req}"
    if lim is not None and lim < enforced:
        return f"minimum {name} usage per {kind} is {enforced}, but limit is {lim}"
    return None


def _max(kind: str, name: str, enforced: Quantity, requests: Mapping[str, Quantity],
         limits: Mapping[str, Quantity]) -> str | None:
    req, lim = requests.get(name), limits.get(name)
    if lim is None:
        return f"maximum {name} usage per {kind} is {enforced}.  No limit is specified"
    if enforced < lim:
        return f"maximum {name} usage per {kind} is {enforced}, but limit is {lim}"
    if req is not None and enforced < req:
        return f"maximum {name} usage per {kind} is {enforced}, but request is {req}"
    return None


def _ratio(kind: str, name: str, enforced: Quantity, requests: Mapping[str, Quantity],
           limits: Mapping[str, Quantity]) -> str | None:
    req, lim = requests.get(name), limits.get(name)
    if req is None or req.is_zero():
        return f"{name} max limit to request ratio per {kind} is {enforced}, but no request is specified or " \
               "request is 0"
    if lim is None or lim.is_zero():
        return f"{name} max limit to request ratio per {kind} is {enforced}, but no limit is specified or limit is 0"
    ratio = abs(lim.amount) / abs(req.amount)
    if ratio > enforced.amount:
        return f"{name} max limit to request ratio per {kind} is {enforced}, but provided ratio is {float(ratio):f}"
    return None


def _check(item: core_pb2.LimitRangeItem, requests: Mapping[str, Quantity], limits: Mapping[str, Quantity],
           out: list[str]) -> None:
    for values, rule in ((item.min, _min), (item.max, _max), (item.max_limit_request_ratio, _ratio)):
        for name, enforced in sorted(q.parse_list(values).items()):
            found = rule(item.type, name, enforced, requests, limits)
            if found is not None:
                out.append(found)


def validate_pod(lr: core_pb2.LimitRange, pod: core_pb2.Pod) -> list[str]:
    """PodValidateLimitFunc: every container (then init container) against a Container item, the pod's summed
    requests and limits against a Pod item."""
    out: list[str] = []
    for item in lr.spec.limits:
        if item.type == "Container":
            for c in (*pod.spec.containers, *pod.spec.init_containers):
                _check(item, q.parse_list(c.resources.requests), q.parse_list(c.resources.limits), out)
        elif item.type == "Pod":
            _check(item, q.pod_requests(pod.spec, overhead=False), q.pod_limits(pod.spec, overhead=False), out)
    return out


def validate_claim(lr: core_pb2.LimitRange, pvc: Any, old: Any) -> list[str]:
    """PersistentVolumeClaimValidateLimitFunc: only the storage request counts; one an update leaves as stored
    is not checked again."""
    out: list[str] = []
    requests = q.parse_list(pvc.spec.resources.requests)
    before = q.parse_list(old.spec.resources.requests) if old is not None else {}
    for item in lr.spec.limits:
        if item.type != "PersistentVolumeClaim":
            continue
        for name, enforced in sorted(q.parse_list(item.min).items()):
            if name in requests and name in before and requests[name] == before[name]:
                continue
            found = _min(item.type, name, enforced, requests, {})
            if found is not None:
                out.append(found)
        for name, enforced in sorted(q.parse_list(item.max).items()):
            if name in requests and name in before and requests[name] == before[name]:
                continue
            req = requests.get(name)
            if req is None:
                out.append(f"maximum {name} usage per {item.type} is {enforced}.  No request is specified")
            elif enforced < req:
                out.append(f"maximum {name} usage per {item.type} is {enforced}, but request is {req}")
    return out


class LimitRanger(Plugin):
    name = "LimitRanger"
    operations: ClassVar[frozenset[str]] = frozenset({CREATE, UPDATE})

    def handles(self, a: Attributes) -> bool:
        """SupportsAttributes: pods on create (their containers' resources cannot change), claims on create and
        update, never a subresource, never an object being deleted."""
        if a.subresource or a.operation not in self.operations:
            return False
        if a.old is not None and a.old.metadata.HasField("deletion_timestamp"):
            return False
        if a.info.kind == "Pod":
            return a.operation == CREATE
        return a.info.kind == "PersistentVolumeClaim"

    async def _limit_ranges(self, a: Attributes) -> list[Any]:
        """The namespace's LimitRanges, read once per request: the validation phase sees what defaulting saw."""
        found: list[Any] | None = a.extra.get(self.name)
        if found is None:
            found = await self.registry.list_for_admission("LimitRange", a.namespace)
            a.extra[self.name] = found
        return found

    async def admit(self, a: Attributes) -> None:
        if a.info.kind != "Pod":
            return
        for lr in await self._limit_ranges(a):
            mutate_pod(lr, a.obj)

    async def validate(self, a: Attributes) -> None:
        for lr in await self._limit_ranges(a):
            if a.info.kind == "Pod":
                found = validate_pod(lr, a.obj)
            else:
                found = validate_claim(lr, a.obj, a.old)
            if found:
                raise forbidden(a, aggregate(found))
