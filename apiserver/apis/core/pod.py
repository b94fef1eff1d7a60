"""The Pod strategy: a new pod is Pending with its QoS class, mirror pods follow their static pod, deletion is graceful
while the pod runs on a node, and binding assigns a node, as pkg/registry/core/pod/strategy.go and storage.go."""

from __future__ import annotations

from typing import Any

from apiserver import errors
from apiserver.apis.core.defaulting import default_pod
from apiserver.apis.core.validation import validate_pod, validate_pod_update
from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError, forbidden
from kubemu.api import fields, kinds
from kubemu.api.serialization import set_time
from kubemu.config import ClusterConfig

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


class PodStrategy(Strategy):
    field_labels = fields.FieldLabels(
        fields.NAME_AND_NAMESPACE | {
            "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName",
        },
        {"spec.host": "spec.nodeName"},  # what pre-1.0 clients sent
        fields.not_supported,
    )

    def default(self, obj: Any, config: ClusterConfig) -> None:
        default_pod(obj, config.pod.default_toleration_seconds)

    def prepare_for_create(self, obj: Any, config: ClusterConfig) -> None:
        self.default(obj, config)
        qos = obj.status.qos_class
        obj.ClearField("status")
        obj.status.phase = "Pending"
        obj.status.qos_class = qos

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_pod(obj)

    def prepare_for_update(self, new: Any, old: Any, config: ClusterConfig) -> None:
        super().prepare_for_update(new, old, config)
        new.status.qos_class = old.status.qos_class  # decided at create, never again

    def forbidden_update(self, new: Any, old: Any) -> list[FieldError]:
        """A mirror pod shows a static pod: only its kubelet's manifest changes it (ValidatePodSpecificAnnotations)."""
        path = f"metadata.annotations[{MIRROR_ANNOTATION}]"
        before = old.metadata.annotations.get(MIRROR_ANNOTATION)
        after = new.metadata.annotations.get(MIRROR_ANNOTATION)
        if before is None and after is not None:
            return [forbidden(path, "may not add mirror pod annotation")]
        if before is not None and after != before:
            return [forbidden(path, "may not remove or update mirror pod annotation")]
        if before is not None and new.spec.SerializeToString(deterministic=True) != old.spec.SerializeToString(
            deterministic=True
        ):
            return [forbidden(
                "spec", f'a mirror pod follows its static pod manifest on node "{old.spec.node_name}"; edit the '
                "manifest there instead of the mirror pod")]
        return []

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return super().validate_update(new, old) + validate_pod_update(new, old)

    def grace_period(self, obj: Any, requested: int | None, config: ClusterConfig) -> int:
        """CheckGracefulDelete of the pod strategy: graceful only for pods on a node that are not done."""
        if requested is not None:
            grace = requested
        elif obj.spec.HasField("termination_grace_period_seconds"):
            grace = obj.spec.termination_grace_period_seconds
        else:
            grace = config.pod.termination_grace_period_seconds
        if not obj.spec.node_name or obj.status.phase in ("Succeeded", "Failed"):
            grace = 0
        return max(grace, 0)

    def waits_for_grace(self, obj: Any, grace: int) -> bool:
        # The kubelet stops the containers, then deletes the pod with grace 0.
        return grace > 0

    def bind(self, obj: Any, target: str, now: float) -> None:
        """assignPod of the binding REST: a pod not being deleted and not yet on a node gets `target` as its node and
        the PodScheduled condition."""
        name = obj.metadata.name
        if obj.metadata.HasField("deletion_timestamp"):
            raise errors.Conflict(f"pod {name} is being deleted, cannot be assigned to a host")
        if obj.spec.node_name:
            raise errors.Conflict(f'pod {name} is already assigned to node "{obj.spec.node_name}"')
        obj.spec.node_name = target
        cond = next((c for c in obj.status.conditions if c.type == "PodScheduled"), None)
        if cond is None:
            cond = obj.status.conditions.add(type="PodScheduled")
        if cond.status != "True":
            set_time(cond.last_transition_time, float(int(now)))
        cond.status = "True"
        cond.reason = ""
        cond.message = ""

    def selectable_fields(self, obj: Any) -> dict[str, str]:
        # Upstream reads status.podIPs[0]; v1 clients may only have set the singular podIP the conversion copies in.
        pod_ip = obj.status.pod_ips[0].ip if len(obj.status.pod_ips) else obj.status.pod_ip
        return {
            "spec.nodeName": obj.spec.node_name,
            "spec.restartPolicy": obj.spec.restart_policy,
            "spec.schedulerName": obj.spec.scheduler_name,
            "spec.serviceAccountName": obj.spec.service_account_name,
            "spec.hostNetwork": fields.bool_field(obj.spec.host_network),
            "status.phase": obj.status.phase,
            "status.podIP": pod_ip,
            "status.nominatedNodeName": obj.status.nominated_node_name,
        }


STRATEGY = PodStrategy(kinds.by_kind("Pod"))
