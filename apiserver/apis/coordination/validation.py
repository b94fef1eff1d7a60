"""Validation of coordination.k8s.io/v1 Leases, as pkg/apis/coordination/validation (v1.32)."""

from __future__ import annotations

from apiserver.validation import (
    IS_NEGATIVE_MSG,
    FieldError,
    invalid,
    name_is_dns_subdomain,
    validate_object_meta,
)
from kubemu.pb import coordination_pb2

# ---- coordination/v1 --------------------------------------------------------------------------------


def validate_lease(lease: coordination_pb2.Lease) -> list[FieldError]:
    errs = validate_object_meta(lease.metadata, True, name_is_dns_subdomain)
    spec = lease.spec
    if spec.HasField("lease_duration_seconds") and spec.lease_duration_seconds <= 0:
        errs.append(invalid("spec.leaseDurationSeconds", spec.lease_duration_seconds, "must be greater than 0"))
    if spec.HasField("lease_transitions") and spec.lease_transitions < 0:
        errs.append(invalid("spec.leaseTransitions", spec.lease_transitions, IS_NEGATIVE_MSG))
    return errs
