"""The Endpoints strategy: ports default to TCP (SetDefaults_EndpointPort) and every address and port is checked as
ValidateEndpoints does (pkg/apis/core/validation). The Endpoints controller writes them
(controllers/endpoints.py); the apiserver writes the `kubernetes` one."""

from __future__ import annotations

import ipaddress
from typing import Any

from apiserver.apis.core import validation as core_validation
from apiserver.apis.strategy import Strategy
from apiserver.validation import (
    FieldError,
    duplicate,
    invalid,
    name_is_dns_subdomain,
    not_supported,
    required,
    validate_object_meta,
)
from kubemu.api import kinds, names
from kubemu.pb import core_pb2

_PROTOCOLS = ("SCTP", "TCP", "UDP")
IP_MESSAGE = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def _address(a: core_pb2.EndpointAddress, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    try:
        ipaddress.ip_address(a.ip)
    except ValueError:
        # IsValidIP, then validateEndpointIP's own check: upstream reports both.
        errs += [invalid(f"{path}.ip", a.ip, IP_MESSAGE), invalid(f"{path}.ip", a.ip, "must be a valid IP address")]
    if a.HasField("hostname") and a.hostname:
        errs += [invalid(f"{path}.hostname", a.hostname, m) for m in names.validate_dns1123_label(a.hostname)]
    if a.HasField("node_name") and a.node_name:
        errs += [invalid(f"{path}.nodeName", a.node_name, m) for m in names.validate_dns1123_subdomain(a.node_name)]
    return errs


def validate_endpoints(ep: core_pb2.Endpoints) -> list[FieldError]:
    errs = validate_object_meta(ep.metadata, True, name_is_dns_subdomain)
    for i, subset in enumerate(ep.subsets):
        path = f"subsets[{i}]"
        if not subset.addresses and not subset.not_ready_addresses:
            errs.append(required(path, "must specify `addresses` or `notReadyAddresses`"))
        for j, a in enumerate(subset.addresses):
            errs += _address(a, f"{path}.addresses[{j}]")
        for j, a in enumerate(subset.not_ready_addresses):
            errs += _address(a, f"{path}.notReadyAddresses[{j}]")
        seen: set[str] = set()
        for j, p in enumerate(subset.ports):
            ppath = f"{path}.ports[{j}]"
            if len(subset.ports) > 1 and not p.name:
                errs.append(required(f"{ppath}.name"))
            elif p.name:
                errs += [invalid(f"{ppath}.name", p.name, m) for m in names.validate_dns1123_label(p.name)]
                if p.name in seen:
                    errs.append(duplicate(f"{ppath}.name", p.name))
                seen.add(p.name)
            errs += [invalid(f"{ppath}.port", p.port, m) for m in core_validation._port_num_errors(p.port)]
            if not p.protocol:
                errs.append(required(f"{ppath}.protocol"))
            elif p.protocol not in _PROTOCOLS:
                errs.append(not_supported(f"{ppath}.protocol", p.protocol, _PROTOCOLS))
    return errs


class EndpointsStrategy(Strategy):
    def default(self, obj: Any, config: Any) -> None:
        for subset in obj.subsets:
            for p in subset.ports:
                if not p.protocol:
                    p.protocol = "TCP"

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_endpoints(obj)


STRATEGY = EndpointsStrategy(kinds.by_kind("Endpoints"))
