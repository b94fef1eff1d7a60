"""What the storage parts share about PersistentVolumes, claims and classes: the annotations they talk through, the
class a volume or claim asks for, and whether a volume may be used on a node (pkg/volume/util, storage/v1 helpers)."""

from __future__ import annotations

from typing import Any

from kubemu.api import labels
from kubemu.api.nodematch import is_empty_term, node_fields, parse_term
from kubemu.api.quantity import parse_quantity
from kubemu.pb import core_pb2

IS_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
BETA_IS_DEFAULT_CLASS = "storageclass.beta.kubernetes.io/is-default-class"
BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"

IMMEDIATE = "Immediate"
WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"

LOCAL_PATH_PROVISIONER = "rancher.io/local-path"
"""The provisioner of kind's `standard` class, which kubemu simulates (controllers/localpath.py)."""


def is_default_class(sc: Any) -> bool:
    """storageutil.IsDefaultAnnotation: the GA annotation, or the beta one, says "true"."""
    ann = sc.metadata.annotations
    return bool(ann.get(IS_DEFAULT_CLASS) == "true" or ann.get(BETA_IS_DEFAULT_CLASS) == "true")


def claim_class(pvc: core_pb2.PersistentVolumeClaim) -> str:
    """GetPersistentVolumeClaimClass: the beta annotation wins over spec.storageClassName; "" is no class."""
    if BETA_STORAGE_CLASS in pvc.metadata.annotations:
        return pvc.metadata.annotations[BETA_STORAGE_CLASS]
    return pvc.spec.storage_class_name


def volume_class(pv: core_pb2.PersistentVolume) -> str:
    """GetPersistentVolumeClass."""
    if BETA_STORAGE_CLASS in pv.metadata.annotations:
        return pv.metadata.annotations[BETA_STORAGE_CLASS]
    return pv.spec.storage_class_name


def volume_node_affinity_matches(pv: core_pb2.PersistentVolume, node: core_pb2.Node) -> bool:
    """CheckNodeAffinity (pkg/volume/util): a volume without required node affinity fits every node; otherwise one
    of its terms must match the node's labels and fields."""
    if not pv.spec.HasField("node_affinity") or not pv.spec.node_affinity.HasField("required"):
        return True
    terms = [t for t in pv.spec.node_affinity.required.node_selector_terms if not is_empty_term(t)]
    return any(parse_term(t).matches(node.metadata.labels, node_fields(node)) for t in terms)


def pinned_node(pv: core_pb2.PersistentVolume) -> str:
    """The node a volume is pinned to by a `kubernetes.io/hostname In [node]` term (local volumes), or ""."""
    if not pv.spec.HasField("node_affinity"):
        return ""
    for term in pv.spec.node_affinity.required.node_selector_terms:
        for expr in term.match_expressions:
            if expr.key == "kubernetes.io/hostname" and expr.operator == "In" and len(expr.values) == 1:
                return expr.values[0]
    return ""


def access_modes_text(modes: Any) -> str:
    """GetAccessModesAsString: RWO, ROX, RWX, RWOP in that order, each once, comma-joined."""
    short = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
    present = set(modes)
    return ",".join(s for m, s in short.items() if m in present)


def storage_bytes(values: Any) -> int:
    """The `storage` entry of a ResourceList, in bytes (0 when absent)."""
    raw = values.get("storage")
    return parse_quantity(raw).value() if raw else 0


def volume_matches(pv: core_pb2.PersistentVolume, pvc: core_pb2.PersistentVolumeClaim) -> bool:
    """What findMatchingVolume asks of a volume for a claim, past availability: same class, volumeMode, every access
    mode asked for, at least the size asked for, and the claim's selector over the volume's labels."""
    if volume_class(pv) != claim_class(pvc):
        return False
    if (pv.spec.volume_mode or "Filesystem") != (pvc.spec.volume_mode or "Filesystem"):
        return False
    if not set(pvc.spec.access_modes) <= set(pv.spec.access_modes):
        return False
    if storage_bytes(pv.spec.capacity) < storage_bytes(pvc.spec.resources.requests):
        return False
    if pvc.spec.HasField("selector"):
        try:
            sel = labels.from_label_selector(pvc.spec.selector)
        except labels.SelectorError:
            return False
        if not sel.matches(pv.metadata.labels):
            return False
    return True


def find_best_match(pvc: core_pb2.PersistentVolumeClaim, volumes: list[core_pb2.PersistentVolume],
                    node: core_pb2.Node | None = None) -> core_pb2.PersistentVolume | None:
    """findBestMatchForClaim: a volume pre-bound to the claim wins; else the smallest available matching volume (on
    `node`, when the claim waits for its first consumer)."""
    best: core_pb2.PersistentVolume | None = None
    for pv in volumes:
        if pv.metadata.HasField("deletion_timestamp") or not volume_matches(pv, pvc):
            continue
        ref = pv.spec.claim_ref
        if pv.spec.HasField("claim_ref"):
            if (ref.namespace, ref.name) != (pvc.metadata.namespace, pvc.metadata.name):
                continue
            if ref.uid and ref.uid != pvc.metadata.uid:
                continue
            return pv
        if pvc.spec.volume_name and pvc.spec.volume_name != pv.metadata.name:
            continue
        if node is not None and not volume_node_affinity_matches(pv, node):
            continue
        if best is None or storage_bytes(pv.spec.capacity) < storage_bytes(best.spec.capacity):
            best = pv
    return best
