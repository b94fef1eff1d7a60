"""The Ingress strategy: stored and served, not enforced (kubemu runs no ingress controller). Validation as
pkg/apis/networking/validation (ValidateIngressCreate, ValidateIngressUpdate); the status is the controller's, as
pkg/registry/networking/ingress/strategy.go."""

from __future__ import annotations

import re
from typing import Any

from apiserver.apis.core.podspec_extra import is_valid_ip
from apiserver.apis.core.validation import _port_name_errors, _port_num_errors
from apiserver.apis.strategy import Strategy
from apiserver.validation import (
    FieldError,
    GoValue,
    invalid,
    name_is_dns_subdomain,
    not_supported,
    required,
    validate_object_meta,
    validate_object_meta_update,
)
from kubemu.api import kinds, names
from kubemu.config import ClusterConfig
from kubemu.pb import core_pb2, networking_pb2

ANNOTATION_INGRESS_CLASS = "kubernetes.io/ingress.class"
"""The class annotation of before spec.ingressClassName (deprecated, still honoured)."""

PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
_INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_PATH_SUFFIXES = ("/..", "/.")

_WILDCARD_FMT = r"\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_WILDCARD_RE = re.compile(_WILDCARD_FMT)
_WILDCARD_MSG = (
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of "
    "lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character"
)


