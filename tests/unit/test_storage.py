"""PersistentVolumes, claims and classes on plain objects: the strategies' defaults and messages (each compared with
kube-apiserver 1.35, ../shared/k8s-peer), volume matching, the VolumeBinding plugin and the local-path volume."""

from __future__ import annotations

import random
from typing import Any

import pytest

import apiserver.apis.install  # noqa: F401  (the strategies' registry, as the apiserver loads it)
from apiserver.apis.core.persistentvolume import STRATEGY as PV
from apiserver.apis.core.persistentvolumeclaim import STRATEGY as PVC
from apiserver.apis.storage.storageclass import STRATEGY as SC
from controllers.localpath import new_volume
from kubemu.api import storage
from kubemu.api.serialization import from_dict
from kubemu.config import ClusterConfig
from kubemu.pb import core_pb2, storage_pb2
from scheduler.framework import UNRESOLVABLE, NodeInfo, Snapshot, VolumeListers
from scheduler.plugins.volume_binding import volume_binding
from scheduler.scheduler import decide, fit_error

pytestmark = pytest.mark.unit
CONFIG = ClusterConfig()


def pv(name: str = "pv1", **spec: Any) -> core_pb2.PersistentVolume:
    return from_dict({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},  # type: ignore
                      "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                               "hostPath": {"path": "/mnt/x"}, **spec}})


def pvc(name: str = "c1", storage_: str | None = "1Gi", **spec: Any) -> core_pb2.PersistentVolumeClaim:
    body: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], **spec}
    if storage_ is not None:
        body["resources"] = {"requests": {"storage": storage_}}
    return from_dict({"apiVersion": "v1", "kind": "PersistentVolumeClaim",  # type: ignore[no-any-return]
                      "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"}, "spec": body})


def sc(name: str, mode: str = "Immediate", provisioner: str = "example.com/x",
       **extra: Any) -> storage_pb2.StorageClass:
    return from_dict({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",  # type: ignore[no-any-return]
                      "metadata": {"name": name}, "provisioner": provisioner, "volumeBindingMode": mode, **extra})


def created(strategy: Any, obj: Any) -> list[str]:
    strategy.prepare_for_create(obj, CONFIG)
    return [str(e) for e in strategy.validate(obj)]


def updated(strategy: Any, new: Any, old: Any) -> list[str]:
    strategy.prepare_for_update(new, old, CONFIG)
    return [str(e) for e in strategy.validate_update(new, old)]


# ---- strategies -------------------------------------------------------------------------------------


def test_a_volume_is_defaulted_and_starts_pending() -> None:
    v = pv()
    assert created(PV, v) == []
    assert (v.spec.persistent_volume_reclaim_policy, v.spec.volume_mode, v.status.phase) == ("Retain", "Filesystem",
                                                                                              "Pending")
    assert v.spec.host_path.HasField("type") and v.spec.host_path.type == ""


def test_a_volume_without_anything_says_what_it_lacks() -> None:
    v = from_dict({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "badpv"},
                   "spec": {"persistentVolumeReclaimPolicy": "Foo"}})
    assert created(PV, v) == [
        "spec.accessModes: Required value",
        "spec.capacity: Required value",
        'spec.capacity: Unsupported value: null: supported values: "storage"',
        'spec.persistentVolumeReclaimPolicy: Unsupported value: "Foo": supported values: "Delete", "Recycle", "Retain"',
        "spec: Required value: must specify a volume type",
    ]
    two = pv(capacity={"storage": "1Gi", "cpu": "1"}, nfs={"server": "a", "path": "/b"}, volumeMode="Foo")
    assert created(PV, two) == [
        'spec.capacity: Unsupported value: {"cpu":"1","storage":"1Gi"}: supported values: "storage"',
        "spec.nfs: Forbidden: may not specify more than 1 volume type",
        'spec.volumeMode: Unsupported value: "Foo": supported values: "Block", "Filesystem"',
    ]


