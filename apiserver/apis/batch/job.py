"""The Job strategy: the status is the controller's, the selector is generated at create unless manualSelector, and
the template is immutable, as pkg/registry/batch/job/strategy.go."""

from __future__ import annotations

from typing import Any

from apiserver.apis.batch.defaulting import default_job, default_job_selector
from apiserver.apis.batch.validation import validate_job, validate_job_update
from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError
from kubemu.api import fields, kinds
from kubemu.api.labels import go_quote
from kubemu.config import ClusterConfig


class JobStrategy(Strategy):
    field_labels = fields.FieldLabels(
        fields.NAME_AND_NAMESPACE | {"status.successful"}, {},
        lambda f: f"field label {go_quote(f)} not supported for Job",
    )

    def default(self, obj: Any, config: ClusterConfig) -> None:
        default_job(obj)

    def prepare_for_create(self, obj: Any, config: ClusterConfig) -> None:
        self.default(obj, config)
        obj.ClearField("status")  # the controller's to write
        default_job_selector(obj, obj.metadata.uid)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_job(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return super().validate_update(new, old) + validate_job_update(new, old)

    def selectable_fields(self, obj: Any) -> dict[str, str]:
        return {"status.successful": str(obj.status.succeeded)}


STRATEGY = JobStrategy(kinds.by_kind("Job"))
