"""The Event strategy: no defaults, the involvedObject and source fields to select on, as
pkg/registry/core/event/strategy.go."""

from __future__ import annotations

from typing import Any

from apiserver.apis.core.validation import validate_event
from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError
from kubemu.api import fields, kinds


class EventStrategy(Strategy):
    no_defaults = True
    field_labels = fields.FieldLabels(
        fields.NAME_AND_NAMESPACE | {
            "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
            "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
            "reason", "reportingComponent", "source", "type",
        },
        {},
        fields.not_supported,
    )

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_event(obj)

    def selectable_fields(self, obj: Any) -> dict[str, str]:
        ref = obj.involved_object
        return {
            "involvedObject.kind": ref.kind,
            "involvedObject.namespace": ref.namespace,
            "involvedObject.name": ref.name,
            "involvedObject.uid": ref.uid,
            "involvedObject.apiVersion": ref.api_version,
            "involvedObject.resourceVersion": ref.resource_version,
            "involvedObject.fieldPath": ref.field_path,
            "reason": obj.reason,
            "reportingComponent": obj.reporting_component,
            # events.k8s.io writers fill only the reporting component; upstream falls back to it.
            "source": obj.source.component or obj.reporting_component,
            "type": obj.type,
        }


STRATEGY = EventStrategy(kinds.by_kind("Event"))