def test_a_local_volume_needs_node_affinity() -> None:
    v = from_dict({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "l"},
                   "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                            "local": {"path": "/mnt/disk"}}})
    assert created(PV, v) == ["spec.nodeAffinity: Required value: Local volume requires node affinity"]


def test_a_volumes_source_stays() -> None:
    old = pv()
    created(PV, old)
    new = core_pb2.PersistentVolume()
    new.CopyFrom(old)
    new.spec.host_path.path = "/y"
    errs = updated(PV, new, old)
    assert errs[0].startswith("spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after "
                              "creation\n@@ ")
    assert '-  "Path": "/mnt/x",\n+  "Path": "/y",' in errs[0]


def test_a_volumes_phase_change_is_stamped() -> None:
    old = pv()
    created(PV, old)
    incoming = core_pb2.PersistentVolume()
    incoming.CopyFrom(old)
    incoming.status.phase = "Available"
    new = PV.prepare_for_status_update(incoming, old)
    assert new.status.last_phase_transition_time.seconds >= old.metadata.creation_timestamp.seconds
    same = PV.prepare_for_status_update(new, new)
    assert same.status.last_phase_transition_time == new.status.last_phase_transition_time


def test_a_claim_without_a_storage_request_is_refused_naming_it() -> None:
    assert created(PVC, pvc(storage_=None)) == ["spec.resources[storage]: Required value"]
    bad = pvc(storage_="0")
    del bad.spec.access_modes[:]
    assert created(PVC, bad) == ["spec.accessModes: Required value: at least 1 access mode is required",
                                 'spec.resources[storage]: Invalid value: "0": must be greater than zero']


def test_a_claims_spec_is_immutable_but_for_binding_and_growth_once_bound() -> None:
    old = pvc(storageClassName="standard")
    assert created(PVC, old) == []
    assert old.spec.volume_mode == "Filesystem" and old.status.phase == "Pending"
    new = core_pb2.PersistentVolumeClaim()
    new.CopyFrom(old)
    new.spec.access_modes[0] = "ReadWriteMany"
    assert updated(PVC, new, old) == [
        "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName "
        'for bound claims\n@@ -1,6 +1,6 @@\n {\n  "AccessModes": [\n-  "ReadWriteOnce"\n+  "ReadWriteMany"\n  ],\n'
        '  "Selector": null,\n  "Resources": {\n']
    # The PV controller sets volumeName once; an annotation is no spec change.
    new.CopyFrom(old)
    new.spec.volume_name = "pv1"
    new.metadata.annotations[storage.SELECTED_NODE] = "node-1"
    assert updated(PVC, new, old) == []
    # Growth: only for a bound claim.
    bound = core_pb2.PersistentVolumeClaim()
    bound.CopyFrom(new)
    bound.status.phase = "Bound"
    bound.status.capacity["storage"] = "1Gi"
    grown = core_pb2.PersistentVolumeClaim()
    grown.CopyFrom(bound)
    grown.spec.resources.requests["storage"] = "2Gi"
    assert updated(PVC, grown, bound) == []
    shrunk = core_pb2.PersistentVolumeClaim()
    shrunk.CopyFrom(grown)
    shrunk.spec.resources.requests["storage"] = "1Gi"
    assert updated(PVC, shrunk, grown) == [
        "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"]


def test_a_storage_class_is_defaulted_and_what_it_provisions_with_never_changes() -> None:
    bad = from_dict({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "badsc"},
                     "reclaimPolicy": "Foo", "volumeBindingMode": "Bar"})
    assert created(SC, bad) == [
        "provisioner: Required value",
        'reclaimPolicy: Unsupported value: "Foo": supported values: "Delete", "Retain"',
        'volumeBindingMode: Unsupported value: "Bar": supported values: "Immediate", "WaitForFirstConsumer"',
    ]
    old = from_dict({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast"},
                     "provisioner": "example.com/x", "parameters": {"a": "b"}})
    assert created(SC, old) == []
    assert (old.reclaim_policy, old.volume_binding_mode) == ("Delete", "Immediate")
    new = storage_pb2.StorageClass()
    new.CopyFrom(old)
    new.provisioner, new.parameters["a"] = "x.y/z", "c"
    new.reclaim_policy, new.volume_binding_mode = "Retain", "WaitForFirstConsumer"
    assert updated(SC, new, old) == [
        "parameters: Forbidden: updates to parameters are forbidden.",
        "provisioner: Forbidden: updates to provisioner are forbidden.",
        "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.",
        'volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable',
    ]


def test_every_cluster_has_kinds_standard_class() -> None:
    (standard,) = SC.system_objects()
    assert standard.metadata.name == "standard" and storage.is_default_class(standard)
    assert (standard.provisioner, standard.volume_binding_mode, standard.reclaim_policy) == (
        "rancher.io/local-path", "WaitForFirstConsumer", "Delete")


# ---- matching ---------------------------------------------------------------------------------------


