"""Upstream's kube-scheduler (built from Kubernetes 1.35-dev source, ../shared/k8s-peer) in place of kubemu-scheduler:
`kubemu up --no-scheduler`, then kube-scheduler with the cluster's kubeconfig binds the pods over the REST API, and
kubemu's kubelets run them.

Skipped where the peer's script is absent (it unpacks and locates the binaries: `peer bin`).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.test_launcher import Kubemu
from tests.support import REPO

kubernetes = pytest.importorskip("kubernetes", reason="no kubernetes client: install the test extras")
from kubernetes import client as k8s  # noqa: E402
from kubernetes.config import new_client_from_config  # noqa: E402

pytestmark = pytest.mark.integration

PEER_SCRIPT = Path(os.environ.get("KUBEMU_PEER_SCRIPT", REPO.parent / "shared" / "k8s-peer" / "peer"))
"""The peer's script, beside the repository in CI; KUBEMU_PEER_SCRIPT names it elsewhere (a git worktree)."""

# Upstream's default plugins (pkg/scheduler/apis/config/v1/default_plugins.go) less those whose informers list kinds
# kubemu does not serve: the scheduler waits for every informer it started to sync before it schedules anything, so
# one unserved kind stops it. What each needs, as its informers asked kubemu (each answered 404):
DISABLED_PLUGINS = {
    "VolumeRestrictions": "PersistentVolumeClaims",
    "NodeVolumeLimits": "CSINodes, PersistentVolumes, PersistentVolumeClaims, StorageClasses, VolumeAttachments",
    "VolumeBinding": "CSIDrivers, CSINodes, CSIStorageCapacities, PersistentVolumes, PersistentVolumeClaims, "
                     "StorageClasses",
    "VolumeZone": "PersistentVolumes, PersistentVolumeClaims, StorageClasses",
    # Its system default constraints find a pod's owners through every kind that selects pods.
    "PodTopologySpread": "Services and StatefulSets (and ReplicationControllers and ReplicaSets, which kubemu serves)",
    "DefaultPreemption": "PodDisruptionBudgets (policy/v1)",
    # resource.k8s.io's ResourceClaims, ResourceSlices and DeviceClasses: the scheduler itself starts those
    # informers whenever the DynamicResourceAllocation gate is on (GA, default on), so the gate is turned off too.
    "DynamicResources": "ResourceClaims, ResourceSlices, DeviceClasses (resource.k8s.io/v1)",
}


def scheduler_config(kubeconfig: Path) -> str:
    disabled = "".join(f"          - name: {name}  # needs {needs}\n" for name, needs in DISABLED_PLUGINS.items())
    return (
        "apiVersion: kubescheduler.config.k8s.io/v1\n"
        "kind: KubeSchedulerConfiguration\n"
        "clientConnection:\n"
        f"  kubeconfig: {kubeconfig}\n"
        # Its default is protobuf, which kubemu does not take (415): its binding and events would all fail. Reads
        # already fall back to JSON (it accepts both).
        "  contentType: application/json\n"
        "leaderElection:\n"
        "  leaderElect: true\n"  # a Lease in kube-system, as upstream's default
        "profiles:\n"
        "  - schedulerName: default-scheduler\n"
        "    plugins:\n"
        "      multiPoint:\n"
        "        disabled:\n" + disabled
    )


@pytest.fixture
def peer_bin() -> Path:
    if not PEER_SCRIPT.exists():
        pytest.skip(f"no upstream binaries: the k8s peer's script is not at {PEER_SCRIPT} (set KUBEMU_PEER_SCRIPT)")
    out = subprocess.run([str(PEER_SCRIPT), "bin"], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        pytest.skip(f"`peer bin` failed: {out.stderr.strip()[-500:]}")
    folder = Path(out.stdout.strip().splitlines()[-1])
    if not (folder / "kube-scheduler").exists():
        pytest.skip(f"no kube-scheduler in {folder}")
    return folder


@pytest.fixture
def kubemu(tmp_path: Path) -> Iterator[Kubemu]:
    k = Kubemu(tmp_path / "state")
    try:
        yield k
    finally:
        k.cleanup()


def pods_state(v1: k8s.CoreV1Api, namespace: str) -> dict[str, tuple[str | None, str | None]]:
    return {p.metadata.name: (p.spec.node_name, p.status.phase) for p in v1.list_namespaced_pod(namespace).items}


def wait(predicate: Callable[[], bool], timeout: float, describe: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, describe()
        time.sleep(0.2)


@pytest.mark.timeout(240)
def test_kube_scheduler_binds_pods_that_kubemu_kubelets_run(peer_bin: Path, kubemu: Kubemu, tmp_path: Path) -> None:
    kubemu.up("--nodes", "2", "--no-scheduler")
    assert not [name for name in kubemu.ps() if name.startswith("scheduler")]
    kubeconfig = kubemu.state / "kubeconfig"
    api = new_client_from_config(config_file=str(kubeconfig))
    v1 = k8s.CoreV1Api(api)
    wait(lambda: len([n for n in v1.list_node().items
                      if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])]) == 2,
         30, lambda: "two Ready nodes")

    ns = "sched"
    v1.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=ns)))
    resources = k8s.V1ResourceRequirements(requests={"cpu": "100m", "memory": "64Mi"})
    for i in range(4):
        v1.create_namespaced_pod(ns, k8s.V1Pod(
            metadata=k8s.V1ObjectMeta(name=f"web-{i}"),
            spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="c", image="nginx", resources=resources)])))
    time.sleep(1)
    assert all(node is None for node, _ in pods_state(v1, ns).values()), "nothing schedules before kube-scheduler"

    config = tmp_path / "kube-scheduler.yaml"
    config.write_text(scheduler_config(kubeconfig))
    log = tmp_path / "kube-scheduler.log"
    with open(log, "wb") as out:
        sched = subprocess.Popen(
            [str(peer_bin / "kube-scheduler"), f"--config={config}", "--feature-gates=DynamicResourceAllocation=false",
             "--secure-port=0", "--v=2"], stdout=out, stderr=subprocess.STDOUT)
    try:
        def running() -> bool:
            state = pods_state(v1, ns)
            return len(state) == 4 and all(node in ("node-1", "node-2") and phase == "Running"
                                           for node, phase in state.values())

        wait(running, 60, lambda: f"pods bound and Running: {pods_state(v1, ns)}; its log: {log.read_text()[-3000:]}")
        events = [e for e in v1.list_namespaced_event(ns).items if e.reason == "Scheduled"]
        # Recorded through core/v1 Events: kubemu serves no events.k8s.io, and client-go's adapter falls back.
        assert {e.involved_object.name for e in events} == {f"web-{i}" for i in range(4)}
        assert all(e.source.component == "default-scheduler" for e in events)
        lease = k8s.CoordinationV1Api(api).read_namespaced_lease("kube-scheduler", "kube-system")
        assert lease.spec.holder_identity
        text = log.read_text()
        assert "Failed to watch" not in text and "Plugin Failed" not in text, text[-3000:]
    finally:
        sched.terminate()
        try:
            sched.wait(10)
        except subprocess.TimeoutExpired:
            sched.kill()
            sched.wait()
        api.close()
