"""Quota accounting (kubemu.api.quota), LimitRange and ResourceQuota validation and the LimitRanger rules as pure
functions, with the messages and printouts a Kubernetes 1.35 apiserver and kubectl give for the same input."""

from __future__ import annotations

from typing import Any

from apiserver.admission import limitranger
from apiserver.apis.core.limitrange import STRATEGY as LIMIT_RANGES
from apiserver.apis.core.resourcequota import STRATEGY as QUOTAS
from kubemu.api import quota as q
from kubemu.api.serialization import from_dict, set_time
from kubemu.cli import printers
from kubemu.config import ClusterConfig


def pod(spec: dict[str, Any], **status: Any) -> Any:
    return from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"},
                      "spec": spec, "status": status})


def c(name: str, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None,
      **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "nginx", "resources": {"requests": requests or {}, "limits": limits or {}},
            **extra}


def strings(rl: q.ResourceList) -> dict[str, str]:
    return q.to_strings(rl)


def test_pod_usage_adds_containers_and_takes_the_larger_init() -> None:
    p = pod({"containers": [c("a", {"cpu": "100m", "memory": "64Mi"}, {"cpu": "200m"}),
                            c("b", {"cpu": "300m"})],
             "initContainers": [c("init", {"cpu": "1", "memory": "32Mi"}),
                                c("side", {"cpu": "50m"}, restartPolicy="Always")],
             "overhead": {"cpu": "10m"}})
    # Containers 400m plus the sidecar 50m; the plain init container (1) ran before the sidecar started.
    assert strings(q.pod_usage(p, 0.0)) == {
        "count/pods": "1", "pods": "1", "cpu": "1010m", "requests.cpu": "1010m", "memory": "64Mi",
        "requests.memory": "64Mi", "limits.cpu": "210m"}


def test_finished_and_long_deleted_pods_use_no_compute() -> None:
    spec = {"containers": [c("a", {"cpu": "1"})]}
    assert strings(q.pod_usage(pod(spec, phase="Succeeded"), 0.0)) == {"count/pods": "1"}
    deleting = pod(spec, phase="Running")
    set_time(deleting.metadata.deletion_timestamp, 100.0)
    deleting.metadata.deletion_grace_period_seconds = 30
    assert "pods" in q.pod_usage(deleting, 129.0)
    assert strings(q.pod_usage(deleting, 131.0)) == {"count/pods": "1"}


def test_pod_scopes() -> None:
    best_effort = pod({"containers": [c("a")], "priorityClassName": "high"})
    burstable = pod({"containers": [c("a", {"cpu": "1"})], "activeDeadlineSeconds": 10})
    matches = q.Evaluator.matches
    ev = q.evaluator_for("pods", "")

    def rq(**spec: Any) -> Any:
        obj = from_dict({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
                         "spec": {"hard": {"pods": "1"}, **spec}, "status": {"hard": {"pods": "1"}}})
        return obj

    assert matches(ev, rq(scopes=["BestEffort"]), best_effort)
    assert not matches(ev, rq(scopes=["BestEffort"]), burstable)
    assert matches(ev, rq(scopes=["NotBestEffort", "Terminating"]), burstable)
    assert not matches(ev, rq(scopes=["NotTerminating"]), burstable)
    high = rq(scopeSelector={"matchExpressions": [{"scopeName": "PriorityClass", "operator": "In",
                                                   "values": ["high"]}]})
    assert matches(ev, high, best_effort) and not matches(ev, high, burstable)
    # Services know no scope: a scoped quota never covers them.
    svc = from_dict({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {}})
    scoped = rq(scopes=["BestEffort"])
    scoped.status.hard["services"] = "1"
    assert not matches(q.evaluator_for("services", ""), scoped, svc)


def test_constraints_name_every_container_missing_a_resource() -> None:
    p = pod({"containers": [c("app"), c("b", limits={"memory": "1Gi"})], "initContainers": [c("init")]})
    assert q.pod_constraints(["pods", "requests.cpu", "limits.memory"], p) == (
        "must specify limits.memory for: app,init; requests.cpu for: app,b,init")
    assert q.pod_constraints(["pods", "count/pods"], p) is None