def test_the_smallest_matching_volume_wins_and_a_prebound_one_before_it() -> None:
    claim = pvc(storage_="1Gi", storageClassName="fast")
    small, big = pv("small", storageClassName="fast"), pv("big", storageClassName="fast", capacity={"storage": "5Gi"})
    other = pv("other", storageClassName="slow")
    rwx = pv("rwx", storageClassName="fast", accessModes=["ReadWriteMany"])
    tiny = pv("tiny", storageClassName="fast", capacity={"storage": "500Mi"})
    assert storage.find_best_match(claim, [big, other, rwx, tiny, small]) is small
    prebound = pv("pre", storageClassName="fast", capacity={"storage": "9Gi"},
                  claimRef={"namespace": "ns", "name": "c1"})
    assert storage.find_best_match(claim, [small, prebound]) is prebound
    taken = pv("taken", storageClassName="fast", claimRef={"namespace": "ns", "name": "someone-else"})
    assert storage.find_best_match(claim, [taken]) is None
    labelled = pvc(storage_="1Gi", storageClassName="fast", selector={"matchLabels": {"tier": "gold"}})
    gold = pv("gold", storageClassName="fast", capacity={"storage": "3Gi"})
    gold.metadata.labels["tier"] = "gold"
    assert storage.find_best_match(labelled, [small, gold]) is gold


def test_the_local_path_volume_is_pinned_to_the_selected_node() -> None:
    claim = pvc(storageClassName="standard")
    volume = new_volume(claim, SC.system_objects()[0], "node-2")
    assert volume.metadata.name == "pvc-uid-c1"
    assert storage.pinned_node(volume) == "node-2"
    assert (volume.spec.claim_ref.name, volume.spec.claim_ref.uid) == ("c1", "uid-c1")
    assert volume.spec.persistent_volume_reclaim_policy == "Delete"
    assert created(PV, volume) == []


# ---- VolumeBinding ----------------------------------------------------------------------------------


class _Store:
    def __init__(self, objs: dict[str, Any]) -> None:
        self.objs = objs

    def get(self, key: str) -> Any:
        return self.objs.get(key)

    def list(self) -> list[Any]:
        return list(self.objs.values())


def snapshot(claims: list[Any], volumes: list[Any] = (), classes: list[Any] = ()) -> Snapshot:  # type: ignore
    nodes = [from_dict({"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": n, "labels": {"kubernetes.io/hostname": n}}, "status": {"allocatable": {"cpu": "4", "pods": "110"}}})
        for n in ("node-1", "node-2", "node-3")]
    snap = Snapshot([NodeInfo.build(n) for n in nodes])
    snap.volumes = VolumeListers(
        _Store({f"{c.metadata.namespace}/{c.metadata.name}": c for c in claims}),
        _Store({v.metadata.name: v for v in volumes}), _Store({s.metadata.name: s for s in classes}))
    return snap


def user(claim_name: str) -> core_pb2.Pod:
    return from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"},  # type: ignore
                      "spec": {"containers": [{"name": "c", "image": "busybox"}],
                               "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim_name}}]}})


def message(pod: core_pb2.Pod, snap: Snapshot) -> str:
    d = decide(pod, snap, random.Random(1))
    assert d.node is None
    return fit_error(len(snap.nodes), d.statuses, d.pre_filter_msg)


def test_a_missing_claim_fails_the_pod_everywhere_in_upstreams_words() -> None:
    snap = snapshot([])
    assert message(user("gone"), snap) == '0/3 nodes are available: persistentvolumeclaim "gone" not found.'
    st = volume_binding.pre_filter(user("gone"), snap)
    assert st.code == UNRESOLVABLE


def test_an_unbound_immediate_claim_keeps_the_pod_off_every_node() -> None:
    for classes in ([], [sc("fast")]):  # no class at all counts as Immediate
        snap = snapshot([pvc(storageClassName="fast")], classes=classes)
        assert message(user("c1"), snap) == "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims."


def test_a_bound_volume_keeps_the_pod_on_its_nodes() -> None:
    claim = pvc(volumeName="local")
    local = pv("local", nodeAffinity={"required": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-2"]}]}]}})
    snap = snapshot([claim], [local])
    assert decide(user("c1"), snap, random.Random(1)).node == "node-2"
    snap.by_name.pop("node-2")
    snap.nodes = [n for n in snap.nodes if n.name != "node-2"]
    assert message(user("c1"), snap) == "0/2 nodes are available: 2 node(s) had volume node affinity conflict."


def test_a_claim_waiting_for_its_consumer_needs_a_volume_or_a_provisioner() -> None:
    manual = sc("manual", "WaitForFirstConsumer", "kubernetes.io/no-provisioner")
    claim = pvc(storageClassName="manual")
    assert message(user("c1"), snapshot([claim], classes=[manual])) == (
        "0/3 nodes are available: 3 node(s) didn't find available persistent volumes to bind.")
    on3 = pv("on3", storageClassName="manual", nodeAffinity={"required": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-3"]}]}]}})
    assert decide(user("c1"), snapshot([claim], [on3], [manual]), random.Random(1)).node == "node-3"
    dynamic = sc("dyn", "WaitForFirstConsumer", storage.LOCAL_PATH_PROVISIONER)
    assert decide(user("c1"), snapshot([pvc(storageClassName="dyn")], classes=[dynamic]),
                  random.Random(1)).node is not None
