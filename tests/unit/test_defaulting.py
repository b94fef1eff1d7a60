"""Defaulting, after upstream pkg/apis/core/v1/defaults_test.go, pkg/apis/apps/v1/defaults_test.go,
pkg/apis/batch/v1/defaults_test.go and plugin/pkg/admission/defaulttolerationseconds/admission_test.go.
"""

from __future__ import annotations

from typing import Any

import pytest

from apiserver.apis.batch.defaulting import default_job_selector
from apiserver.apis.core.defaulting import image_tag
from apiserver.apis.install import default
from kubemu.api.serialization import from_dict, to_dict

pytestmark = pytest.mark.unit


def _pod(spec: dict[str, Any] | None = None) -> Any:
    body = spec or {"containers": [{"name": "c", "image": "nginx:1.27"}]}
    return from_dict(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": body}
    )


def _template(labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"labels": labels or {"app": "a"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec},
    }


def test_pod_spec_defaults() -> None:
    # defaults_test.go TestSetDefaultPodSpec / TestSetDefaultsPodSpec...: restartPolicy, dnsPolicy, grace, scheduler.
    pod = _pod()
    default(pod)
    spec = pod.spec
    assert spec.restart_policy == "Always"
    assert spec.dns_policy == "ClusterFirst"
    assert spec.termination_grace_period_seconds == 30
    assert spec.scheduler_name == "default-scheduler"
    assert spec.HasField("security_context")
    assert spec.enable_service_links is True
    # priority and preemptionPolicy are the Priority admission plugin's, not defaults.
    assert not spec.HasField("priority") and not spec.HasField("preemption_policy")


def test_set_values_are_kept() -> None:
    pod = _pod(
        {
            "restartPolicy": "Never",
            "dnsPolicy": "Default",
            "terminationGracePeriodSeconds": 0,
            "schedulerName": "mine",
            "enableServiceLinks": False,
            "containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Never"}],
        }
    )
    default(pod)
    assert (pod.spec.restart_policy, pod.spec.dns_policy, pod.spec.scheduler_name) == ("Never", "Default", "mine")
    assert pod.spec.termination_grace_period_seconds == 0
    assert pod.spec.enable_service_links is False
    assert pod.spec.containers[0].image_pull_policy == "Never"


def test_container_defaults() -> None:
    # defaults_test.go TestSetDefaultContainer*: termination message, protocol, probes.
    pod = _pod(
        {
            "containers": [
                {
                    "name": "c",
                    "image": "nginx:1.27",
                    "ports": [{"containerPort": 80}],
                    "livenessProbe": {"httpGet": {"port": 80}},
                    "readinessProbe": {"exec": {"command": ["true"]}},
                    "startupProbe": {"grpc": {"port": 9000}},
                    "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                }
            ]
        }
    )
    default(pod)
    c = pod.spec.containers[0]
    assert c.termination_message_path == "/dev/termination-log"
    assert c.termination_message_policy == "File"
    assert c.ports[0].protocol == "TCP"
    lp = c.liveness_probe
    assert (lp.timeout_seconds, lp.period_seconds, lp.success_threshold, lp.failure_threshold) == (1, 10, 1, 3)
    assert (lp.http_get.path, lp.http_get.scheme) == ("/", "HTTP")
    assert c.readiness_probe.period_seconds == 10
    assert c.startup_probe.grpc.HasField("service")
    assert c.env[0].value_from.field_ref.api_version == "v1"


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        # defaults_test.go TestSetDefaultImagePullPolicy
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("registry.example.com:5000/team/app", "Always"),
        ("registry.example.com:5000/team/app:v2", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "Always"),
        ("Not/Valid", "IfNotPresent"),
        ("", "IfNotPresent"),
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    pod = _pod({"containers": [{"name": "c", "image": image}]})
    default(pod)
    assert pod.spec.containers[0].image_pull_policy == policy


def test_image_tag() -> None:
    assert image_tag("busybox") == "latest"
    assert image_tag("busybox:1.36") == "1.36"
    assert image_tag("localhost:5000/busybox") == "latest"


def test_requests_default_to_limits_on_pods() -> None:
    # defaults_test.go TestSetDefaultRequestsPod: limits without requests copy over; set requests stay.
    pod = _pod(
        {
            "containers": [
                {
                    "name": "a",
                    "image": "x",
                    "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "100m"}},
                },
            ],
            "initContainers": [{"name": "i", "image": "x", "resources": {"limits": {"memory": "64Mi"}}}],
        }
    )
    default(pod)
    assert dict(pod.spec.containers[0].resources.requests) == {"cpu": "100m", "memory": "1Gi"}
    assert dict(pod.spec.init_containers[0].resources.requests) == {"memory": "64Mi"}


def test_templates_get_no_requests_tolerations_or_priority() -> None:
    # defaults_test.go TestSetDefaultRequestsPodTemplate: templates keep requests empty.
    rs = from_dict(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "r", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "a"}},
                "template": {
                    "metadata": {"labels": {"app": "a"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx", "resources": {"limits": {"cpu": "1"}}}]},
                },
            },
        }
    )
    default(rs)
    spec = rs.spec.template.spec
    assert not spec.containers[0].resources.requests
    assert not spec.tolerations
    assert not spec.HasField("priority")
    assert not spec.HasField("enable_service_links")
    assert spec.restart_policy == "Always"
    assert spec.containers[0].image_pull_policy == "Always"
    assert rs.spec.replicas == 1


