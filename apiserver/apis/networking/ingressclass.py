"""The IngressClass strategy: which controller implements a class of Ingresses, immutable once set, with optional
parameters whose scope says where they live. Validation as pkg/apis/networking/validation (ValidateIngressClass),
defaulting as pkg/apis/networking/v1/defaults.go."""

from __future__ import annotations

from typing import Any

from apiserver.apis.batch.job_extra import _domain_prefixed_path
from apiserver.apis.strategy import Strategy
from apiserver.validation import (
    IMMUTABLE_MSG,
    FieldError,
    forbidden,
    invalid,
    name_is_dns_label,
    name_is_dns_subdomain,
    not_supported,
    required,
    too_long,
    validate_object_meta,
    validate_object_meta_update,
)
from kubemu.api import kinds, names
from kubemu.config import ClusterConfig
from kubemu.pb import networking_pb2

ANNOTATION_IS_DEFAULT = "ingressclass.kubernetes.io/is-default-class"
"""An IngressClass annotated "true" is the class of an Ingress that names none (the DefaultIngressClass plugin)."""

SCOPES = ("Cluster", "Namespace")
_MAX_CONTROLLER_LEN = 250


def default_ingress_class(ic: networking_pb2.IngressClass) -> None:
    """SetDefaults_IngressClass: parameters without a scope are the cluster's."""
    if ic.spec.HasField("parameters") and not ic.spec.parameters.HasField("scope"):
        ic.spec.parameters.scope = "Cluster"


def _validate_parameters(params: networking_pb2.IngressClassParametersReference, path: str) -> list[FieldError]:
    """validateIngressClassParametersReference."""
    errs: list[FieldError] = []
    if params.HasField("api_group"):
        errs += [
            invalid(f"{path}.apiGroup", params.api_group, m) for m in names.validate_dns1123_subdomain(params.api_group)
        ]
    for fld, value in (("kind", params.kind), ("name", params.name)):
        if not value:
            errs.append(required(f"{path}.{fld}"))
        else:
            errs += [invalid(f"{path}.{fld}", value, m) for m in names.validate_path_segment_name(value, False)]
    if not params.HasField("scope"):
        return [*errs, required(f"{path}.scope")]
    if params.scope not in SCOPES:
        return [*errs, not_supported(f"{path}.scope", params.scope, SCOPES)]
    if params.scope == "Namespace":
        if not params.HasField("namespace"):
            errs.append(required(f"{path}.namespace", "`parameters.scope` is set to 'Namespace'"))
        else:
            errs += [
                invalid(f"{path}.namespace", params.namespace, m) for m in name_is_dns_label(params.namespace, False)
            ]
    elif params.HasField("namespace"):
        errs.append(forbidden(f"{path}.namespace", "`parameters.scope` is set to 'Cluster'"))
    return errs


def validate_ingress_class(ic: networking_pb2.IngressClass) -> list[FieldError]:
    """ValidateIngressClass."""
    errs = validate_object_meta(ic.metadata, False, name_is_dns_subdomain)
    controller = ic.spec.controller
    if not controller:
        errs.append(required("spec.controller"))
    else:
        if len(controller.encode()) > _MAX_CONTROLLER_LEN:
            errs.append(too_long("spec.controller", _MAX_CONTROLLER_LEN))
        errs += _domain_prefixed_path("spec.controller", controller)
    if ic.spec.HasField("parameters"):
        errs += _validate_parameters(ic.spec.parameters, "spec.parameters")
    return errs


class IngressClassStrategy(Strategy):
    def default(self, obj: Any, config: ClusterConfig) -> None:
        default_ingress_class(obj)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_ingress_class(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        errs = validate_object_meta_update(new.metadata, old.metadata)
        if new.spec.controller != old.spec.controller:
            errs.append(invalid("spec.controller", new.spec.controller, IMMUTABLE_MSG))
        return errs


STRATEGY = IngressClassStrategy(kinds.by_kind("IngressClass"))