def test_object_counts_and_usage_arithmetic() -> None:
    cm = q.evaluator_for("configmaps", "")
    assert strings(cm.usage(None, 0.0)) == {"count/configmaps": "1", "configmaps": "1"}
    assert cm.matching(["configmaps", "pods", "count/configmaps"]) == ["configmaps", "count/configmaps"]
    deploy = q.evaluator_for("deployments", "apps")
    assert strings(deploy.usage(None, 0.0)) == {"count/deployments.apps": "1"}
    used = q.parse_list({"pods": "2", "requests.cpu": "800m"})
    assert q.pretty(q.add(used, q.parse_list({"requests.cpu": "400m", "pods": "1"}))) == "pods=3,requests.cpu=1200m"
    assert q.exceeded(q.parse_list({"pods": "3", "cpu": "1"}), q.parse_list({"pods": "2"})) == ["pods"]


def test_limit_range_defaults_and_validation_are_upstreams() -> None:
    lr = from_dict({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "bad2", "namespace": "ns"},
                    "spec": {"limits": [{
                        "type": "Container", "min": {"cpu": "100m"}, "max": {"cpu": "1"},
                        "default": {"cpu": "2", "example.com/gpu": "1"},
                        "defaultRequest": {"cpu": "50m", "example.com/gpu": "2"},
                        "maxLimitRequestRatio": {"cpu": "20"}}]}})
    LIMIT_RANGES.default(lr, ClusterConfig())
    assert sorted(str(e) for e in LIMIT_RANGES.validate(lr)) == sorted([
        'spec.limits[0].defaultRequest[cpu]: Invalid value: "50m": min value 100m is greater than default request '
        "value 50m",
        'spec.limits[0].default[cpu]: Invalid value: "1": default value 2 is greater than max value 1',
        'spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: "20": ratio 20 is greater than max/min = '
        "10.000000",
        'spec.limits[0].defaultRequest[example.com/gpu]: Invalid value: "2": default request value 2 is greater '
        "than default limit value 1",
        'spec.limits[0].defaultRequest[example.com/gpu]: Invalid value: "2": default value 1 must equal to '
        "defaultRequest value 2 in example.com/gpu",
    ])


def test_scope_selector_validation_is_upstreams() -> None:
    rq = from_dict({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "bad2", "namespace": "ns"},
                    "spec": {"hard": {"pods": "1", "requests.cpu": "1"}, "scopeSelector": {"matchExpressions": [
                        {"scopeName": "BestEffort", "operator": "In", "values": ["a"]},
                        {"scopeName": "PriorityClass", "operator": "In"},
                        {"scopeName": "PriorityClass", "operator": "Exists", "values": ["x"]},
                        {"scopeName": "PriorityClass", "operator": "Foo"},
                        {"scopeName": "NotBestEffort", "operator": "Exists"}]}}})
    path = "spec.scopeSelector.matchExpressions"
    assert [str(e) for e in QUOTAS.validate(rq)] == [
        f'{path}: Invalid value: {{"MatchExpressions":[{{"ScopeName":"BestEffort","Operator":"In","Values":["a"]}},'
        '{"ScopeName":"PriorityClass","Operator":"In","Values":null},{"ScopeName":"PriorityClass","Operator":'
        '"Exists","Values":["x"]},{"ScopeName":"PriorityClass","Operator":"Foo","Values":null},{"ScopeName":'
        '"NotBestEffort","Operator":"Exists","Values":null}]}: unsupported scope applied to resource',
        f'{path}.operator: Invalid value: "In": must be \'Exists\' when scope is any of '
        "ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, "
        "ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
        f"{path}.values: Required value: must be at least one value when `operator` is 'In' or 'NotIn' for scope "
        "selector",
        f'{path}.values: Invalid value: ["x"]: must be no value when `operator` is \'Exist\' or \'DoesNotExist\' '
        "for scope selector",
        f'{path}.operator: Invalid value: "Foo": not a valid selector operator',
        f"{path}: Invalid value: null: conflicting scopes",
    ]


