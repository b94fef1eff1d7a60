"""Create and update validation of batch/v1 Jobs, as pkg/apis/batch/validation (v1.32)."""

from __future__ import annotations

from apiserver.apis.batch.job_extra import validate_job_extra
from apiserver.apis.core.validation import (
    validate_pod_template,
)
from apiserver.validation import (
    IMMUTABLE_MSG,
    FieldError,
    GoValue,
    _child,
    _nonnegative,
    _selector_immutable,
    _selector_matches,
    _selector_text,
    _validate_label_selector,
    invalid,
    name_is_dns_subdomain,
    not_supported,
    required,
    validate_object_meta,
)
from kubemu.api import names
from kubemu.pb import batch_pb2, meta_pb2

# ---- batch/v1 ---------------------------------------------------------------------------------------

CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"


def _has_label(meta: meta_pb2.ObjectMeta, path: str, key: str, expected: str) -> list[FieldError]:
    lp = f"{_child(path, 'labels')}[{key}]"
    if key not in meta.labels:
        return [required(lp, f"must be '{expected}'")]
    if meta.labels[key] != expected:
        return [invalid(lp, dict(meta.labels), f"must be '{expected}'")]
    return []


def _validate_generated_selector(job: batch_pb2.Job) -> list[FieldError]:
    """validateGeneratedSelector: a server-made selector must still carry the job's uid and name."""
    if job.spec.HasField("manual_selector") and job.spec.manual_selector:
        return []
    tmeta = job.spec.template.metadata
    if not tmeta.labels:
        return []
    uid, name, path = job.metadata.uid, job.metadata.name, "spec.template.metadata"
    errs = _has_label(tmeta, path, LEGACY_CONTROLLER_UID_LABEL, uid)
    errs += _has_label(tmeta, path, LEGACY_JOB_NAME_LABEL, name)
    errs += _has_label(tmeta, path, CONTROLLER_UID_LABEL, uid)
    errs += _has_label(tmeta, path, JOB_NAME_LABEL, name)
    if not job.spec.HasField("selector"):
        return [*errs, required("spec.selector")]
    matches = _selector_matches(job.spec.selector, {CONTROLLER_UID_LABEL: uid})
    if matches is False:
        errs.append(invalid("spec.selector", _selector_text(job.spec.selector), "`selector` not auto-generated"))
    return errs


def validate_job(job: batch_pb2.Job) -> list[FieldError]:
    errs = validate_object_meta(job.metadata, True, name_is_dns_subdomain)
    errs += _validate_generated_selector(job)
    spec = job.spec
    for fld, json_name in (
        ("parallelism", "parallelism"),
        ("completions", "completions"),
        ("active_deadline_seconds", "activeDeadlineSeconds"),
        ("backoff_limit", "backoffLimit"),
        ("ttl_seconds_after_finished", "ttlSecondsAfterFinished"),
    ):
        if spec.HasField(fld):  # type: ignore[arg-type]
            errs += _nonnegative(getattr(spec, fld), f"spec.{json_name}")
    if spec.HasField("completion_mode"):
        if spec.completion_mode not in ("NonIndexed", "Indexed"):
            errs.append(not_supported("spec.completionMode", spec.completion_mode, ["NonIndexed", "Indexed"]))
        if spec.completion_mode == "Indexed":
            if not spec.HasField("completions"):
                errs.append(required("spec.completions", "when completion mode is Indexed"))
            if spec.HasField("parallelism") and spec.parallelism > 100000:
                errs.append(
                    invalid(
                        "spec.parallelism",
                        spec.parallelism,
                        "must be less than or equal to 100000 when completion mode is Indexed",
                    )
                )
            elif spec.HasField("completions") and spec.completions > 0:
                # The controller names pods <job>-<index>: the largest must be a DNS label.
                hostname = f"{job.metadata.name}-{spec.completions - 1}"
                if names.validate_dns1123_label(hostname):
                    errs.append(
                        invalid(
                            "metadata.name",
                            job.metadata.name,
                            f"will not able to create pod with invalid DNS label: {hostname}",
                        )
                    )
    if not spec.HasField("selector"):
        errs.append(required("spec.selector"))
    else:
        errs += _validate_label_selector(spec.selector, "spec.selector")
        if _selector_matches(spec.selector, spec.template.metadata.labels) is False:
            errs.append(
                invalid(
                    "spec.template.metadata.labels",
                    dict(spec.template.metadata.labels),
                    "`selector` does not match template `labels`",
                )
            )
    errs += validate_job_extra(job)
    errs += validate_pod_template(spec.template, "spec.template")
    if spec.template.spec.restart_policy not in ("OnFailure", "Never"):
        errs.append(
            not_supported("spec.template.spec.restartPolicy", spec.template.spec.restart_policy, ["OnFailure", "Never"])
        )
    return errs


def validate_job_update(new: batch_pb2.Job, old: batch_pb2.Job) -> list[FieldError]:
    errs = _selector_immutable(new, old)
    ns, os_ = new.spec, old.spec
    elastic = ns.completion_mode == "Indexed" and ns.HasField("completions") and ns.completions == ns.parallelism
    if not elastic and (ns.HasField("completions"), ns.completions) != (os_.HasField("completions"), os_.completions):
        errs.append(invalid("spec.completions", ns.completions if ns.HasField("completions") else None, IMMUTABLE_MSG))
    if ns.template != os_.template:
        errs.append(invalid("spec.template", GoValue("core.PodTemplateSpec{...}"), IMMUTABLE_MSG))
    if ns.completion_mode != os_.completion_mode:
        errs.append(invalid("spec.completionMode", ns.completion_mode, IMMUTABLE_MSG))
    return errs
