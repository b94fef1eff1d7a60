"""The PriorityClass strategy: preemptionPolicy defaulted to PreemptLowerPriority, user values at most one billion,
the `system-` prefix kept for the two built-in classes, which every cluster has and none may delete, and value and
preemptionPolicy immutable (pkg/apis/scheduling/validation, pkg/registry/scheduling/priorityclass)."""

from __future__ import annotations

from typing import Any

from apiserver.apis.strategy import Strategy
from apiserver.validation import (
    FieldError,
    _immutable,
    forbidden,
    name_is_dns_subdomain,
    not_supported,
    required,
    validate_object_meta,
    validate_object_meta_update,
)
from kubemu.api import kinds
from kubemu.config import ClusterConfig
from kubemu.pb import meta_pb2, scheduling_pb2

HIGHEST_USER_DEFINABLE_PRIORITY = 1000000000
SYSTEM_CRITICAL_PRIORITY = 2 * HIGHEST_USER_DEFINABLE_PRIORITY
SYSTEM_PRIORITY_CLASS_PREFIX = "system-"
PREEMPTION_POLICIES = ("PreemptLowerPriority", "Never")

SYSTEM_PRIORITY_CLASSES: tuple[tuple[str, int, str], ...] = (
    # name, value, description, as pkg/apis/scheduling/v1 systemPriorityClasses.
    ("system-node-critical", SYSTEM_CRITICAL_PRIORITY + 1000,
     "Used for system critical pods that must not be moved from their current node."),
    ("system-cluster-critical", SYSTEM_CRITICAL_PRIORITY,
     "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
)


def known_system_class_error(name: str, value: int, global_default: bool) -> str | None:
    """IsKnownSystemPriorityClass: why a `system-` class is not one of the built-in ones, or None."""
    for known, known_value, _ in SYSTEM_PRIORITY_CLASSES:
        if known == name:
            if value != known_value:
                return f"value of {known} PriorityClass must be {known_value}"
            if global_default:
                return f"globalDefault of {known} PriorityClass must be false"
            return None
    return f"{name} is not a known system priority class"


def validate_priority_class(pc: scheduling_pb2.PriorityClass) -> list[FieldError]:
    errs = validate_object_meta(pc.metadata, False, name_is_dns_subdomain)
    name = pc.metadata.name
    if name.startswith(SYSTEM_PRIORITY_CLASS_PREFIX):
        why = known_system_class_error(name, pc.value, pc.global_default)
        if why is not None:
            errs.append(forbidden("metadata.name", f"priority class names with '{SYSTEM_PRIORITY_CLASS_PREFIX}' "
                                                   f"prefix are reserved for system use only. error: {why}"))
    elif pc.value > HIGHEST_USER_DEFINABLE_PRIORITY:
        errs.append(forbidden("value", f"maximum allowed value of a user defined priority is "
                                       f"{HIGHEST_USER_DEFINABLE_PRIORITY}"))
    if pc.HasField("preemption_policy"):
        if not pc.preemption_policy:
            errs.append(required("preemptionPolicy"))
        elif pc.preemption_policy not in PREEMPTION_POLICIES:
            errs.append(not_supported("preemptionPolicy", pc.preemption_policy, PREEMPTION_POLICIES))
    return errs


def validate_priority_class_update(new: scheduling_pb2.PriorityClass,
                                   old: scheduling_pb2.PriorityClass) -> list[FieldError]:
    errs = validate_object_meta_update(new.metadata, old.metadata)
    if new.value != old.value:
        errs.append(forbidden("value", "may not be changed in an update."))
    errs += _immutable(new.preemption_policy, old.preemption_policy, "preemptionPolicy")
    return errs


class PriorityClassStrategy(Strategy):
    def default(self, obj: Any, config: ClusterConfig) -> None:
        # SetDefaults_PriorityClass.
        if not obj.HasField("preemption_policy"):
            obj.preemption_policy = "PreemptLowerPriority"

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_priority_class(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return validate_priority_class_update(new, old)

    def system_objects(self) -> tuple[Any, ...]:
        return tuple(scheduling_pb2.PriorityClass(metadata=meta_pb2.ObjectMeta(name=name), value=value,
                                                  description=description)
                     for name, value, description in SYSTEM_PRIORITY_CLASSES)

    def may_delete(self, name: str) -> str | None:
        if any(name == known for known, _, _ in SYSTEM_PRIORITY_CLASSES):
            return "this is a system priority class and cannot be deleted"
        return None


STRATEGY = PriorityClassStrategy(kinds.by_kind("PriorityClass"))
