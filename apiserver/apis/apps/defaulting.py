"""Defaulting of the apps/v1 kinds (ReplicaSet, Deployment, DaemonSet), as pkg/apis/apps/v1/defaults.go (v1.32)."""

from __future__ import annotations

from apiserver.apis.core.defaulting import (
    _default_pod_template,
)
from kubemu.pb import apps_pb2, meta_pb2

# ---- apps/v1 ----------------------------------------------------------------------------------------


def _set_int_or_string(target: meta_pb2.IntOrString, value: int | str) -> None:
    if isinstance(value, int):
        target.int_val = value
    else:
        target.str_val = value


def default_replica_set(rs: apps_pb2.ReplicaSet) -> None:
    if not rs.spec.HasField("replicas"):
        rs.spec.replicas = 1
    _default_pod_template(rs.spec.template)


def default_deployment(d: apps_pb2.Deployment) -> None:
    spec = d.spec
    if not spec.HasField("replicas"):
        spec.replicas = 1
    strategy = spec.strategy
    if not strategy.type:
        strategy.type = "RollingUpdate"
    if strategy.type == "RollingUpdate":
        ru = strategy.rolling_update
        ru.SetInParent()
        if not ru.HasField("max_unavailable"):
            _set_int_or_string(ru.max_unavailable, "25%")
        if not ru.HasField("max_surge"):
            _set_int_or_string(ru.max_surge, "25%")
    if not spec.HasField("revision_history_limit"):
        spec.revision_history_limit = 10
    if not spec.HasField("progress_deadline_seconds"):
        spec.progress_deadline_seconds = 600
    _default_pod_template(spec.template)


def default_daemon_set(ds: apps_pb2.DaemonSet) -> None:
    spec = ds.spec
    us = spec.update_strategy
    if not us.type:
        us.type = "RollingUpdate"
    if us.type == "RollingUpdate":
        ru = us.rolling_update
        ru.SetInParent()
        if not ru.HasField("max_unavailable"):
            _set_int_or_string(ru.max_unavailable, 1)
        if not ru.HasField("max_surge"):
            _set_int_or_string(ru.max_surge, 0)
    if not spec.HasField("revision_history_limit"):
        spec.revision_history_limit = 10
    _default_pod_template(spec.template)
