"""The IPAddress strategy: the name is the address in canonical form, the parentRef says who holds it and never
changes (pkg/apis/networking/validation ValidateIPAddress, ValidateIPAddressUpdate). The Service allocator creates
them (apiserver/apis/core/serviceallocator.py)."""

from __future__ import annotations

import ipaddress
from typing import Any

from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError, invalid, required, validate_object_meta, validate_object_meta_update
from kubemu.api import kinds


def _name_errors(name: str, prefix: bool) -> list[str]:
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
    if str(ip) != name:
        return [f'must be in canonical form ("{ip}")']
    if ip.is_unspecified or ip.is_loopback or ip.is_link_local or ip.is_multicast:
        return ["may not be an unspecified, loopback, link-local or multicast address"]
    return []


class IPAddressStrategy(Strategy):
    no_defaults = True

    def validate(self, obj: Any) -> list[FieldError]:
        errs = validate_object_meta(obj.metadata, False, _name_errors)
        ref = obj.spec.parent_ref
        if not obj.spec.HasField("parent_ref"):
            return [*errs, required("spec.parentRef")]
        if not ref.resource:
            errs.append(required("spec.parentRef.resource"))
        if not ref.name:
            errs.append(required("spec.parentRef.name"))
        return errs

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        errs = validate_object_meta_update(new.metadata, old.metadata)
        if new.spec.parent_ref != old.spec.parent_ref:
            errs.append(invalid("spec.parentRef", None, "field is immutable"))
        return errs


STRATEGY = IPAddressStrategy(kinds.by_kind("IPAddress"))
