"""VolumeBinding (pkg/scheduler/framework/plugins/volumebinding, v1.35): a pod's claims must exist and not be going;
an unbound claim of an Immediate class keeps the pod off every node until the PV controller binds it; a bound volume
fits only the nodes its node affinity selects; a claim waiting for its first consumer needs a node with a matching
volume or a class that provisions one. PreBind (the scheduler's binding cycle) names the chosen node on those
claims (volume.kubernetes.io/selected-node) and waits for them to be bound."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kubemu.api import storage
from kubemu.pb import core_pb2
from scheduler.framework import OK, NodeInfo, Snapshot, Status, VolumeListers, unschedulable

NAME = "VolumeBinding"
ERR_REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ERR_REASON_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
"""The provisioner of classes whose volumes are made by hand (local volumes): only a static volume will do."""


def claim_names(pod: core_pb2.Pod) -> Iterator[tuple[str, bool]]:
    """The claims a pod's volumes name, with whether each is a generic ephemeral volume's (`<pod>-<volume>`)."""
    for vol in pod.spec.volumes:
        if vol.HasField("persistent_volume_claim"):
            yield vol.persistent_volume_claim.claim_name, False
        elif vol.HasField("ephemeral"):
            yield f"{pod.metadata.name}-{vol.name}", True


def is_delay_binding(pvc: core_pb2.PersistentVolumeClaim, listers: VolumeListers) -> bool:
    """IsDelayBindingMode: the claim's class exists and waits for the first consumer ("" or a missing class is
    Immediate)."""
    name = storage.claim_class(pvc)
    cls = listers.classes.get(name) if name else None
    return cls is not None and cls.volume_binding_mode == storage.WAIT_FOR_FIRST_CONSUMER


@dataclass(frozen=True)
class PodClaims:
    """GetPodVolumeClaims' answer: the bound claims' volumes and the claims still to bind (delayed)."""

    bound: tuple[core_pb2.PersistentVolume | None, ...]
    """The volume of each bound claim (None: the volume is missing)."""
    delayed: tuple[core_pb2.PersistentVolumeClaim, ...]


def pod_claims(pod: core_pb2.Pod, listers: VolumeListers) -> PodClaims:
    bound: list[core_pb2.PersistentVolume | None] = []
    delayed: list[core_pb2.PersistentVolumeClaim] = []
    for name, _ in claim_names(pod):
        pvc = listers.claims.get(f"{pod.metadata.namespace}/{name}")
        if pvc is None:
            continue
        if pvc.spec.volume_name:
            bound.append(listers.volumes.get(pvc.spec.volume_name))
        else:
            delayed.append(pvc)
    return PodClaims(tuple(bound), tuple(delayed))


class VolumeBinding:
    """PreFilter (with Skip) and Filter."""

    name = NAME

    def skip_filter(self, pod: core_pb2.Pod, snapshot: Snapshot) -> bool:
        return snapshot.volumes is None or next(claim_names(pod), None) is None

    def pre_filter(self, pod: core_pb2.Pod, snapshot: Snapshot) -> Status:
        """podHasPVCs, then GetPodVolumeClaims' unbound Immediate claims: both fail the pod on every node."""
        listers = snapshot.volumes
        if listers is None:
            return OK
        unbound_immediate = False
        for name, ephemeral in claim_names(pod):
            pvc = listers.claims.get(f"{pod.metadata.namespace}/{name}")
            if pvc is None:
                if ephemeral:
                    msg = f'waiting for ephemeral volume controller to create the persistentvolumeclaim "{name}"'
                else:
                    msg = f'persistentvolumeclaim "{name}" not found'
                return unschedulable(NAME, msg, unresolvable=True)
            if pvc.status.phase == "Lost":
                return unschedulable(NAME, f'persistentvolumeclaim "{name}" bound to non-existent persistentvolume '
                                           f'"{pvc.spec.volume_name}"', unresolvable=True)
            if pvc.metadata.HasField("deletion_timestamp"):
                return unschedulable(NAME, f'persistentvolumeclaim "{name}" is being deleted', unresolvable=True)
            if not pvc.spec.volume_name and not is_delay_binding(pvc, listers):
                unbound_immediate = True
        if unbound_immediate:
            return unschedulable(NAME, ERR_UNBOUND_IMMEDIATE, unresolvable=True)
        return OK

    def filter(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> Status:
        listers = snapshot.volumes
        if listers is None:
            return OK
        claims = snapshot.cycle_state(NAME, pod, lambda: pod_claims(pod, listers))
        reasons: list[str] = []
        for pv in claims.bound:
            if pv is not None and not storage.volume_node_affinity_matches(pv, node.node):
                reasons.append(ERR_REASON_NODE_CONFLICT)
                break
        if claims.delayed:
            volumes = listers.volumes.list()
            for pvc in claims.delayed:
                if storage.find_best_match(pvc, volumes, node.node) is not None:
                    continue
                cls = listers.classes.get(storage.claim_class(pvc))
                if cls is None or cls.provisioner == NO_PROVISIONER:
                    reasons.append(ERR_REASON_BIND_CONFLICT)
                    break
        if reasons:
            return unschedulable(NAME, *reasons, unresolvable=True)
        return OK


volume_binding = VolumeBinding()
