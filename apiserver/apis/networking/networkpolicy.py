"""The NetworkPolicy strategy: stored and served, not enforced (kubemu's simulated pods have no packets to filter).
Validation as pkg/apis/networking/validation (ValidateNetworkPolicy), defaulting as
pkg/apis/networking/v1/defaults.go."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from apiserver.apis.core.validation import _port_name_errors, _port_num_errors
from apiserver.apis.strategy import Strategy
from apiserver.validation import (
    FieldError,
    GoValue,
    _validate_label_selector,
    forbidden,
    invalid,
    name_is_dns_subdomain,
    not_supported,
    required,
    validate_object_meta,
)
from kubemu.api import kinds
from kubemu.config import ClusterConfig
from kubemu.pb import networking_pb2

PROTOCOLS = ("TCP", "UDP", "SCTP")
POLICY_TYPES = ("Ingress", "Egress")
_CIDR_MSG = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
_LEGACY_V4_RE = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def default_network_policy(np: networking_pb2.NetworkPolicy) -> None:
    """SetDefaults_NetworkPolicy and SetDefaults_NetworkPolicyPort: ports are TCP unless they say otherwise, and a
    policy that names no types is an Ingress policy, and an Egress one too if it has egress rules."""
    rules: list[networking_pb2.NetworkPolicyIngressRule | networking_pb2.NetworkPolicyEgressRule] = [
        *np.spec.ingress,
        *np.spec.egress,
    ]
    for rule in rules:
        for port in rule.ports:
            if not port.HasField("protocol"):
                port.protocol = "TCP"
    if not np.spec.policy_types:
        np.spec.policy_types.append("Ingress")
        if np.spec.egress:
            np.spec.policy_types.append("Egress")


def parse_cidr(value: str) -> Network | None:
    """netutils.ParseCIDRSloppy: an address (IPv4 octets may carry leading zeros) and a prefix length; host bits
    may be set. None when it is no CIDR."""
    addr_text, sep, bits = value.partition("/")
    if not sep or not bits.isdigit():
        return None
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address
    try:
        addr = ipaddress.ip_address(addr_text)
    except ValueError:
        m = _LEGACY_V4_RE.fullmatch(addr_text)
        if not m or any(int(g) > 255 for g in m.groups()):
            return None
        addr = ipaddress.IPv4Address(".".join(str(int(g)) for g in m.groups()))
    if int(bits) > addr.max_prefixlen:
        return None
    return ipaddress.ip_network(f"{addr}/{int(bits)}", strict=False)


def _validate_ip_block(block: networking_pb2.IPBlock, path: str) -> list[FieldError]:
    """ValidateIPBlock: a CIDR, and exceptions that are strict subsets of it."""
    if not block.cidr:
        return [required(f"{path}.cidr")]
    cidr = parse_cidr(block.cidr)
    if cidr is None:
        return [invalid(f"{path}.cidr", block.cidr, _CIDR_MSG)]
    errs: list[FieldError] = []
    for i, text in enumerate(getattr(block, "except")):
        ep = f"{path}.except[{i}]"
        exc = parse_cidr(text)
        if exc is None:
            errs.append(invalid(ep, text, _CIDR_MSG))
            continue
        inside = exc.version == cidr.version and exc.network_address in cidr
        if not inside or cidr.prefixlen >= exc.prefixlen:
            errs.append(invalid(ep, text, "must be a strict subset of `cidr`"))
    return errs


def _validate_port(port: networking_pb2.NetworkPolicyPort, path: str) -> list[FieldError]:
    """ValidateNetworkPolicyPort: a known protocol; a port number or name; an endPort only after a port number."""
    errs: list[FieldError] = []
    if port.HasField("protocol") and port.protocol not in PROTOCOLS:
        errs.append(not_supported(f"{path}.protocol", port.protocol, PROTOCOLS))
    if not port.HasField("port"):
        if port.HasField("end_port"):
            errs.append(invalid(f"{path}.endPort", port.end_port, "may not be specified when `port` is not specified"))
        return errs
    if port.port.WhichOneof("value") == "str_val":
        if port.HasField("end_port"):
            errs.append(invalid(f"{path}.endPort", port.end_port, "may not be specified when `port` is non-numeric"))
        return errs + [invalid(f"{path}.port", port.port.str_val, m) for m in _port_name_errors(port.port.str_val)]
    number = port.port.int_val
    errs += [invalid(f"{path}.port", number, m) for m in _port_num_errors(number)]
    if port.HasField("end_port"):
        if port.end_port < number:
            # kube-apiserver 1.35 shows the port here, not the endPort.
            errs.append(invalid(f"{path}.endPort", number, "must be greater than or equal to `port`"))
        errs += [invalid(f"{path}.endPort", port.end_port, m) for m in _port_num_errors(port.end_port)]
    return errs


def _validate_peer(peer: networking_pb2.NetworkPolicyPeer, path: str) -> list[FieldError]:
    """ValidateNetworkPolicyPeer: at least one of podSelector, namespaceSelector and ipBlock; an ipBlock alone."""
    errs: list[FieldError] = []
    count = 0
    if peer.HasField("pod_selector"):
        count += 1
        errs += _validate_label_selector(peer.pod_selector, f"{path}.podSelector")
    if peer.HasField("namespace_selector"):
        count += 1
        errs += _validate_label_selector(peer.namespace_selector, f"{path}.namespaceSelector")
    if peer.HasField("ip_block"):
        count += 1
        errs += _validate_ip_block(peer.ip_block, f"{path}.ipBlock")
    if count == 0:
        errs.append(required(path, "must specify a peer"))
    elif count > 1 and peer.HasField("ip_block"):
        errs.append(forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def validate_network_policy_spec(spec: networking_pb2.NetworkPolicySpec, path: str = "spec") -> list[FieldError]:
    """ValidateNetworkPolicySpec."""
    errs = _validate_label_selector(spec.pod_selector, f"{path}.podSelector")
    for i, ing in enumerate(spec.ingress):
        rp = f"{path}.ingress[{i}]"
        for j, port in enumerate(ing.ports):
            errs += _validate_port(port, f"{rp}.ports[{j}]")
        for j, peer in enumerate(getattr(ing, "from")):
            errs += _validate_peer(peer, f"{rp}.from[{j}]")
    for i, eg in enumerate(spec.egress):
        rp = f"{path}.egress[{i}]"
        for j, port in enumerate(eg.ports):
            errs += _validate_port(port, f"{rp}.ports[{j}]")
        for j, peer in enumerate(eg.to):
            errs += _validate_peer(peer, f"{rp}.to[{j}]")
    types = list(spec.policy_types)
    if len(types) > len(POLICY_TYPES):
        shown = GoValue(json.dumps(types, separators=(",", ":")))
        return [*errs, invalid(f"{path}.policyTypes", shown, "may not specify more than two policyTypes")]
    errs += [
        not_supported(f"{path}.policyTypes[{i}]", t, POLICY_TYPES) for i, t in enumerate(types) if t not in POLICY_TYPES
    ]
    return errs


def validate_network_policy(np: networking_pb2.NetworkPolicy) -> list[FieldError]:
    return validate_object_meta(np.metadata, True, name_is_dns_subdomain) + validate_network_policy_spec(np.spec)


class NetworkPolicyStrategy(Strategy):
    def default(self, obj: Any, config: ClusterConfig) -> None:
        default_network_policy(obj)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_network_policy(obj)


STRATEGY = NetworkPolicyStrategy(kinds.by_kind("NetworkPolicy"))