def test_qos_class_is_computed() -> None:
    pod = _pod({"containers": [{"name": "a", "image": "x", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]})
    default(pod)
    # Requests were defaulted from limits first, so the pod is Guaranteed.
    assert pod.status.qos_class == "Guaranteed"
    best = _pod()
    default(best)
    assert best.status.qos_class == "BestEffort"


def test_default_toleration_seconds_added() -> None:
    # admission_test.go "pod has no tolerations, expect add tolerations for `not-ready:NoExecute` and `unreachable:NoExecute`"  # noqa: E501
    pod = _pod()
    default(pod, default_toleration_seconds=42)
    tolerations = to_dict(pod)["spec"]["tolerations"]
    assert tolerations == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 42},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 42},
    ]


@pytest.mark.parametrize(
    ("existing", "added"),
    [
        # admission_test.go: an existing not-ready NoExecute toleration is kept and only unreachable is added
        (
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 700,
            },
            ["node.kubernetes.io/unreachable"],
        ),
        # "pod specified a toleration for all taints, expect no change"
        ({"operator": "Exists"}, []),
        # an empty effect tolerates NoExecute too
        ({"key": "node.kubernetes.io/unreachable", "operator": "Exists"}, ["node.kubernetes.io/not-ready"]),
        # a NoSchedule toleration does not count
        (
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"},
            ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"],
        ),
    ],
)
def test_default_toleration_seconds_respects_existing(existing: dict[str, Any], added: list[str]) -> None:
    pod = _pod({"containers": [{"name": "c", "image": "x"}], "tolerations": [existing]})
    default(pod)
    assert [t.key for t in pod.spec.tolerations[1:]] == added


def test_defaulting_is_idempotent() -> None:
    pod = _pod()
    default(pod)
    once = pod.SerializeToString(deterministic=True)
    default(pod)
    assert pod.SerializeToString(deterministic=True) == once


def test_host_network_ports_on_pods() -> None:
    pod = _pod({"hostNetwork": True, "containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 8080}]}]})
    default(pod)
    assert pod.spec.containers[0].ports[0].host_port == 8080


def test_volume_without_source_is_empty_dir() -> None:
    pod = _pod({"containers": [{"name": "c", "image": "x"}], "volumes": [{"name": "v"}]})
    default(pod)
    assert pod.spec.volumes[0].HasField("empty_dir")


def test_replication_controller_defaults() -> None:
    # defaults_test.go TestSetDefaultReplicationController: selector and labels from the template labels.
    rc = from_dict(
        {
            "apiVersion": "v1",
            "kind": "ReplicationController",
            "metadata": {"name": "r", "namespace": "d"},
            "spec": {"template": _template({"app": "web"})},
        }
    )
    default(rc)
    assert dict(rc.spec.selector) == {"app": "web"}
    assert dict(rc.metadata.labels) == {"app": "web"}
    assert rc.spec.replicas == 1
    # Set values win.
    rc2 = from_dict(
        {
            "apiVersion": "v1",
            "kind": "ReplicationController",
            "metadata": {"name": "r", "labels": {"x": "y"}},
            "spec": {"replicas": 0, "selector": {"app": "web"}, "template": _template({"app": "web", "v": "1"})},
        }
    )
    default(rc2)
    assert dict(rc2.spec.selector) == {"app": "web"}
    assert dict(rc2.metadata.labels) == {"x": "y"}
    assert rc2.spec.replicas == 0


def test_deployment_defaults() -> None:
    # apps/v1 defaults_test.go TestSetDefaultDeployment
    d = from_dict(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": _template()},
        }
    )
    default(d)
    out = to_dict(d)["spec"]
    assert out["replicas"] == 1
    assert out["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert out["revisionHistoryLimit"] == 10
    assert out["progressDeadlineSeconds"] == 600
    assert out["template"]["spec"]["restartPolicy"] == "Always"


def test_deployment_recreate_gets_no_rolling_update() -> None:
    d = from_dict(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {"strategy": {"type": "Recreate"}, "template": _template()},
        }
    )
    default(d)
    assert not d.spec.strategy.HasField("rolling_update")


def test_daemon_set_defaults() -> None:
    # apps/v1 defaults_test.go TestSetDefaultDaemonSetSpec
    ds = from_dict(
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d"}, "spec": {"template": _template()}}
    )
    default(ds)
    out = to_dict(ds)["spec"]
    assert out["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert out["revisionHistoryLimit"] == 10


def test_job_defaults() -> None:
    # batch/v1 defaults_test.go TestSetDefaultJob "Both Completions and Parallelism are nil"
    job = from_dict(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "j"},
            "spec": {"template": _template({"app": "j"}, restartPolicy="Never")},
        }
    )
    default(job)
    out = to_dict(job)
    spec = out["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed"
    assert spec["suspend"] is False
    assert "manualSelector" not in spec
    assert out["metadata"]["labels"] == {"app": "j"}
    # "Parallelism set only": completions stay nil.
    job2 = from_dict(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "j"},
            "spec": {"parallelism": 3, "template": _template(restartPolicy="Never")},
        }
    )
    default(job2)
    assert not job2.spec.HasField("completions")
    assert job2.spec.parallelism == 3


