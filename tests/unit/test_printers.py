"""kubectl's get tables, watch rows, ages and describe text, checked against what kubectl v1.32 prints."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubemu.api.serialization import from_dict
from kubemu.cli import printers

pytestmark = pytest.mark.unit

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def ts(ago: float) -> str:
    """An RFC 3339 time `ago` seconds before NOW."""
    return dt.datetime.fromtimestamp(NOW - ago, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_pod(name: str, status: dict[str, Any], *, spec: dict[str, Any] | None = None, age: float = 300,
             labels: dict[str, str] | None = None, meta: dict[str, Any] | None = None, ns: str = "default") -> Any:
    metadata: dict[str, Any] = {"name": name, "namespace": ns, "creationTimestamp": ts(age)}
    if labels:
        metadata["labels"] = labels
    metadata.update(meta or {})
    pod_spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx"}]}
    pod_spec.update(spec or {})
    return from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec, "status": status})


def running_pod() -> Any:
    return make_pod(
        "web",
        {
            "phase": "Running", "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {"name": "app", "ready": True, "restartCount": 0, "state": {"running": {"startedAt": ts(290)}}},
            ],
        },
        spec={"nodeName": "node-1"},
        labels={"app": "web", "tier": "fe"},
    )


def init_pod() -> Any:
    return make_pod(
        "init-wait",
        {
            "phase": "Pending",
            "initContainerStatuses": [
                {"name": "setup", "ready": False, "restartCount": 0, "state": {"running": {"startedAt": ts(10)}}},
            ],
            "containerStatuses": [
                {"name": "app", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}},
            ],
        },
        spec={"initContainers": [{"name": "setup", "image": "busybox"}]},
        age=20,
    )


def crash_pod() -> Any:
    return make_pod(
        "crashy",
        {
            "phase": "Running",
            "containerStatuses": [{
                "name": "app", "ready": False, "restartCount": 5,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ts(150)}},
            }],
        },
        age=3 * 3600,
    )


def completed_pod() -> Any:
    return make_pod(
        "job-x",
        {
            "phase": "Succeeded",
            "containerStatuses": [{
                "name": "app", "ready": False, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
            }],
        },
        age=2 * 86400 + 3600,
    )


def terminating_pod() -> Any:
    return make_pod(
        "old",
        {"phase": "Running", "containerStatuses": [
            {"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}},
        ]},
        meta={"deletionTimestamp": ts(-30), "deletionGracePeriodSeconds": 30},
        age=45,
    )


def make_node(name: str, ready: str | None, *, unschedulable: bool = False,
              labels: dict[str, str] | None = None) -> Any:
    conditions = []
    if ready is not None:
        conditions.append({
            "type": "Ready", "status": ready, "lastHeartbeatTime": ts(5), "lastTransitionTime": ts(3 * 86400 - 10),
            "reason": "KubeletReady", "message": "kubelet is posting ready status",
        })
    taints = [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}] if unschedulable else []
    return from_dict({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "creationTimestamp": ts(3 * 86400), "labels": labels or {}},
        "spec": {"unschedulable": unschedulable, "podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"],
                 "taints": taints},
        "status": {
            "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "Hostname", "address": name}],
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "kubemu", "kernelVersion": "6.1.0",
                         "containerRuntimeVersion": "kubemu://1.0", "operatingSystem": "linux",
                         "architecture": "amd64"},
        },
    })


def deployment() -> Any:
    return from_dict({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "creationTimestamp": ts(600)},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}},
        "status": {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2},
    })


def event(name: str, reason: str, message: str, *, first: float, last: float, count: int,
          component: str = "kubelet") -> Any:
    return from_dict({
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
        "reason": reason, "message": message, "type": "Normal", "source": {"component": component},
        "firstTimestamp": ts(first), "lastTimestamp": ts(last), "count": count,
    })


# ---- human_duration: upstream's duration_test.go ------------------------------------------------------------

SECOND, MINUTE, HOUR, DAY, MS = 1.0, 60.0, 3600.0, 86400.0, 0.001


@pytest.mark.parametrize(("seconds", "want"), [
    (SECOND, "1s"), (70 * SECOND, "70s"), (190 * SECOND, "3m10s"), (70 * MINUTE, "70m"), (47 * HOUR, "47h"),
    (49 * HOUR, "2d1h"), ((8 * 24 + 2) * HOUR, "8d"), (367 * DAY, "367d"), ((365 * 2 * 24 + 25) * HOUR, "2y1d"),
    ((365 * 8 * 24 + 2) * HOUR, "8y"),
    # TestHumanDurationBoundaries
    (-2 * SECOND, "<invalid>"), (-2 * SECOND + 1e-9, "0s"), (0.0, "0s"), (SECOND - MS, "0s"),
    (2 * MINUTE - MS, "119s"), (2 * MINUTE, "2m"), (2 * MINUTE + SECOND, "2m1s"), (10 * MINUTE - MS, "9m59s"),
    (10 * MINUTE, "10m"), (10 * MINUTE + SECOND, "10m"), (3 * HOUR - MS, "179m"), (3 * HOUR, "3h"),
    (3 * HOUR + MINUTE, "3h1m"), (8 * HOUR - MS, "7h59m"), (8 * HOUR, "8h"), (8 * HOUR + 59 * MINUTE, "8h"),
    (2 * DAY - MS, "47h"), (2 * DAY, "2d"), (2 * DAY + HOUR, "2d1h"), (8 * DAY - MS, "7d23h"), (8 * DAY, "8d"),
    (8 * DAY + 23 * HOUR, "8d"), (2 * 365 * DAY - MS, "729d"), (2 * 365 * DAY, "2y"),
    (2 * 365 * DAY + 23 * HOUR, "2y"), (2 * 365 * DAY + 24 * HOUR - MS, "2y"), (2 * 365 * DAY + 24 * HOUR, "2y1d"),
    (3 * 365 * DAY, "3y"), (7 * 365 * DAY, "7y"), (8 * 365 * DAY - MS, "7y364d"), (8 * 365 * DAY, "8y"),
    (8 * 365 * DAY + 364 * DAY, "8y"), (9 * 365 * DAY, "9y"),
])
def test_human_duration(seconds: float, want: str) -> None:
    assert printers.human_duration(seconds) == want


# ---- pod status -----------------------------------------------------------------------------------------------


def test_pod_status_cases() -> None:
    assert printers.pod_status(running_pod()) == "Running"
    assert printers.pod_status(init_pod()) == "Init:0/1"
    assert printers.pod_status(crash_pod()) == "CrashLoopBackOff"
    assert printers.pod_status(completed_pod()) == "Completed"
    assert printers.pod_status(terminating_pod()) == "Terminating"
    assert printers.pod_ready(running_pod()) == "1/1"
    assert printers.pod_restarts(crash_pod(), now=NOW) == "5 (2m30s ago)"
    assert printers.pod_restarts(running_pod(), now=NOW) == "0"


@pytest.mark.parametrize(("status", "spec", "meta", "want"), [
    ({"phase": "Pending"}, {}, {}, "Pending"),
    ({"phase": "Pending", "containerStatuses": [
        {"name": "app", "state": {"waiting": {"reason": "ContainerCreating"}}}]}, {}, {}, "ContainerCreating"),
    ({"phase": "Pending", "initContainerStatuses": [
        {"name": "setup", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]},
     {"initContainers": [{"name": "setup", "image": "busybox"}]}, {}, "Init:Error"),
    ({"phase": "Pending", "initContainerStatuses": [
        {"name": "setup", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]},
     {"initContainers": [{"name": "setup", "image": "busybox"}]}, {}, "Init:CrashLoopBackOff"),
    ({"phase": "Pending", "initContainerStatuses": [
        {"name": "setup", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
      "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "PodInitializing"}}}]},
     {"initContainers": [{"name": "setup", "image": "busybox"}]}, {}, "PodInitializing"),
    ({"phase": "Failed", "containerStatuses": [
        {"name": "app", "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]}, {}, {}, "Error"),
    ({"phase": "Failed", "containerStatuses": [
        {"name": "app", "state": {"terminated": {"exitCode": 137}}}]}, {}, {}, "ExitCode:137"),
    ({"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}, {}, {}, "SchedulingGated"),
    ({"phase": "Running", "reason": "NodeLost"}, {}, {}, "NodeLost"),
    ({"phase": "Running", "reason": "NodeLost"}, {}, {"deletionTimestamp": ts(0)}, "Unknown"),
    ({"phase": "Succeeded"}, {}, {"deletionTimestamp": ts(0)}, "Succeeded"),
    ({"phase": "Running", "containerStatuses": [
        {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "b", "ready": True, "state": {"running": {}}}]},
     {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "x"}]}, {}, "NotReady"),
])
def test_pod_status_reasons(status: dict[str, Any], spec: dict[str, Any], meta: dict[str, Any], want: str) -> None:
    assert printers.pod_status(make_pod("p", status, spec=spec, meta=meta)) == want


def test_sidecar_counts_in_ready() -> None:
    pod = make_pod(
        "sc",
        {"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
         "initContainerStatuses": [{"name": "proxy", "ready": True, "started": True, "restartCount": 1,
                                    "state": {"running": {}}}],
         "containerStatuses": [{"name": "app", "ready": True, "state": {"running": {}}}]},
        spec={"initContainers": [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]},
    )
    assert (printers.pod_ready(pod), printers.pod_status(pod), printers.pod_restarts(pod, now=NOW)) == (
        "2/2", "Running", "1")


# ---- tables ------------------------------------------------------------------------------------------------------


def test_pods_table() -> None:
    pods = [running_pod(), init_pod(), crash_pod(), completed_pod(), terminating_pod()]
    assert printers.print_table(pods, now=NOW) == (
        "NAME        READY   STATUS             RESTARTS        AGE\n"
        "web         1/1     Running            0               5m\n"
        "init-wait   0/1     Init:0/1           0               20s\n"
        "crashy      0/1     CrashLoopBackOff   5 (2m30s ago)   3h\n"
        "job-x       0/1     Completed          0               2d1h\n"
        "old         1/1     Terminating        0               45s\n"
    )


def test_pods_wide() -> None:
    assert printers.print_table([running_pod(), init_pod()], now=NOW, wide=True) == (
        "NAME        READY   STATUS     RESTARTS   AGE   IP           NODE     NOMINATED NODE   READINESS GATES\n"
        "web         1/1     Running    0          5m    10.244.1.5   node-1   <none>           <none>\n"
        "init-wait   0/1     Init:0/1   0          20s   <none>       <none>   <none>           <none>\n"
    )


def test_pods_show_labels_label_column_and_all_namespaces() -> None:
    out = printers.print_table([running_pod(), init_pod()], now=NOW, show_labels=True, label_columns=["app"],
                               with_namespace=True)
    assert out == (
        "NAMESPACE   NAME        READY   STATUS     RESTARTS   AGE   APP   LABELS\n"
        "default     web         1/1     Running    0          5m    web   app=web,tier=fe\n"
        "default     init-wait   0/1     Init:0/1   0          20s         <none>\n"
    )


def test_label_column_header_is_last_path_segment() -> None:
    pod = make_pod("p", {"phase": "Pending"}, labels={"app.kubernetes.io/name": "shop"})
    assert printers.print_table([pod], now=NOW, label_columns=["app.kubernetes.io/name"], no_headers=True) == (
        "p     0/1   Pending   0     5m    shop\n"
    )
    assert printers.print_table([pod], now=NOW, label_columns=["app.kubernetes.io/name"]).startswith(
        "NAME   READY   STATUS    RESTARTS   AGE   NAME\n")


def test_nodes_table() -> None:
    nodes = [make_node("control-plane", "True", labels={"node-role.kubernetes.io/control-plane": ""}),
             make_node("worker-1", "False", unschedulable=True), make_node("worker-2", None)]
    assert printers.print_table(nodes, now=NOW) == (
        "NAME            STATUS                        ROLES           AGE   VERSION\n"
        "control-plane   Ready                         control-plane   3d    v1.32.0\n"
        "worker-1        NotReady,SchedulingDisabled   <none>          3d    v1.32.0\n"
        "worker-2        Unknown                       <none>          3d    v1.32.0\n"
    )
    # -A adds no NAMESPACE column to cluster-scoped kinds.
    assert printers.print_table(nodes[:1], now=NOW, wide=True, with_namespace=True) == (
        "NAME            STATUS   ROLES           AGE   VERSION   INTERNAL-IP   EXTERNAL-IP   OS-IMAGE   "
        "KERNEL-VERSION   CONTAINER-RUNTIME\n"
        "control-plane   Ready    control-plane   3d    v1.32.0   172.18.0.2    <none>        kubemu     "
        "6.1.0            kubemu://1.0\n"
    )


def test_mixed_kinds_print_kind_names_in_separate_tables() -> None:
    assert printers.print_table([running_pod(), deployment()], now=NOW) == (
        "NAME      READY   STATUS    RESTARTS   AGE\n"
        "pod/web   1/1     Running   0          5m\n"
        "\n"
        "NAME                  READY   UP-TO-DATE   AVAILABLE   AGE\n"
        "deployment.apps/web   2/3     3            2           10m\n"
    )


def test_deployment_wide() -> None:
    assert printers.print_table([deployment()], now=NOW, wide=True) == (
        "NAME   READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES       SELECTOR\n"
        "web    2/3     3            2           10m   nginx        nginx:1.27   app=web\n"
    )


def test_other_kinds() -> None:
    rs = from_dict({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": "web-5d8f", "namespace": "default", "creationTimestamp": ts(600)},
                    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}},
                    "status": {"replicas": 3, "readyReplicas": 2}})
    job = from_dict({"apiVersion": "batch/v1", "kind": "Job",
                     "metadata": {"name": "pi", "namespace": "default", "creationTimestamp": ts(100)},
                     "spec": {"completions": 1},
                     "status": {"startTime": ts(100), "completionTime": ts(40), "succeeded": 1,
                                "conditions": [{"type": "Complete", "status": "True"}]}})
    ds = from_dict({"apiVersion": "apps/v1", "kind": "DaemonSet",
                    "metadata": {"name": "agent", "namespace": "kube-system", "creationTimestamp": ts(7200)},
                    "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1,
                               "updatedNumberScheduled": 2, "numberAvailable": 1}})
    ns = from_dict({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": "default", "creationTimestamp": ts(86400)}, "status": {"phase": "Active"}})
    lease = from_dict({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                       "metadata": {"name": "node-1", "namespace": "kube-node-lease", "creationTimestamp": ts(3600)},
                       "spec": {"holderIdentity": "node-1"}})
    assert printers.print_table([rs], now=NOW) == (
        "NAME       DESIRED   CURRENT   READY   AGE\n"
        "web-5d8f   3         3         2       10m\n"
    )
    assert printers.print_table([job], now=NOW) == (
        "NAME   STATUS     COMPLETIONS   DURATION   AGE\n"
        "pi     Complete   1/1           60s        100s\n"
    )
    assert printers.print_table([ds], now=NOW) == (
        "NAME    DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE\n"
        "agent   2         2         1       2            1           <none>          120m\n"
    )
    assert printers.print_table([ns], now=NOW) == "NAME      STATUS   AGE\ndefault   Active   24h\n"
    assert printers.print_table([lease], now=NOW) == "NAME     HOLDER   AGE\nnode-1   node-1   60m\n"


def test_events_table() -> None:
    evs = [event("web.1", "Scheduled", "Successfully assigned default/web to node-1", first=290, last=290, count=1,
                 component="default-scheduler"),
           event("web.2", "Pulled", "Container image \"nginx\" already present on machine", first=280, last=20,
                 count=3)]
    assert printers.print_table(evs, now=NOW) == (
        "LAST SEEN   TYPE     REASON      OBJECT    MESSAGE\n"
        "4m50s       Normal   Scheduled   pod/web   Successfully assigned default/web to node-1\n"
        "20s         Normal   Pulled      pod/web   Container image \"nginx\" already present on machine\n"
    )


def test_no_headers_and_empty() -> None:
    assert printers.print_table([], now=NOW) == ""
    assert printers.print_table([running_pod()], now=NOW, no_headers=True) == "web   1/1   Running   0     5m\n"


def test_watch_rows_keep_the_first_widths() -> None:
    widths: list[int] = []
    first = printers.print_watch_row(init_pod(), now=NOW, first=True, widths=widths)
    second = printers.print_watch_row(running_pod(), now=NOW, first=False, widths=widths)
    third = printers.print_watch_row(crash_pod(), now=NOW, first=False, widths=widths)
    assert first == (
        "NAME        READY   STATUS     RESTARTS   AGE\n"
        "init-wait   0/1     Init:0/1   0          20s\n"
    )
    assert second == "web         1/1     Running    0          5m\n"
    assert third == "crashy      0/1     CrashLoopBackOff   5 (2m30s ago)   3h\n"
    # Without a widths list every row stands alone but still has its columns in order.
    assert printers.print_watch_row(running_pod(), now=NOW, first=False) == "web   1/1   Running   0     5m\n"


# ---- describe ----------------------------------------------------------------------------------------------------


def test_describe_pod() -> None:
    pod = make_pod(
        "web",
        {
            "phase": "Running", "hostIP": "172.18.0.2", "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}],
            "startTime": ts(295), "qosClass": "Burstable",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
            "initContainerStatuses": [{"name": "setup", "containerID": "kubemu://abc", "ready": False,
                                       "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                                                "startedAt": ts(294), "finishedAt": ts(292)}}}],
            "containerStatuses": [{"name": "app", "ready": True, "restartCount": 1, "image": "nginx",
                                   "state": {"running": {"startedAt": ts(290)}},
                                   "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                                                "startedAt": ts(293), "finishedAt": ts(291)}}}],
        },
        spec={
            "nodeName": "node-1", "serviceAccountName": "default", "priority": 0,
            "initContainers": [{"name": "setup", "image": "busybox", "command": ["sh", "-c", "true"]}],
            "containers": [{
                "name": "app", "image": "nginx", "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "100m", "memory": "64Mi"}},
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                                  "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                                  "failureThreshold": 3},
                "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "initialDelaySeconds": 5,
                                   "timeoutSeconds": 1, "periodSeconds": 5, "successThreshold": 1,
                                   "failureThreshold": 3},
                "env": [{"name": "MODE", "value": "prod"},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                        "fieldPath": "metadata.name"}}}],
                "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
            }],
            "volumes": [{"name": "cache", "emptyDir": {}}],
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                 "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                 "tolerationSeconds": 300},
            ],
        },
        labels={"app": "web"},
        meta={"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f",
                                   "uid": "u1", "controller": True}]},
    )
    evs = [event("web.2", "Pulled", "Container image \"nginx\" already present on machine", first=280, last=20,
                 count=3),
           event("web.1", "Scheduled", "Successfully assigned default/web to node-1", first=290, last=290, count=1,
                 component="default-scheduler")]
    out = printers.describe(pod, evs, now=NOW)
    lines = out.splitlines()
    assert lines[:9] == [
        "Name:             web",
        "Namespace:        default",
        "Priority:         0",
        "Service Account:  default",
        "Node:             node-1/172.18.0.2",
        "Start Time:       Tue, 14 Nov 2023 22:08:25 +0000",
        "Labels:           app=web",
        "Annotations:      <none>",
        "Status:           Running",
    ]
    for line in [
        "IP:               10.244.1.5",
        "IPs:",
        # No cell-less line between them, so they share one column block, as in kubectl's output.
        "  IP:           10.244.1.5",
        "Controlled By:  ReplicaSet/web-5d8f",
        "Init Containers:",
        "    Container ID:  kubemu://abc",
        "    State:          Terminated",
        "      Reason:       Completed",
        "      Exit Code:    0",
        "      Started:      Tue, 14 Nov 2023 22:08:26 +0000",
        "      Finished:     Tue, 14 Nov 2023 22:08:28 +0000",
        "Containers:",
        "    Port:           8080/TCP",
        "    Host Port:      0/TCP",
        "    State:          Running",
        "    Last State:     Terminated",
        "      Reason:       Error",
        "      Exit Code:    1",
        "    Ready:          True",
        "    Restart Count:  1",
        "    Limits:",
        "      memory:  128Mi",
        "    Requests:",
        "      cpu:      100m",
        "      memory:   64Mi",
        "    Liveness:   http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3",
        "    Readiness:  exec [cat /tmp/ready] delay=5s timeout=1s period=5s #success=1 #failure=3",
        "    Environment:",
        "      MODE:      prod",
        "      POD_NAME:  web (v1:metadata.name)",
        "    Mounts:",
        "      /cache from cache (rw)",
        "Conditions:",
        "  Type          Status",
        "  Initialized   True ",
        "  Ready         True ",
        "Volumes:",
        "  cache:",
        "    Type:        EmptyDir (a temporary directory that shares a pod's lifetime)",
        "    SizeLimit:   <unset>",
        "QoS Class:       Burstable",
        "Node-Selectors:  <none>",
        "Tolerations:     node.kubernetes.io/not-ready:NoExecute op=Exists for 300s",
        "                 node.kubernetes.io/unreachable:NoExecute op=Exists for 300s",
    ]:
        assert line in lines, line
    assert out.endswith(
        "Events:\n"
        "  Type    Reason     Age                  From               Message\n"
        "  ----    ------     ----                 ----               -------\n"
        "  Normal  Scheduled  4m50s                default-scheduler  Successfully assigned default/web to node-1\n"
        "  Normal  Pulled     20s (x3 over 4m40s)  kubelet            Container image \"nginx\" already present on"
        " machine\n"
    )


def test_describe_pod_without_events_says_none() -> None:
    out = printers.describe(running_pod(), [], now=NOW)
    assert out.endswith("Tolerations:     <none>\nEvents:          <none>\n")
    assert "Terminating (lasts" in printers.describe(terminating_pod(), [], now=NOW)


def test_describe_node() -> None:
    node = make_node("worker-1", "False", unschedulable=True)
    lease = from_dict({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                       "metadata": {"name": "worker-1", "namespace": "kube-node-lease"},
                       "spec": {"holderIdentity": "worker-1", "renewTime": "2023-11-14T22:13:10.000000Z"}})
    out = printers.describe(node, [], now=NOW, lease=lease, pods=[running_pod()])
    assert out.startswith(
        "Name:               worker-1\n"
        "Roles:              <none>\n"
        "Labels:             <none>\n"
        "Annotations:        <none>\n"
        "CreationTimestamp:  Sat, 11 Nov 2023 22:13:20 +0000\n"
        "Taints:             node.kubernetes.io/unschedulable:NoSchedule\n"
        "Unschedulable:      true\n"
        "Lease:\n"
        "  HolderIdentity:  worker-1\n"
        "  AcquireTime:     <unset>\n"
        "  RenewTime:       Tue, 14 Nov 2023 22:13:10 +0000\n"
        "Conditions:\n"
        "  Type    Status  LastHeartbeatTime                 LastTransitionTime                Reason         Message\n"
        "  ----    ------  -----------------                 ------------------                ------         -------\n"
        "  Ready   False   Tue, 14 Nov 2023 22:13:15 +0000   Sat, 11 Nov 2023 22:13:30 +0000   KubeletReady   "
        "kubelet is posting ready status\n"
        "Addresses:\n"
        "  InternalIP:  172.18.0.2\n"
        "  Hostname:    worker-1\n"
        "Capacity:\n"
        "  cpu:     4\n"
        "  memory:  8Gi\n"
        "  pods:    110\n"
    )
    lines = out.splitlines()
    for line in [
        "System Info:",
        "  Kubelet Version:            v1.32.0",
        "PodCIDR:                      10.244.1.0/24",
        "PodCIDRs:                     10.244.1.0/24",
        "Non-terminated Pods:          (1 in total)",
        "  default                     web     0 (0%)        0 (0%)      0 (0%)           0 (0%)         5m",
        "  cpu                0 (0%)    0 (0%)",
        "Events:              <none>",
    ]:
        assert line in lines, line


def test_describe_generic_kind() -> None:
    lease = from_dict({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                       "metadata": {"name": "node-1", "namespace": "kube-node-lease", "creationTimestamp": ts(3600)},
                       "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}})
    assert printers.describe(lease, [], now=NOW) == (
        "Name:         node-1\n"
        "Namespace:    kube-node-lease\n"
        "Labels:       <none>\n"
        "Annotations:  <none>\n"
        "API Version:  coordination.k8s.io/v1\n"
        "Kind:         Lease\n"
        "Metadata:\n"
        "  Creation Timestamp:  2023-11-14T21:13:20Z\n"
        "Spec:\n"
        "  Holder Identity:         node-1\n"
        "  Lease Duration Seconds:  40\n"
        "Events:                    <none>\n"
    )


def test_describe_pod_env_from_key_refs_and_api_volumes() -> None:
    """kubectl 1.35's describe of the same pod on kube-apiserver 1.35 (../shared/k8s-peer), section by section."""
    pod = from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pd", "namespace": "ns"}, "spec": {
        "containers": [{
            "name": "app", "image": "busybox",
            "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CM_"},
                        {"secretRef": {"name": "creds", "optional": True}}],
            "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
                    {"name": "B", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "pw", "optional": False}}}],
            "volumeMounts": [{"name": "c", "mountPath": "/c"}],
        }],
        "volumes": [
            {"name": "c", "configMap": {"name": "cfg", "optional": True}},
            {"name": "s", "secret": {"secretName": "creds"}},
            {"name": "d", "downwardAPI": {"items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                {"path": "mem", "resourceFieldRef": {"containerName": "app", "resource": "limits.memory"}}]}},
            {"name": "p", "projected": {"sources": [
                {"secret": {"name": "creds", "optional": True}}, {"configMap": {"name": "cfg"}},
                {"downwardAPI": {"items": [{"path": "podname", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}]}},
        ]}})
    text = printers.describe(pod, None, now=0)
    assert (
        "    Environment Variables from:\n"
        "      cfg    ConfigMap with prefix 'CM_'  Optional: false\n"
        "      creds  Secret                       Optional: true\n"
        "    Environment:\n"
        "      A:  <set to the key 'mode' of config map 'cfg'>  Optional: false\n"
        "      B:  <set to the key 'pw' in secret 'creds'>      Optional: false\n"
    ) in text
    assert (
        "Volumes:\n"
        "  c:\n"
        "    Type:      ConfigMap (a volume populated by a ConfigMap)\n"
        "    Name:      cfg\n"
        "    Optional:  true\n"
        "  s:\n"
        "    Type:        Secret (a volume populated by a Secret)\n"
        "    SecretName:  creds\n"
        "    Optional:    false\n"
        "  d:\n"
        "    Type:  DownwardAPI (a volume populated by information about the pod)\n"
        "    Items:\n"
        "      metadata.labels -> labels\n"
        "      limits.memory -> mem\n"
        "  p:\n"
        "    Type:                    Projected (a volume that contains injected data from multiple sources)\n"
        "    SecretName:              creds\n"
        "    Optional:                true\n"
        "    ConfigMapName:           cfg\n"
        "    Optional:                false\n"
        "    DownwardAPI:             true\n"
        "    TokenExpirationSeconds:  3607\n"
    ) in text
