"""The ServiceCIDR strategy: one CIDR per IP family, at most two (pkg/apis/networking/validation
ValidateServiceCIDR). The apiserver creates the default one, `kubernetes`, from --service-cluster-ip-range."""

from __future__ import annotations

import ipaddress
from typing import Any

from apiserver.apis.strategy import Strategy
from apiserver.validation import (
    FieldError,
    invalid,
    name_is_dns_subdomain,
    required,
    validate_object_meta,
)
from kubemu.api import kinds


class ServiceCIDRStrategy(Strategy):
    no_defaults = True

    def validate(self, obj: Any) -> list[FieldError]:
        errs = validate_object_meta(obj.metadata, False, name_is_dns_subdomain)
        cidrs = list(obj.spec.cidrs)
        if not cidrs:
            return [*errs, required("spec.cidrs")]
        if len(cidrs) > 2:
            return [*errs, FieldError("FieldValueTooMany", "spec.cidrs", "must have at most 2 items", len(cidrs))]
        families = []
        for i, text in enumerate(cidrs):
            try:
                net = ipaddress.ip_network(text, strict=False)
            except ValueError:
                errs.append(invalid(f"spec.cidrs[{i}]", text, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or "
                                                              "2001:db8::/64)"))
                continue
            if str(net) != text:
                errs.append(invalid(f"spec.cidrs[{i}]", text, "must not have bits set beyond the prefix length"))
                continue
            families.append(net.version)
        if len(families) == 2 and families[0] == families[1]:
            errs.append(invalid("spec.cidrs", None, "may specify no more than one IP for each IP family, i.e "
                                                    "192.168.0.0/24 and 2001:db8::/64"))
        return errs


STRATEGY = ServiceCIDRStrategy(kinds.by_kind("ServiceCIDR"))
