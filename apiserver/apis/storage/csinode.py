"""The CSINode strategy: each driver named once, with its node ID; a driver the node has stays as it is (drivers come
and go) (pkg/apis/storage/validation: ValidateCSINode(Update))."""

from __future__ import annotations

import json
from typing import Any

from apiserver.apis.strategy import Strategy
from apiserver.validation import (
    IMMUTABLE_MSG,
    FieldError,
    GoValue,
    duplicate,
    invalid,
    name_is_dns_subdomain,
    required,
    validate_object_meta,
)
from kubemu.api import kinds


def _go_driver(d: Any) -> GoValue:
    """The internal CSINodeDriver as the apiserver prints it in an error."""
    alloc = {"Count": d.allocatable.count if d.allocatable.HasField("count") else None} \
        if d.HasField("allocatable") else None
    return GoValue(json.dumps({"Name": d.name, "NodeID": d.node_id, "TopologyKeys": list(d.topology_keys) or None,
                               "Allocatable": alloc}, separators=(",", ":")))


class CSINodeStrategy(Strategy):
    no_defaults = True

    def validate(self, obj: Any) -> list[FieldError]:
        errs = validate_object_meta(obj.metadata, False, name_is_dns_subdomain)
        seen: set[str] = set()
        for i, d in enumerate(obj.spec.drivers):
            path = f"spec.drivers[{i}]"
            if not d.name:
                errs.append(required(f"{path}.name"))
            elif d.name in seen:
                errs.append(duplicate(f"{path}.name", d.name))
            seen.add(d.name)
            if not d.node_id:
                errs.append(required(f"{path}.nodeID"))
            keys: set[str] = set()
            for j, key in enumerate(d.topology_keys):
                if key in keys:
                    errs.append(duplicate(f"{path}.topologyKeys[{j}]", key))
                keys.add(key)
        return errs

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        errs = super().validate_update(new, old)
        before = {d.name: d for d in old.spec.drivers}
        for d in new.spec.drivers:
            if d.name in before and d != before[d.name]:
                errs.append(invalid("spec.drivers", _go_driver(d), IMMUTABLE_MSG))
        return errs


STRATEGY = CSINodeStrategy(kinds.by_kind("CSINode"))
