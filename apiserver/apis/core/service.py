"""The Service strategy: upstream's defaults (SetDefaults_Service, the strategy's PrepareForCreate) and validation
(ValidateService, ValidateServiceUpdate in pkg/apis/core/validation), and the allocation of cluster IPs and node
ports around every write, as pkg/registry/core/service/storage's beginCreate, beginUpdate and afterDelete."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from apiserver.apis.core import validation as core_validation
from apiserver.apis.strategy import Finish, Strategy
from apiserver.validation import (
    FieldError,
    GoValue,
    _validate_labels,
    duplicate,
    forbidden,
    invalid,
    name_is_dns1035_label,
    not_supported,
    required,
    validate_object_meta,
    validate_object_meta_update,
)
from kubemu.api import kinds, labels, names
from kubemu.config import ClusterConfig
from kubemu.pb import core_pb2

if TYPE_CHECKING:
    from apiserver.registry import Registry

CLUSTER_IP = "ClusterIP"
NODE_PORT = "NodePort"
LOAD_BALANCER = "LoadBalancer"
EXTERNAL_NAME = "ExternalName"
_TYPES = (CLUSTER_IP, EXTERNAL_NAME, LOAD_BALANCER, NODE_PORT)
_AFFINITIES = ("ClientIP", "None")
_PROTOCOLS = ("SCTP", "TCP", "UDP")
_TRAFFIC_POLICIES = ("Cluster", "Local")
_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
_FAMILIES = ("IPv4", "IPv6")


def is_headless(svc: core_pb2.Service) -> bool:
    return svc.spec.cluster_ip == "None"


def needs_cluster_ip(svc: core_pb2.Service) -> bool:
    return svc.spec.type != EXTERNAL_NAME


def needs_node_ports(svc: core_pb2.Service) -> bool:
    """NodePort services, and LoadBalancer ones unless allocateLoadBalancerNodePorts is false."""
    if svc.spec.type == NODE_PORT:
        return True
    return svc.spec.type == LOAD_BALANCER and (
        not svc.spec.HasField("allocate_load_balancer_node_ports") or svc.spec.allocate_load_balancer_node_ports)


def _externally_accessible(svc: core_pb2.Service) -> bool:
    spec = svc.spec
    return spec.type in (NODE_PORT, LOAD_BALANCER) or (spec.type == CLUSTER_IP and len(spec.external_ips) > 0)


def default_service(svc: core_pb2.Service) -> None:
    """SetDefaults_Service, and the strategy's normalisation of clusterIP/clusterIPs (idempotent)."""
    spec = svc.spec
    if not spec.session_affinity:
        spec.session_affinity = "None"
    if not spec.type:
        spec.type = CLUSTER_IP
    for port in spec.ports:
        if not port.protocol:
            port.protocol = "TCP"
        kind = port.target_port.WhichOneof("value")
        if kind is None or (kind == "int_val" and port.target_port.int_val == 0) or (
                kind == "str_val" and port.target_port.str_val == ""):
            port.target_port.int_val = port.port
    if spec.type in (NODE_PORT, LOAD_BALANCER) and not spec.external_traffic_policy:
        spec.external_traffic_policy = "Cluster"
    if spec.type != EXTERNAL_NAME and not spec.HasField("internal_traffic_policy"):
        spec.internal_traffic_policy = "Cluster"
    if spec.type == LOAD_BALANCER and not spec.HasField("allocate_load_balancer_node_ports"):
        spec.allocate_load_balancer_node_ports = True
    if spec.cluster_ip and not spec.cluster_ips:
        spec.cluster_ips.append(spec.cluster_ip)
    if spec.cluster_ips and not spec.cluster_ip:
        spec.cluster_ip = spec.cluster_ips[0]
    if spec.type != EXTERNAL_NAME and spec.cluster_ip == "None" and not spec.selector and \
            not spec.HasField("ip_family_policy"):
        # A headless Service without selector stands for endpoints of any family (initIPFamilyFields).
        spec.ip_family_policy = "RequireDualStack"
        if not spec.ip_families:
            spec.ip_families.extend(["IPv4", "IPv6"])
    if spec.type != EXTERNAL_NAME and spec.cluster_ip:
        # The allocator sets the families of what it allocated (one stack: the range's family).
        if not spec.HasField("ip_family_policy"):
            spec.ip_family_policy = "SingleStack"
        if not spec.ip_families and spec.cluster_ip:
            ip = _ip(spec.cluster_ip)
            spec.ip_families.append("IPv6" if ip is not None and ip.version == 6 else "IPv4")


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _go_strings(values: list[str]) -> GoValue:
    """A []string as the allocator's errors print it (`["10.96.0.1"]`)."""
    return GoValue("[" + ",".join(labels.go_quote(v) for v in values) + "]")


