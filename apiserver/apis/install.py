"""The strategy of every served kind, by kind, as upstream's storage providers install each group's REST storage
(pkg/controlplane/apiserver, pkg/registry/<group>/rest); and the by-object helpers (default, validate, field selectors).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from apiserver.apis.apps import daemonset, deployment, replicaset
from apiserver.apis.batch import job
from apiserver.apis.coordination import lease
from apiserver.apis.core import (
    configmap,
    endpoints,
    event,
    limitrange,
    namespace,
    node,
    persistentvolume,
    persistentvolumeclaim,
    pod,
    replicationcontroller,
    resourcequota,
    secret,
    service,
    serviceaccount,
)
from apiserver.apis.core.defaulting import DEFAULT_TOLERATION_SECONDS
from apiserver.apis.discovery import endpointslice
from apiserver.apis.networking import ingress, ingressclass, ipaddress, networkpolicy, servicecidr
from apiserver.apis.rbac import clusterrole, clusterrolebinding, role, rolebinding
from apiserver.apis.scheduling import priorityclass
from apiserver.apis.storage import csidriver, csinode, storageclass
from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError
from kubemu.api import fields
from kubemu.config import ClusterConfig

# A new kind adds its module here (and its KindInfo in kubemu.api.kinds); tests/unit/test_kinds_complete.py says
# what else it lacks.
_MODULES = (
    namespace, pod, node, event, replicationcontroller,
    replicaset, deployment, daemonset,
    job,
    lease,
    configmap, secret, serviceaccount, service, endpoints, persistentvolume, persistentvolumeclaim, limitrange,
    resourcequota,
    endpointslice,
    ingress, ingressclass, networkpolicy, ipaddress, servicecidr,
    role, clusterrole, rolebinding, clusterrolebinding,
    priorityclass,
    storageclass, csinode, csidriver,
)

STRATEGIES: dict[str, Strategy] = {m.STRATEGY.info.kind: m.STRATEGY for m in _MODULES}
_BY_MESSAGE: dict[str, Strategy] = {s.info.message.DESCRIPTOR.full_name: s for s in STRATEGIES.values()}
_DEFAULT_CONFIG = ClusterConfig()


class NoStrategy(LookupError):
    pass


def register(strategy: Strategy) -> None:
    """Serve one more kind (tests add made-up ones for a while)."""
    STRATEGIES[strategy.info.kind] = strategy
    _BY_MESSAGE[strategy.info.message.DESCRIPTOR.full_name] = strategy


def unregister(kind: str) -> None:
    strategy = STRATEGIES.pop(kind)
    _BY_MESSAGE.pop(strategy.info.message.DESCRIPTOR.full_name, None)


def for_kind(kind: str) -> Strategy:
    try:
        return STRATEGIES[kind]
    except KeyError:
        raise NoStrategy(f'no strategy for kind "{kind}"') from None


def of(obj: Any) -> Strategy:
    """The strategy of an object's kind."""
    try:
        return _BY_MESSAGE[obj.DESCRIPTOR.full_name]
    except KeyError:
        raise NoStrategy(f"no strategy for {obj.DESCRIPTOR.full_name}") from None


def serving(subresource: str) -> Strategy:
    """The one kind that serves `subresource` (`binding`)."""
    found = [s for s in STRATEGIES.values() if subresource in s.info.subresources]
    if len(found) != 1:
        raise NoStrategy(f'{len(found)} kinds serve the "{subresource}" subresource, not one')
    return found[0]


# -- by object, for callers without a kind at hand ---------------------------------------------------------------


def default(obj: Any, default_toleration_seconds: int = DEFAULT_TOLERATION_SECONDS) -> None:
    """Fill in upstream's defaults in place; idempotent, so it also runs on every update."""
    try:
        strategy = of(obj)
    except NoStrategy:
        raise TypeError(f"no defaulting for {obj.DESCRIPTOR.full_name}") from None
    config = _DEFAULT_CONFIG
    if default_toleration_seconds != config.pod.default_toleration_seconds:
        config = dataclasses.replace(
            config, pod=dataclasses.replace(config.pod, default_toleration_seconds=default_toleration_seconds)
        )
    strategy.default(obj, config)


def validate(obj: Any) -> list[FieldError]:
    """Create validation of any kind, after defaulting (as upstream, which validates defaulted objects)."""
    try:
        strategy = of(obj)
    except NoStrategy:
        raise TypeError(f"no validation for {obj.DESCRIPTOR.full_name}") from None
    return strategy.validate(obj) + strategy.validate_create(obj)


def validate_update(new: Any, old: Any) -> list[FieldError]:
    """The rules only an update has (immutable fields); the registry runs `validate(new)` as well."""
    if new.DESCRIPTOR.full_name != old.DESCRIPTOR.full_name:
        raise TypeError("update changes the kind")
    return of(new).validate_update(new, old)


def object_fields(obj: Any) -> dict[str, str]:
    """The field set a selector is matched against: metadata.name and metadata.namespace, plus the kind's own."""
    out = fields.metadata_fields(obj)
    strategy = _BY_MESSAGE.get(obj.DESCRIPTOR.full_name)
    if strategy is not None:
        out.update(strategy.selectable_fields(obj))
    return out


def convert_for_kind(selector: fields.FieldSelector, kind: str) -> fields.FieldSelector:
    """The selector as the apiserver evaluates it for `kind`: aliases rewritten, unknown fields refused.

    Raises SelectorError with the message upstream's conversion func gives (the API returns it as a 400).
    """
    strategy = STRATEGIES.get(kind)
    return fields.convert(selector, strategy.field_labels if strategy is not None else fields.METADATA_ONLY)


def validate_for_kind(selector: fields.FieldSelector, kind: str) -> None:
    """Raise SelectorError if `selector` names a field `kind` cannot be selected on."""
    convert_for_kind(selector, kind)