def wildcard_dns1123_subdomain_errors(value: str) -> list[str]:
    """IsWildcardDNS1123Subdomain (apimachinery util/validation)."""
    errs: list[str] = []
    if len(value) > names.DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(names.max_len_error(names.DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _WILDCARD_RE.fullmatch(value):
        errs.append(names.regex_error(_WILDCARD_MSG, _WILDCARD_FMT, "*.example.com"))
    return errs


def _host_errors(host: str, path: str) -> list[FieldError]:
    if "*" in host:
        return [invalid(path, host, m) for m in wildcard_dns1123_subdomain_errors(host)]
    return [invalid(path, host, m) for m in names.validate_dns1123_subdomain(host)]


def validate_typed_local_object_reference(ref: core_pb2.TypedLocalObjectReference, path: str) -> list[FieldError]:
    """validateIngressTypedLocalObjectReference: a backend resource."""
    errs: list[FieldError] = []
    if ref.HasField("api_group"):
        errs += [invalid(f"{path}.apiGroup", ref.api_group, m) for m in names.validate_dns1123_subdomain(ref.api_group)]
    for fld, value in (("kind", ref.kind), ("name", ref.name)):
        if not value:
            errs.append(required(f"{path}.{fld}"))
        else:
            errs += [invalid(f"{path}.{fld}", value, m) for m in names.validate_path_segment_name(value, False)]
    return errs


def _validate_backend(backend: networking_pb2.IngressBackend, path: str) -> list[FieldError]:
    """validateIngressBackend: a resource or a service (named, with a port named or numbered), not both."""
    has_resource, has_service = backend.HasField("resource"), backend.HasField("service")
    if has_resource and has_service:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if has_resource:
        return validate_typed_local_object_reference(backend.resource, f"{path}.resource")
    if not has_service:
        return [invalid(path, "", "resource or service backend is required")]
    errs: list[FieldError] = []
    svc = backend.service
    if not svc.name:
        errs.append(required(f"{path}.service.name"))
    else:
        # apivalidation.ValidateServiceName (RelaxedServiceNameValidation is off in 1.35).
        errs += [invalid(f"{path}.service.name", svc.name, m) for m in names.validate_dns1035_label(svc.name)]
    port_name, port_number = svc.port.name, svc.port.number
    if port_name and port_number:
        errs.append(invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        errs += [invalid(f"{path}.service.port.name", port_name, m) for m in _port_name_errors(port_name)]
    elif port_number:
        errs += [invalid(f"{path}.service.port.number", port_number, m) for m in _port_num_errors(port_number)]
    else:
        errs.append(required(path, "port name or number is required"))
    return errs


def _validate_path(p: networking_pb2.HTTPIngressPath, path: str) -> list[FieldError]:
    """validateHTTPIngressPath: pathType is required, and Exact and Prefix paths are absolute and clean."""
    if not p.HasField("path_type"):
        return [required(f"{path}.pathType", "pathType must be specified")]
    errs: list[FieldError] = []
    value = p.path
    if p.path_type in ("Exact", "Prefix"):
        if not value.startswith("/"):
            errs.append(invalid(f"{path}.path", value, "must be an absolute path"))
        if value:
            errs += [
                invalid(f"{path}.path", value, f"must not contain '{seq}'")
                for seq in _INVALID_PATH_SEQUENCES
                if seq in value
            ]
            errs += [
                invalid(f"{path}.path", value, f"cannot end with '{suffix}'")
                for suffix in _INVALID_PATH_SUFFIXES
                if value.endswith(suffix)
            ]
    elif p.path_type == "ImplementationSpecific":
        if value and not value.startswith("/"):
            errs.append(invalid(f"{path}.path", value, "must be an absolute path"))
    else:
        errs.append(not_supported(f"{path}.pathType", p.path_type, PATH_TYPES))
    return errs + _validate_backend(p.backend, f"{path}.backend")


def _validate_rules(rules: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(rules):
        rp = f"{path}[{i}]"
        if rule.host:
            if is_valid_ip(f"{rp}.host", rule.host) == []:
                errs.append(invalid(f"{rp}.host", rule.host, "must be a DNS name, not an IP address"))
            errs += _host_errors(rule.host, f"{rp}.host")
        if rule.HasField("http"):
            hp = f"{rp}.http"
            if not rule.http.paths:
                errs.append(required(f"{hp}.paths"))
            for j, p in enumerate(rule.http.paths):
                errs += _validate_path(p, f"{hp}.paths[{j}]")
    return errs


def _validate_tls(tls: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, t in enumerate(tls):
        for j, host in enumerate(t.hosts):
            errs += _host_errors(host, f"{path}[{i}].hosts[{j}]")
        if t.secret_name:
            errs += [
                invalid(f"{path}[{i}].secretName", t.secret_name, m)
                for m in names.validate_dns1123_subdomain(t.secret_name)
            ]
    return errs


def validate_ingress_spec(spec: networking_pb2.IngressSpec, path: str = "spec") -> list[FieldError]:
    """ValidateIngressSpec."""
    errs: list[FieldError] = []
    if not spec.rules and not spec.HasField("default_backend"):
        errs.append(invalid(path, GoValue("null"), "either `defaultBackend` or `rules` must be specified"))
    if spec.HasField("default_backend"):
        errs += _validate_backend(spec.default_backend, f"{path}.defaultBackend")
    errs += _validate_rules(spec.rules, f"{path}.rules")
    errs += _validate_tls(spec.tls, f"{path}.tls")
    if spec.HasField("ingress_class_name"):
        errs += [
            invalid(f"{path}.ingressClassName", spec.ingress_class_name, m)
            for m in name_is_dns_subdomain(spec.ingress_class_name, False)
        ]
    return errs


def validate_ingress(ing: networking_pb2.Ingress) -> list[FieldError]:
    """validateIngress: what a create and an update both check."""
    return validate_object_meta(ing.metadata, True, name_is_dns_subdomain) + validate_ingress_spec(ing.spec)


def validate_ingress_create(ing: networking_pb2.Ingress) -> list[FieldError]:
    """What only ValidateIngressCreate adds: the class annotation agreeing with ingressClassName."""
    annotation = ing.metadata.annotations.get(ANNOTATION_INGRESS_CLASS)
    if annotation is None or not ing.spec.HasField("ingress_class_name") or annotation == ing.spec.ingress_class_name:
        return []
    path = f"annotations.{ANNOTATION_INGRESS_CLASS}"
    return [invalid(path, annotation, "must match `ingressClassName` when both are specified")]


def validate_ingress_status_update(new: networking_pb2.Ingress, old: networking_pb2.Ingress) -> list[FieldError]:
    """ValidateIngressStatusUpdate: the load balancer's points, an IP (as loosely as the legacy field allows) or a
    DNS name that is no IP."""
    errs = validate_object_meta_update(new.metadata, old.metadata)
    for i, point in enumerate(new.status.load_balancer.ingress):
        path = f"status.loadBalancer.ingress[{i}]"
        if point.ip:
            errs += is_valid_ip(f"{path}.ip", point.ip)
        if point.hostname:
            errs += [invalid(f"{path}.hostname", point.hostname, m)
                     for m in names.validate_dns1123_subdomain(point.hostname)]
            if not is_valid_ip(f"{path}.hostname", point.hostname):
                errs.append(invalid(f"{path}.hostname", point.hostname, "must be a DNS name, not an IP address"))
    return errs


class IngressStrategy(Strategy):
    no_defaults = True  # networking/v1 defaults nothing of an Ingress

    def prepare_for_create(self, obj: Any, config: ClusterConfig) -> None:
        obj.ClearField("status")  # the ingress controller's to write

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_ingress(obj)

    def validate_create(self, obj: Any) -> list[FieldError]:
        return validate_ingress_create(obj)

    def warnings_on_create(self, obj: Any) -> list[str]:
        if ANNOTATION_INGRESS_CLASS not in obj.metadata.annotations:
            return []
        return [f'annotation "{ANNOTATION_INGRESS_CLASS}" is deprecated, please use \'spec.ingressClassName\' instead']

    def validate_status_update(self, new: Any, old: Any) -> list[FieldError]:
        return validate_ingress_status_update(new, old)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        # ValidateIngressUpdate: the new object is validated whole too (the registry runs validate(new) after this).
        return validate_object_meta_update(new.metadata, old.metadata)


STRATEGY = IngressStrategy(kinds.by_kind("Ingress"))