def _port_value(p: core_pb2.ServicePort) -> GoValue:
    """core.ServicePort{Protocol, Port} as field.Duplicate prints it (%#v through JSON for a struct)."""
    return GoValue(f'{{"Name":"","Protocol":{labels.go_quote(p.protocol)},"AppProtocol":null,"Port":{p.port},'
                   f'"TargetPort":0,"NodePort":0}}')


def _validate_port(p: core_pb2.ServicePort, require_name: bool, seen: set[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if require_name and not p.name:
        errs.append(required(f"{path}.name"))
    elif p.name:
        errs += [invalid(f"{path}.name", p.name, m) for m in names.validate_dns1123_label(p.name)]
        if p.name in seen:
            errs.append(duplicate(f"{path}.name", p.name))
        else:
            seen.add(p.name)
    errs += [invalid(f"{path}.port", p.port, m) for m in core_validation._port_num_errors(p.port)]
    if not p.protocol:
        errs.append(required(f"{path}.protocol"))
    elif p.protocol not in _PROTOCOLS:
        errs.append(not_supported(f"{path}.protocol", p.protocol, _PROTOCOLS))
    errs += core_validation._validate_port_num_or_name(p.target_port, f"{path}.targetPort")
    if p.HasField("app_protocol"):
        errs += [invalid(f"{path}.appProtocol", p.app_protocol, m) for m in labels.validate_label_key(p.app_protocol)]
    return errs


def _validate_cluster_ips(svc: core_pb2.Service) -> list[FieldError]:
    """ValidateServiceClusterIPsRelatedFields, for one stack."""
    spec = svc.spec
    errs: list[FieldError] = []
    if spec.cluster_ip and spec.cluster_ips and spec.cluster_ips[0] != spec.cluster_ip:
        errs.append(invalid("spec.clusterIPs", _go_strings(list(spec.cluster_ips)),
                            "first value must match `clusterIP`"))
    if spec.type == EXTERNAL_NAME:
        return errs
    if spec.HasField("ip_family_policy") and spec.ip_family_policy not in _FAMILY_POLICIES:
        errs.append(not_supported("spec.ipFamilyPolicy", spec.ip_family_policy, _FAMILY_POLICIES))
    for i, family in enumerate(spec.ip_families):
        if family not in _FAMILIES:
            errs.append(not_supported(f"spec.ipFamilies[{i}]", family, _FAMILIES))
    if len(spec.cluster_ips) > 2:
        errs.append(invalid("spec.clusterIPs", _go_strings(list(spec.cluster_ips)),
                            "may only hold up to 2 values"))
    for i, value in enumerate(spec.cluster_ips):
        if value == "None":
            if i > 0:
                errs.append(invalid(f"spec.clusterIPs[{i}]", value, "may not be 'None' for a secondary IP"))
            continue
        if _ip(value) is None:
            errs.append(invalid(f"spec.clusterIPs[{i}]", value,
                                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
    return errs


def validate_service(svc: core_pb2.Service) -> list[FieldError]:
    """ValidateService, in upstream's order of checks."""
    spec = svc.spec
    errs = validate_object_meta(svc.metadata, True, name_is_dns1035_label)
    if not spec.ports and not is_headless(svc) and spec.type != EXTERNAL_NAME:
        errs.append(required("spec.ports"))
    if spec.type == LOAD_BALANCER and is_headless(svc):
        errs.append(invalid("spec.clusterIPs[0]", "None", "may not be set to 'None' for LoadBalancer services"))
    elif spec.type == NODE_PORT and is_headless(svc):
        errs.append(invalid("spec.clusterIPs[0]", "None", "may not be set to 'None' for NodePort services"))
    elif spec.type == EXTERNAL_NAME:
        if spec.cluster_ips:
            errs.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if spec.ip_families:
            errs.append(forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.HasField("ip_family_policy"):
            errs.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = spec.external_name.removesuffix(".")
        if cname:
            errs += [invalid("spec.externalName", cname, m) for m in names.validate_dns1123_subdomain(cname)]
        else:
            errs.append(required("spec.externalName"))
    seen: set[str] = set()
    for i, p in enumerate(spec.ports):
        errs += _validate_port(p, len(spec.ports) > 1, seen, f"spec.ports[{i}]")
    if spec.selector:
        errs += _validate_labels(spec.selector, "spec.selector")
    if not spec.session_affinity:
        errs.append(required("spec.sessionAffinity"))
    elif spec.session_affinity not in _AFFINITIES:
        errs.append(not_supported("spec.sessionAffinity", spec.session_affinity, _AFFINITIES))
    if spec.session_affinity == "None" and spec.HasField("session_affinity_config"):
        errs.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    errs += _validate_cluster_ips(svc)
    for i, ip in enumerate(spec.external_ips):
        if _ip(ip) is None:
            errs.append(invalid(f"spec.externalIPs[{i}]", ip,
                                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
    if not spec.type:
        errs.append(required("spec.type"))
    elif spec.type not in _TYPES:
        errs.append(not_supported("spec.type", spec.type, _TYPES))
    if spec.type == CLUSTER_IP:
        for i, p in enumerate(spec.ports):
            if p.node_port:
                errs.append(forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"))
    node_ports: set[tuple[str, int]] = set()
    for i, p in enumerate(spec.ports):
        if not p.node_port:
            continue
        if (p.protocol, p.node_port) in node_ports:
            errs.append(duplicate(f"spec.ports[{i}].nodePort", p.node_port))
        node_ports.add((p.protocol, p.node_port))
    ports: set[tuple[str, int]] = set()
    for i, p in enumerate(spec.ports):
        if (p.protocol, p.port) in ports:
            errs.append(duplicate(f"spec.ports[{i}]", _port_value(p)))
        ports.add((p.protocol, p.port))
    if spec.load_balancer_source_ranges and spec.type != LOAD_BALANCER:
        errs.append(forbidden("spec.LoadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'"))
    if spec.HasField("allocate_load_balancer_node_ports") and spec.type != LOAD_BALANCER:
        errs.append(forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'"))
    if spec.type == LOAD_BALANCER and not spec.HasField("allocate_load_balancer_node_ports"):
        errs.append(required("allocateLoadBalancerNodePorts"))
    if not _externally_accessible(svc):
        if spec.external_traffic_policy:
            errs.append(invalid("spec.externalTrafficPolicy", spec.external_traffic_policy,
                                "may only be set for externally-accessible services"))
    elif not spec.external_traffic_policy:
        errs.append(required("spec.externalTrafficPolicy"))
    elif spec.external_traffic_policy not in _TRAFFIC_POLICIES:
        errs.append(not_supported("spec.externalTrafficPolicy", spec.external_traffic_policy, _TRAFFIC_POLICIES))
    if not spec.HasField("internal_traffic_policy"):
        if spec.type in (NODE_PORT, LOAD_BALANCER, CLUSTER_IP):
            errs.append(required("spec.internalTrafficPolicy"))
    elif spec.internal_traffic_policy not in _TRAFFIC_POLICIES:
        errs.append(not_supported("spec.internalTrafficPolicy", spec.internal_traffic_policy, _TRAFFIC_POLICIES))
    if spec.HasField("traffic_distribution") and spec.traffic_distribution != "PreferClose":
        errs.append(not_supported("spec.trafficDistribution", spec.traffic_distribution, ("PreferClose",)))
    return errs


def validate_service_update(new: core_pb2.Service, old: core_pb2.Service) -> list[FieldError]:
    """validateUpgradeDowngradeClusterIPs for one stack: the primary cluster IP may not change, unless the service
    changes to or from ExternalName."""
    errs = validate_object_meta_update(new.metadata, old.metadata)
    if EXTERNAL_NAME in (new.spec.type, old.spec.type):
        return errs
    if old.spec.cluster_ips and (not new.spec.cluster_ips or new.spec.cluster_ips[0] != old.spec.cluster_ips[0]):
        errs.append(invalid("spec.clusterIPs[0]", _go_strings(list(new.spec.cluster_ips)), "may not change once set"))
    return errs


class ServiceStrategy(Strategy):
    def default(self, obj: Any, config: ClusterConfig) -> None:
        default_service(obj)

    def prepare_for_create(self, obj: Any, config: ClusterConfig) -> None:
        obj.ClearField("status")
        obj.status.load_balancer.SetInParent()
        self.default(obj, config)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_service(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return validate_service_update(new, old)

    async def begin_create(self, registry: Registry, obj: Any, dry_run: bool) -> Finish | None:
        default_service(obj)
        return await registry.services.allocate_create(registry, obj, dry_run)

    async def begin_update(self, registry: Registry, new: Any, old: Any, dry_run: bool) -> Finish | None:
        return await registry.services.allocate_update(registry, new, old, dry_run)

    async def after_delete(self, registry: Registry, obj: Any) -> None:
        await registry.services.release_all(registry, obj)


STRATEGY = ServiceStrategy(kinds.by_kind("Service"))
