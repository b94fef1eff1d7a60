"""Defaulting of batch/v1 Jobs and the selector the Job registry generates at create.

Sources: pkg/apis/batch/v1/defaults.go, pkg/registry/batch/job/strategy.go (v1.32).
"""

from __future__ import annotations

from apiserver.apis.core.defaulting import (
    _default_pod_template,
)
from kubemu.pb import batch_pb2

# ---- batch/v1 ---------------------------------------------------------------------------------------

CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"


def default_job(job: batch_pb2.Job) -> None:
    spec = job.spec
    # A non-parallel job may leave both unset; then both are 1.
    if not spec.HasField("completions") and not spec.HasField("parallelism"):
        spec.completions = 1
        spec.parallelism = 1
    if not spec.HasField("parallelism"):
        spec.parallelism = 1
    if not spec.HasField("backoff_limit"):
        spec.backoff_limit = 6
    if spec.template.metadata.labels and not job.metadata.labels:
        job.metadata.labels.update(spec.template.metadata.labels)
    if not spec.HasField("completion_mode"):
        spec.completion_mode = "NonIndexed"
    if not spec.HasField("suspend"):
        spec.suspend = False
    _default_pod_template(spec.template)


def default_job_selector(job: batch_pb2.Job, uid: str) -> None:
    """generateSelector (registry/batch/job/strategy.go), run at create unless spec.manualSelector is true.

    Labels the user already set are kept: a conflict is then rejected by validation, as upstream.
    """
    if job.spec.HasField("manual_selector") and job.spec.manual_selector:
        return
    tlabels = job.spec.template.metadata.labels
    for key in (LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL):
        tlabels.setdefault(key, job.metadata.name)
    for key in (LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL):
        tlabels.setdefault(key, uid)
    selector = job.spec.selector
    selector.SetInParent()
    selector.match_labels.setdefault(CONTROLLER_UID_LABEL, uid)