def test_limit_ranger_ratio_and_pod_sums() -> None:
    lr = from_dict({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"}, "spec": {"limits": [
        {"type": "Container", "maxLimitRequestRatio": {"memory": "2"}},
        {"type": "Pod", "min": {"memory": "1Gi"}}]}})
    p = pod({"containers": [c("a", {"memory": "100Mi"}, {"memory": "300Mi"}), c("b")]})
    assert limitranger.validate_pod(lr, p) == [
        "memory max limit to request ratio per Container is 2, but provided ratio is 3.000000",
        "memory max limit to request ratio per Container is 2, but no request is specified or request is 0",
        "minimum memory usage per Pod is 1Gi, but request is 100Mi",
    ]


def test_describe_and_row_of_a_quota_are_kubectls() -> None:
    rq = from_dict({"apiVersion": "v1", "kind": "ResourceQuota",
                    "metadata": {"name": "good", "namespace": "quota-probe"},
                    "spec": {"hard": {"pods": "1", "requests.cpu": "1"}, "scopes": ["NotTerminating"]},
                    "status": {"hard": {"pods": "1", "requests.cpu": "1", "limits.memory": "1Gi"},
                               "used": {"pods": "1", "requests.cpu": "500m", "limits.memory": "500M"}}})
    assert printers.describe(rq, [], now=0.0) == (
        "Name:       good\n"
        "Namespace:  quota-probe\n"
        "Scopes:     NotTerminating\n"
        " * Matches all pods that do not have an active deadline. These pods usually include long running pods "
        "whose container command is not expected to terminate.\n"
        "Resource       Used       Hard\n"
        "--------       ----       ----\n"
        "limits.memory  500000000  1Gi\n"  # a used amount in another notation is shown in the hard one's
        "pods           1          1\n"
        "requests.cpu   500m       1\n")
    _, rows = printers.table("ResourceQuota", [rq], now=0.0)
    assert rows[0][:3] == ["good", "pods: 1/1, requests.cpu: 500m/1", "limits.memory: 500M/1Gi"]


def test_describe_namespace_lists_its_quotas_and_limit_ranges() -> None:
    ns = from_dict({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": "quota-probe", "labels": {"kubernetes.io/metadata.name": "quota-probe"}},
                    "status": {"phase": "Active"}})
    rq = from_dict({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "good"},
                    "spec": {"hard": {"pods": "1", "requests.cpu": "1"}, "scopes": ["NotTerminating"]},
                    "status": {"hard": {"pods": "1", "requests.cpu": "1"}, "used": {"pods": "1",
                                                                                   "requests.cpu": "500m"}}})
    lr = from_dict({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"}, "spec": {"limits": [
        {"type": "Container", "min": {"cpu": "100m"}, "max": {"cpu": "1"}, "default": {"cpu": "500m"},
         "defaultRequest": {"cpu": "200m"}, "maxLimitRequestRatio": {"cpu": "10"}},
        {"type": "Pod", "max": {"cpu": "2"}},
        {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}}]}})
    assert printers.describe(ns, None, now=0.0, quotas=[rq], limit_ranges=[lr]) == (
        "Name:         quota-probe\n"
        "Labels:       kubernetes.io/metadata.name=quota-probe\n"
        "Annotations:  <none>\n"
        "Status:       Active\n"
        "\n"
        "Resource Quotas\n"
        "  Name:    good\n"
        "  Scopes:  NotTerminating\n"
        "  * Matches all pods that do not have an active deadline. These pods usually include long running pods "
        "whose container command is not expected to terminate.\n"
        "  Resource      Used  Hard\n"
        "  --------      ---   ---\n"
        "  pods          1     1\n"
        "  requests.cpu  500m  1\n"
        "\n"
        "Resource Limits\n"
        " Type                   Resource  Min   Max   Default Request  Default Limit  Max Limit/Request Ratio\n"
        " ----                   --------  ---   ---   ---------------  -------------  -----------------------\n"
        " Container              cpu       100m  1     200m             500m           10\n"
        " Pod                    cpu       -     2     -                -              -\n"
        " PersistentVolumeClaim  storage   1Gi   10Gi  -                -              -\n")
    assert printers.describe(ns, None, now=0.0).endswith("Status:       Active\n\nNo resource quota.\n\n"
                                                         "No LimitRange resource.\n")
