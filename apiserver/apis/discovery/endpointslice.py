"""The EndpointSlice strategy: ports default to TCP, the address type never changes, addresses match it
(pkg/apis/discovery/validation ValidateEndpointSlice). The EndpointSlice controller writes them
(controllers/endpointslice.py)."""

from __future__ import annotations

import ipaddress
from typing import Any

from apiserver.apis.strategy import Strategy
from apiserver.validation import (
    FieldError,
    duplicate,
    invalid,
    name_is_dns_subdomain,
    not_supported,
    required,
    validate_object_meta,
    validate_object_meta_update,
)
from kubemu.api import kinds, names
from kubemu.pb import discovery_pb2

_ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
_PROTOCOLS = ("SCTP", "TCP", "UDP")
MAX_ENDPOINTS = 1000
MAX_ADDRESSES = 100
MAX_PORTS = 100


def _address_errors(address_type: str, address: str) -> list[str]:
    if address_type == "FQDN":
        return names.validate_dns1123_subdomain(address)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
    if (ip.version == 4) != (address_type == "IPv4"):
        return [f"must be an {address_type} address"]
    return []


def validate_endpoint_slice(es: discovery_pb2.EndpointSlice) -> list[FieldError]:
    errs = validate_object_meta(es.metadata, True, name_is_dns_subdomain)
    if not es.address_type:
        errs.append(required("addressType"))
    elif es.address_type not in _ADDRESS_TYPES:
        errs.append(not_supported("addressType", es.address_type, _ADDRESS_TYPES))
    if len(es.ports) > MAX_PORTS:
        errs.append(FieldError("FieldValueTooMany", "ports", f"must have at most {MAX_PORTS} items", len(es.ports)))
    seen: set[str] = set()
    for i, p in enumerate(es.ports):
        path = f"ports[{i}]"
        name = p.name if p.HasField("name") else ""
        if name:
            errs += [invalid(f"{path}.name", name, m) for m in names.validate_dns1123_label(name)]
        if name in seen:
            errs.append(duplicate(f"{path}.name", name))
        seen.add(name)
        if not p.HasField("protocol") or not p.protocol:
            errs.append(required(f"{path}.protocol"))
        elif p.protocol not in _PROTOCOLS:
            errs.append(not_supported(f"{path}.protocol", p.protocol, _PROTOCOLS))
    if len(es.endpoints) > MAX_ENDPOINTS:
        errs.append(FieldError("FieldValueTooMany", "endpoints", f"must have at most {MAX_ENDPOINTS} items",
                               len(es.endpoints)))
    for i, ep in enumerate(es.endpoints):
        path = f"endpoints[{i}]"
        if not ep.addresses:
            errs.append(required(f"{path}.addresses", "must contain at least 1 address"))
        elif len(ep.addresses) > MAX_ADDRESSES:
            errs.append(FieldError("FieldValueTooMany", f"{path}.addresses",
                                   f"must have at most {MAX_ADDRESSES} items", len(ep.addresses)))
        if es.address_type in _ADDRESS_TYPES:
            for j, a in enumerate(ep.addresses):
                errs += [invalid(f"{path}.addresses[{j}]", a, m) for m in _address_errors(es.address_type, a)]
        if ep.HasField("hostname") and ep.hostname:
            errs += [invalid(f"{path}.hostname", ep.hostname, m) for m in names.validate_dns1123_label(ep.hostname)]
        if ep.HasField("node_name") and ep.node_name:
            errs += [invalid(f"{path}.nodeName", ep.node_name, m)
                     for m in names.validate_dns1123_subdomain(ep.node_name)]
    return errs


class EndpointSliceStrategy(Strategy):
    def default(self, obj: Any, config: Any) -> None:
        for p in obj.ports:
            if not p.HasField("protocol") or not p.protocol:
                p.protocol = "TCP"
            if not p.HasField("name"):
                p.name = ""

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_endpoint_slice(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        errs = validate_object_meta_update(new.metadata, old.metadata)
        if new.address_type != old.address_type:
            errs.append(invalid("addressType", new.address_type, "field is immutable"))
        return errs


STRATEGY = EndpointSliceStrategy(kinds.by_kind("EndpointSlice"))