def test_job_selector_generation() -> None:
    # registry/batch/job/strategy_test.go TestJobStrategy_PrepareForCreate: generated labels and selector.
    job = from_dict(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "pi"},
            "spec": {"template": _template({"app": "pi"}, restartPolicy="Never")},
        }
    )
    default_job_selector(job, "uid-1")
    assert dict(job.spec.template.metadata.labels) == {
        "app": "pi",
        "job-name": "pi",
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "uid-1",
        "batch.kubernetes.io/controller-uid": "uid-1",
    }
    assert dict(job.spec.selector.match_labels) == {"batch.kubernetes.io/controller-uid": "uid-1"}


def test_manual_selector_is_left_alone() -> None:
    job = from_dict(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "pi"},
            "spec": {
                "manualSelector": True,
                "selector": {"matchLabels": {"app": "pi"}},
                "template": _template({"app": "pi"}, restartPolicy="Never"),
            },
        }
    )
    default_job_selector(job, "uid-1")
    assert dict(job.spec.template.metadata.labels) == {"app": "pi"}
    assert dict(job.spec.selector.match_labels) == {"app": "pi"}


def test_namespace_and_node_defaults() -> None:
    ns = from_dict({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    default(ns)
    assert ns.status.phase == "Active"
    assert dict(ns.metadata.labels) == {"kubernetes.io/metadata.name": "team"}
    node = from_dict(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "n"},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi"}},
        }
    )
    default(node)
    assert dict(node.status.allocatable) == {"cpu": "4", "memory": "8Gi"}
    node2 = from_dict(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "n"},
            "status": {"capacity": {"cpu": "4"}, "allocatable": {"cpu": "3"}},
        }
    )
    default(node2)
    assert dict(node2.status.allocatable) == {"cpu": "3"}


_MEMO_SPECS = [
    {"containers": [{"name": "c", "image": "nginx:1.27"}]},
    {"containers": [{"name": "a", "image": "x", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]},
    {"containers": [{"name": "a", "image": "x", "resources": {"requests": {"cpu": "100m"}}}],
     "initContainers": [{"name": "i", "image": "busybox", "resources": {"limits": {"memory": "64Mi"}}}]},
    {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80}]}], "hostNetwork": True,
     "priorityClassName": "system-node-critical", "tolerations": [{"operator": "Exists"}]},
]


@pytest.mark.parametrize("spec", _MEMO_SPECS)
def test_a_kept_pod_default_equals_defaulting_afresh(spec: dict[str, Any]) -> None:
    # The memo answers a spec it has seen with the defaulted spec it kept: the pod must come out exactly as
    # defaulting it afresh would, QoS class included, whatever else the pod carries.
    from apiserver.apis.core import defaulting

    defaulting._spec_memo.clear()
    fresh = _pod(spec)
    defaulting._default_pod_uncached(fresh.spec, 300)
    expected_qos = defaulting.qos_class(fresh.spec)
    first, second = _pod(spec), _pod(spec)
    second.metadata.name = "other"
    default(first)
    default(second)  # from the memo
    assert len(defaulting._spec_memo) == 1
    for pod in (first, second):
        assert pod.spec.SerializeToString(deterministic=True) == fresh.spec.SerializeToString(deterministic=True)
        assert pod.status.qos_class == expected_qos
    assert second.metadata.name == "other"
    first.spec.containers[0].image = "changed"  # a kept result is not shared with the pods it was given to
    third = _pod(spec)
    default(third)
    assert third.spec.containers[0].image == fresh.spec.containers[0].image


def test_the_pod_default_memo_keys_on_the_toleration_seconds_and_stays_bounded() -> None:
    from apiserver.apis.core import defaulting

    defaulting._spec_memo.clear()
    a, b = _pod(), _pod()
    default(a, default_toleration_seconds=42)
    default(b, default_toleration_seconds=7)
    assert [t.toleration_seconds for t in a.spec.tolerations] == [42, 42]
    assert [t.toleration_seconds for t in b.spec.tolerations] == [7, 7]
    for i in range(defaulting.SPEC_MEMO_SIZE + 10):
        default(_pod({"containers": [{"name": "c", "image": f"img-{i}"}]}))
    assert len(defaulting._spec_memo) == defaulting.SPEC_MEMO_SIZE
