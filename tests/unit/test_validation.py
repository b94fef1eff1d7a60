"""Validation rules and messages, after upstream pkg/apis/core/validation/validation_test.go,
pkg/apis/apps/validation/validation_test.go, pkg/apis/batch/validation/validation_test.go and
apimachinery's field/errors_test.go. Each case names the rule it would catch missing.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from apiserver.apis.batch.defaulting import default_job_selector
from apiserver.apis.install import default, validate, validate_update
from apiserver.validation import FieldError, GoValue
from kubemu.api.serialization import from_dict

pytestmark = pytest.mark.unit

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
}


def _obj(manifest: dict[str, Any], *, defaults: bool = True) -> Any:
    obj = from_dict(copy.deepcopy(manifest))
    if defaults:
        default(obj)
    return obj


def errors(manifest: dict[str, Any]) -> list[str]:
    return [str(e) for e in validate(_obj(manifest))]


def pod(**spec: Any) -> dict[str, Any]:
    m = copy.deepcopy(POD)
    m["spec"].update(spec)
    return m


def pod_meta(**meta: Any) -> dict[str, Any]:
    m = copy.deepcopy(POD)
    m["metadata"].update(meta)
    return m


def container(**fields: Any) -> dict[str, Any]:
    return {"name": "c", "image": "nginx", **fields}


# ---- FieldError formatting (field/errors_test.go TestErrorUsefulMessage) ----------------------------


@pytest.mark.parametrize(
    ("err", "text"),
    [
        (FieldError("FieldValueRequired", "spec.containers[0].image"), "spec.containers[0].image: Required value"),
        (FieldError("FieldValueInvalid", "a", "bad", 70000), "a: Invalid value: 70000: bad"),
        (FieldError("FieldValueInvalid", "a", "bad", 'x"y'), 'a: Invalid value: "x\\"y": bad'),
        (FieldError("FieldValueInvalid", "a", "bad", None), "a: Invalid value: null: bad"),
        (FieldError("FieldValueInvalid", "a", "bad", True), "a: Invalid value: true: bad"),
        (
            FieldError("FieldValueInvalid", "a", "", {"b": "2", "a": "1"}),
            'a: Invalid value: map[string]string{"a":"1", "b":"2"}',
        ),
        (
            FieldError("FieldValueDuplicate", "spec.containers[1].name", "", "a"),
            'spec.containers[1].name: Duplicate value: "a"',
        ),
        (FieldError("FieldValueForbidden", "spec", "nope", "ignored"), "spec: Forbidden: nope"),
        (FieldError("FieldValueNotFound", "x", "", "v"), 'x: Not found: "v"'),
        (FieldError("FieldValueInvalid", "x", "d", GoValue("25%")), "x: Invalid value: 25%: d"),
    ],
)
def test_field_error_format(err: FieldError, text: str) -> None:
    assert str(err) == text


def test_valid_objects_pass() -> None:
    assert errors(POD) == []
    assert (
        errors(
            pod(
                initContainers=[container(name="init")],
                volumes=[{"name": "data", "emptyDir": {}}],
                containers=[
                    container(
                        volumeMounts=[{"name": "data", "mountPath": "/d"}],
                        ports=[{"containerPort": 80, "name": "http"}],
                    )
                ],
            )
        )
        == []
    )


# ---- ObjectMeta --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        (pod_meta(name="Foo_"), f'metadata.name: Invalid value: "Foo_": {SUBDOMAIN_MSG}'),
        (pod_meta(name=""), "metadata.name: Required value: name or generateName is required"),
        (pod_meta(namespace=""), "metadata.namespace: Required value"),
        (pod_meta(labels={"app": "a b"}), 'metadata.labels: Invalid value: "a b": '),
        (pod_meta(labels={"-bad": "x"}), 'metadata.labels: Invalid value: "-bad": name part must consist of'),
        (pod_meta(annotations={"bad key": "x"}), 'metadata.annotations: Invalid value: "bad key": name part must'),
        (
            pod_meta(ownerReferences=[{"apiVersion": "v1", "kind": "Node", "name": "n"}]),
            'metadata.ownerReferences.uid: Invalid value: "": must not be empty',
        ),
        (
            pod_meta(ownerReferences=[{"apiVersion": "", "kind": "Node", "name": "n", "uid": "u"}]),
            'metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty',
        ),
        (
            pod_meta(
                ownerReferences=[
                    {"apiVersion": "v1", "kind": "A", "name": "a", "uid": "1", "controller": True},
                    {"apiVersion": "v1", "kind": "B", "name": "b", "uid": "2", "controller": True},
                ]
            ),
            "metadata.ownerReferences: Invalid value: []v1.OwnerReference{A/a, B/b}: Only one reference can have "
            'Controller set to true. Found "true" in references for A/a and B/b',
        ),
        (
            pod_meta(finalizers=["custom"]),
            'metadata.finalizers[0]: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified',  # noqa: E501
        ),
    ],
)
def test_object_meta(manifest: dict[str, Any], expected: str) -> None:
    assert any(e.startswith(expected) for e in errors(manifest)), errors(manifest)


def test_generate_name_replaces_name() -> None:
    m = pod_meta(name="", generateName="web-")
    assert errors(m) == []
    bad = pod_meta(name="", generateName="Web-")
    assert errors(bad)[0].startswith('metadata.generateName: Invalid value: "Web-"')


def test_namespace_scope() -> None:
    # Namespaces are DNS labels (no dots) and cluster-scoped.
    assert errors({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}}) == [
        'metadata.name: Invalid value: "a.b": must not contain dots'
    ]
    assert errors({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "A"}})[0].startswith(
        'metadata.name: Invalid value: "A": a lowercase RFC 1123 label must'
    )
    assert errors({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n", "namespace": "x"}}) == [
        "metadata.namespace: Forbidden: not allowed on this type"
    ]
    assert errors({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node.example.com"}}) == []


# ---- Pod spec ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        # validation_test.go TestValidatePodSpec / TestValidateContainers error cases
        (pod(containers=[]), "spec.containers: Required value"),
        (pod(containers=[container(image="")]), "spec.containers[0].image: Required value"),
        (pod(containers=[container(name="")]), "spec.containers[0].name: Required value"),
        (
            pod(containers=[container(name="Bad_Name")]),
            'spec.containers[0].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label',
        ),
        (pod(containers=[container(name="a"), container(name="a")]), 'spec.containers[1].name: Duplicate value: "a"'),
        (pod(initContainers=[container(name="c")]), 'spec.initContainers[0].name: Duplicate value: "c"'),
        (
            pod(containers=[container(ports=[{"containerPort": 70000}])]),
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        ),
        (
            pod(containers=[container(ports=[{"containerPort": 0}])]),
            "spec.containers[0].ports[0].containerPort: Required value",
        ),
        (
            pod(containers=[container(ports=[{"containerPort": 80, "hostPort": 70000}])]),
            "spec.containers[0].ports[0].hostPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        ),
        (
            pod(containers=[container(ports=[{"containerPort": 80, "protocol": "HTTP"}])]),
            'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
        ),
        (
            pod(containers=[container(ports=[{"containerPort": 80, "name": "a"}, {"containerPort": 81, "name": "a"}])]),
            'spec.containers[0].ports[1].name: Duplicate value: "a"',
        ),
        (
            pod(
                containers=[
                    container(ports=[{"containerPort": 80, "hostPort": 80}]),
                    container(name="d", ports=[{"containerPort": 81, "hostPort": 80}]),
                ]
            ),
            'spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//80"',
        ),
        (
            pod(restartPolicy="Sometimes"),
            'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
        ),
        (
            pod(dnsPolicy="Bogus"),
            'spec.dnsPolicy: Unsupported value: "Bogus": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"',  # noqa: E501
        ),
        (pod(terminationGracePeriodSeconds=-1), None),  # negative grace is accepted on create upstream
        (
            pod(activeDeadlineSeconds=0),
            "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
        ),
        (
            pod(containers=[container(restartPolicy="Always")]),
            "spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers",
        ),
        (
            pod(initContainers=[container(name="i", restartPolicy="OnFailure")]),
            'spec.initContainers[0].restartPolicy: Unsupported value: "OnFailure": supported values: "Always"',
        ),
        (
            pod(initContainers=[container(name="i", readinessProbe={"exec": {"command": ["true"]}})]),
            "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",  # noqa: E501
        ),
        (
            pod(containers=[container(env=[{"name": "A=B", "value": "x"}])]),
            "spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",  # noqa: E501
        ),
        (
            pod(containers=[container(env=[{"name": "", "value": "x"}])]),
            "spec.containers[0].env[0].name: Required value",
        ),
        (
            pod(
                containers=[
                    container(
                        env=[{"name": "X", "value": "v", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
                    )
                ]
            ),
            'spec.containers[0].env[0].valueFrom: Invalid value: "": may not be specified when `value` is not empty',
        ),
        (
            pod(containers=[container(env=[{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}}])]),
            'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.bogus"',
        ),
        (
            pod(containers=[container(imagePullPolicy="Sometimes")]),
            'spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"',  # noqa: E501
        ),
        (
            pod(containers=[container(terminationMessagePolicy="Bad")]),
            'spec.containers[0].terminationMessagePolicy: Unsupported value: "Bad": supported values: "File", "FallbackToLogsOnError"',  # noqa: E501
        ),
        (
            pod(containers=[container(image=" nginx")]),
            'spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace',
        ),
        (pod(nodeName="Node_1"), 'spec.nodeName: Invalid value: "Node_1"'),
        (pod(hostname="a.b"), 'spec.hostname: Invalid value: "a.b"'),
    ],
)
def test_pod_spec(manifest: dict[str, Any], expected: str | None) -> None:
    errs = errors(manifest)
    if expected is None:
        assert errs == []
    else:
        assert any(e.startswith(expected) for e in errs), errs


def test_image_whitespace_is_a_pods_check_kept_with_its_spec() -> None:
    # ValidatePodCreate checks images for whitespace, a template's validation does not; the answer is kept
    # with the spec's, so the second pod of a spec gets the same errors, in the same place.
    bad = pod(containers=[container(image=" nginx")], initContainers=[container(name="i", image="busybox ")])
    want = ['spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace',
            'spec.initContainers[0].image: Invalid value: "busybox ": must not have leading or trailing whitespace']
    assert errors(bad) == want
    assert errors(bad) == want
    rs = _replica_set()
    rs["spec"]["template"]["spec"]["containers"][0]["image"] = " nginx"
    assert errors(rs) == []


@pytest.mark.parametrize(
    ("probe_kind", "probe", "expected"),
    [
        (
            "livenessProbe",
            {"exec": {"command": ["true"]}, "successThreshold": 2},
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
        ),
        (
            "startupProbe",
            {"exec": {"command": ["true"]}, "successThreshold": 3},
            "spec.containers[0].startupProbe.successThreshold: Invalid value: 3: must be 1",
        ),
        (
            "livenessProbe",
            {"periodSeconds": 5},
            "spec.containers[0].livenessProbe: Required value: must specify a handler type",
        ),
        (
            "readinessProbe",
            {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}},
            "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
        ),
        (
            "readinessProbe",
            {"exec": {"command": ["true"]}, "initialDelaySeconds": -1},
            "spec.containers[0].readinessProbe.initialDelaySeconds: Invalid value: -1: must be greater than or equal to 0",  # noqa: E501
        ),
        ("readinessProbe", {"exec": {"command": []}}, "spec.containers[0].readinessProbe.exec.command: Required value"),
        (
            "readinessProbe",
            {"httpGet": {"port": 0}},
            "spec.containers[0].readinessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive",
        ),
        (
            "readinessProbe",
            {"httpGet": {"port": 80, "scheme": "FTP"}},
            'spec.containers[0].readinessProbe.httpGet.scheme: Unsupported value: "FTP": supported values: "HTTP", "HTTPS"',  # noqa: E501
        ),
        (
            "readinessProbe",
            {"exec": {"command": ["true"]}, "terminationGracePeriodSeconds": 5},
            "spec.containers[0].readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: must not be set for readinessProbes",  # noqa: E501
        ),
    ],
)
def test_probes(probe_kind: str, probe: dict[str, Any], expected: str) -> None:
    errs = errors(pod(containers=[container(**{probe_kind: probe})]))
    assert expected in errs, errs


def test_readiness_success_threshold_may_exceed_one() -> None:
    assert (
        errors(pod(containers=[container(readinessProbe={"exec": {"command": ["true"]}, "successThreshold": 3})])) == []
    )


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        # validation_test.go TestValidateResourceRequirements: "Resources with Requests Larger Than Limits"
        (
            {"limits": {"cpu": "500m"}, "requests": {"cpu": "1"}},
            'spec.containers[0].resources.requests: Invalid value: "1": must be less than or equal to cpu limit of 500m',  # noqa: E501
        ),
        (
            {"requests": {"cpu": "-1"}},
            'spec.containers[0].resources.requests[cpu]: Invalid value: "-1": must be greater than or equal to 0',
        ),
        ({"requests": {"cpu": "lots"}}, 'spec.containers[0].resources.requests[cpu]: Invalid value: "lots"'),
        (
            {"limits": {"foo": "1"}},
            'spec.containers[0].resources.limits[foo]: Invalid value: "foo": must be a standard resource type or fully qualified',  # noqa: E501
        ),
        # extended resources cannot overcommit
        (
            {"limits": {"example.com/gpu": "2"}, "requests": {"example.com/gpu": "1"}},
            'spec.containers[0].resources.requests: Invalid value: "1": must be equal to example.com/gpu limit of 2',
        ),
    ],
)
def test_resources(resources: dict[str, Any], expected: str) -> None:
    errs = errors(pod(containers=[container(resources=resources)]))
    assert any(e.startswith(expected) for e in errs), errs


def test_extended_resource_requests_need_limits() -> None:
    # A Pod copies limits into requests, so check the template path where that defaulting does not happen.
    rs = _replica_set()
    rs["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"example.com/gpu": "1"}}
    assert (
        "spec.template.spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources"  # noqa: E501
        in errors(rs)
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]},
            'spec.volumes[1].name: Duplicate value: "v"',
        ),
        ({"volumes": [{"name": "V", "emptyDir": {}}]}, 'spec.volumes[0].name: Invalid value: "V"'),
        (
            {"containers": [container(volumeMounts=[{"name": "missing", "mountPath": "/m"}])]},
            'spec.containers[0].volumeMounts[0].name: Not found: "missing"',
        ),
        (
            {
                "volumes": [{"name": "v", "emptyDir": {}}],
                "containers": [
                    container(volumeMounts=[{"name": "v", "mountPath": "/m"}, {"name": "v", "mountPath": "/m"}])
                ],
            },
            'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/m": must be unique',
        ),
        (
            {"volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]},
            "spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type",
        ),
    ],
)
def test_volumes(spec: dict[str, Any], expected: str) -> None:
    errs = errors(pod(**spec))
    assert any(e.startswith(expected) for e in errs), errs


@pytest.mark.parametrize(
    ("toleration", "expected"),
    [
        # validation_test.go TestValidateTolerations error cases
        (
            {"key": "k", "operator": "Exists", "value": "v"},
            "spec.tolerations[0].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
        ),
        (
            {"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule", "tolerationSeconds": 10},
            "spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",  # noqa: E501
        ),
        (
            {"key": "k", "value": "v", "effect": "Never"},
            'spec.tolerations[0].effect: Unsupported value: "Never": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',  # noqa: E501
        ),
        (
            {"operator": "Equal", "value": "v"},
            'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys"',  # noqa: E501
        ),
        (
            {"key": "k", "operator": "Greater"},
            'spec.tolerations[0].operator: Unsupported value: "Greater": supported values: "Equal", "Exists"',
        ),
        ({"key": "bad key", "operator": "Exists"}, 'spec.tolerations[0].key: Invalid value: "bad key"'),
    ],
)
def test_tolerations(toleration: dict[str, Any], expected: str) -> None:
    errs = errors(pod(tolerations=[toleration]))
    assert any(e.startswith(expected) for e in errs), errs


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"nodeSelector": {"disk": "ssd ok"}}, 'spec.nodeSelector: Invalid value: "ssd ok"'),
        (
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {"matchExpressions": [{"key": "k", "operator": "Near", "values": ["v"]}]}
                            ]
                        }
                    }
                }
            },
            'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator',  # noqa: E501
        ),
        (
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "In"}]}]
                        }
                    }
                }
            },
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",  # noqa: E501
        ),
        (
            {
                "affinity": {
                    "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}
                }
            },
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: must have at least one node selector term",  # noqa: E501
        ),
        (
            {
                "affinity": {
                    "nodeAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {"weight": 0, "preference": {"matchExpressions": [{"key": "k", "operator": "Exists"}]}}
                        ]
                    }
                }
            },
            "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100",  # noqa: E501
        ),
        (
            {
                "affinity": {
                    "podAntiAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": [
                            {"labelSelector": {"matchLabels": {"app": "a"}}}
                        ]
                    }
                }
            },
            "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty",  # noqa: E501
        ),
        (
            {
                "affinity": {
                    "podAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "weight": 1,
                                "podAffinityTerm": {
                                    "topologyKey": "zone",
                                    "labelSelector": {
                                        "matchExpressions": [{"key": "app", "operator": "Exists", "values": ["x"]}]
                                    },
                                },
                            }
                        ]
                    }
                }
            },
            "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector.matchExpressions[0].values: Forbidden",  # noqa: E501
        ),
        (
            {
                "topologySpreadConstraints": [
                    {"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}
                ]
            },
            "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
        ),
        ({"schedulingGates": [{"name": "a"}, {"name": "a"}]}, 'spec.schedulingGates[1]: Duplicate value: "a"'),
        (
            {"nodeName": "n", "schedulingGates": [{"name": "a"}]},
            "spec.nodeName: Forbidden: cannot be set until all schedulingGates have been cleared",
        ),
        (
            {"hostNetwork": True, "containers": [container(ports=[{"containerPort": 80, "hostPort": 81}])]},
            "spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` when `hostNetwork` is true",  # noqa: E501
        ),
        (
            {"securityContext": {"runAsUser": -1}},
            "spec.securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive",
        ),
    ],
)
def test_scheduling_fields(spec: dict[str, Any], expected: str) -> None:
    errs = errors(pod(**spec))
    assert any(e.startswith(expected) for e in errs), errs


def test_mirror_pod_annotation_needs_node_name() -> None:
    errs = errors(pod_meta(annotations={"kubernetes.io/config.mirror": "abc"}))
    assert errs == [
        'metadata.annotations[kubernetes.io/config.mirror]: Invalid value: "abc": must set spec.nodeName if mirror pod annotation is set'  # noqa: E501
    ]


def test_termination_grace_period_required_without_defaults() -> None:
    # Upstream validates defaulted objects; undefaulted, the required fields show.
    errs = [str(e) for e in validate(_obj(POD, defaults=False))]
    assert "spec.terminationGracePeriodSeconds: Required value" in errs
    assert "spec.restartPolicy: Required value" in errs
    assert "spec.containers[0].imagePullPolicy: Required value" in errs


# ---- workloads -----------------------------------------------------------------------------------------


def _replica_set(kind: str = "ReplicaSet", api: str = "apps/v1", **spec: Any) -> dict[str, Any]:
    body = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
    }
    body.update(spec)
    return {"apiVersion": api, "kind": kind, "metadata": {"name": "web", "namespace": "default"}, "spec": body}


@pytest.mark.parametrize("kind", ["ReplicaSet", "Deployment", "DaemonSet"])
def test_selector_must_match_template(kind: str) -> None:
    # apps validation_test.go "selector_doesnt_match"
    m = _replica_set(kind)
    m["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    assert (
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`'  # noqa: E501
        in errors(m)
    )
    assert errors(_replica_set(kind)) == []


@pytest.mark.parametrize("kind", ["ReplicaSet", "Deployment"])
def test_selector_required(kind: str) -> None:
    m = _replica_set(kind)
    del m["spec"]["selector"]
    assert "spec.selector: Required value" in errors(m)


def test_empty_selector_invalid() -> None:
    m = _replica_set("Deployment", selector={})
    assert any(
        e.startswith("spec.selector: Invalid value: &LabelSelector{")
        and e.endswith("empty selector is invalid for deployment")
        for e in errors(m)
    )
    ds = _replica_set("DaemonSet", selector={})
    assert any(e.endswith("empty selector is invalid for daemonset") for e in errors(ds))


def test_replicas_non_negative() -> None:
    assert "spec.replicas: Invalid value: -1: must be greater than or equal to 0" in errors(_replica_set(replicas=-1))


@pytest.mark.parametrize("kind", ["ReplicaSet", "Deployment", "DaemonSet"])
def test_template_restart_policy_always(kind: str) -> None:
    m = _replica_set(kind)
    m["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    assert 'spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"' in errors(m)


def test_replication_controller() -> None:
    rc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "r", "namespace": "default"},
        "spec": {
            "selector": {"app": "x"},
            "template": {"metadata": {"labels": {"app": "y"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
    }
    assert errors(rc) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"y"}: `selector` does not match template `labels`'  # noqa: E501
    ]
    rc["spec"]["template"]["metadata"]["labels"] = {"app": "x"}
    rc["spec"]["template"]["spec"]["activeDeadlineSeconds"] = 5
    assert errors(rc) == [
        "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicationController is not Supported"  # noqa: E501
    ]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}},
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
        ),
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "110%"}},
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 110%: must not be greater than 100%",
        ),
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "lots"}},
            "spec.strategy.rollingUpdate.maxSurge: Invalid value: lots: a valid percent string must be",
        ),
        (
            {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}},
            "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
        ),
        ({"type": "Blue"}, 'spec.strategy: Unsupported value: Blue: supported values: "Recreate", "RollingUpdate"'),
    ],
)
def test_deployment_strategy(strategy: dict[str, Any], expected: str) -> None:
    errs = errors(_replica_set("Deployment", strategy=strategy))
    assert any(e.startswith(expected) for e in errs), errs


def test_deployment_progress_deadline() -> None:
    errs = errors(_replica_set("Deployment", minReadySeconds=10, progressDeadlineSeconds=10))
    assert errs == ["spec.progressDeadlineSeconds: Invalid value: 10: must be greater than minReadySeconds"]


def test_daemon_set_update_strategy() -> None:
    m = _replica_set(
        "DaemonSet", updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}
    )
    assert errors(m) == [
        "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero"
    ]
    m = _replica_set(
        "DaemonSet", updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}
    )
    assert errors(m) == [
        "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"
    ]


def _job(**spec: Any) -> Any:
    body: dict[str, Any] = {
        "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "perl"}]}}
    }
    body.update(spec)
    job = from_dict(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "pi", "namespace": "default", "uid": "u-1"},
            "spec": body,
        }
    )
    default(job)
    default_job_selector(job, "u-1")
    return job


def test_job_valid_with_generated_selector() -> None:
    assert validate(_job()) == []


def test_job_restart_policy() -> None:
    job = _job()
    job.spec.template.spec.restart_policy = "Always"
    assert [str(e) for e in validate(job)] == [
        'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"'
    ]


def test_job_generated_selector_checked() -> None:
    job = _job()
    job.spec.template.metadata.labels["controller-uid"] = "other"
    assert any(
        str(e).startswith("spec.template.metadata.labels[controller-uid]: Invalid value:") for e in validate(job)
    )
    assert any("`selector` does not match template `labels`" in str(e) for e in validate(job)) is False


def test_job_numbers() -> None:
    job = _job(backoffLimit=-1, parallelism=-1)
    assert {str(e) for e in validate(job)} >= {
        "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
        "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
    }


def test_job_indexed_needs_completions() -> None:
    job = _job(completionMode="Indexed", parallelism=2)
    assert "spec.completions: Required value: when completion mode is Indexed" in [str(e) for e in validate(job)]


# ---- Node, Event, Lease ------------------------------------------------------------------------------


def test_node_taints() -> None:
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n"},
        "spec": {
            "taints": [
                {"key": "k", "effect": "Sometimes"},
                {"key": "d", "effect": "NoSchedule"},
                {"key": "d", "value": "x", "effect": "NoSchedule"},
                {"key": "e"},
            ]
        },
    }
    errs = errors(node)
    # Upstream reports node taints under metadata.taints (its fldPath is the metadata path).
    assert (
        'metadata.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"'  # noqa: E501
        in errs
    )
    assert any(
        e.startswith("metadata.taints[2]: Duplicate value: ")
        and e.endswith("taints must be unique by key and effect pair")
        for e in errs
    )
    assert "metadata.taints[3].effect: Required value" in errs


def test_event_namespace_must_match() -> None:
    ev = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "e", "namespace": "a"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "b"},
    }
    assert errors(ev) == ['involvedObject.namespace: Invalid value: "b": does not match event.namespace']


def test_lease() -> None:
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "n", "namespace": "kube-node-lease"},
        "spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1},
    }
    assert errors(lease) == [
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
        "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
    ]


# ---- updates -------------------------------------------------------------------------------------------


def _pair(manifest: dict[str, Any]) -> tuple[Any, Any]:
    old = _obj(manifest)
    old.metadata.uid = "u-1"
    new = type(old)()
    new.CopyFrom(old)
    return new, old


def test_metadata_immutable() -> None:
    new, old = _pair(POD)
    new.metadata.uid = "u-2"
    new.metadata.namespace = "other"
    assert [str(e) for e in validate_update(new, old)] == [
        'metadata.namespace: Invalid value: "other": field is immutable',
        'metadata.uid: Invalid value: "u-2": field is immutable',
    ]


def test_pod_image_update_allowed() -> None:
    new, old = _pair(POD)
    new.spec.containers[0].image = "nginx:2"
    new.spec.active_deadline_seconds = 30
    new.spec.tolerations.add(key="extra", operator="Exists")
    assert validate_update(new, old) == []


def test_pod_spec_update_forbidden() -> None:
    new, old = _pair(POD)
    new.spec.restart_policy = "Never"
    errs = validate_update(new, old)
    assert len(errs) == 1
    head = str(errs[0]).split("\n")[0]
    assert head == (
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
        "`spec.tolerations` (only additions to existing tolerations),"
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
    )
    assert "restartPolicy" in str(errs[0])


def test_pod_update_rules() -> None:
    new, old = _pair(POD)
    del new.spec.tolerations[0]
    assert [str(e) for e in validate_update(new, old)] == [
        "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"
    ]
    new, old = _pair(POD)
    new.spec.tolerations[0].toleration_seconds = 5  # tolerationSeconds may change
    assert validate_update(new, old) == []
    new, old = _pair(POD)
    new.spec.containers.add(name="d", image="x")
    assert [str(e) for e in validate_update(new, old)] == [
        "spec.containers: Forbidden: pod updates may not add or remove containers"
    ]
    new, old = _pair(pod(activeDeadlineSeconds=10))
    new.spec.active_deadline_seconds = 20
    assert [str(e) for e in validate_update(new, old)] == [
        "spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous value"
    ]
    new, old = _pair(pod(terminationGracePeriodSeconds=-1))
    new.spec.termination_grace_period_seconds = 1
    assert validate_update(new, old) == []


def test_scheduling_gates_only_removed() -> None:
    new, old = _pair(pod(schedulingGates=[{"name": "a"}]))
    del new.spec.scheduling_gates[:]
    assert validate_update(new, old) == []
    new, old = _pair(pod(schedulingGates=[{"name": "a"}]))
    new.spec.scheduling_gates.add(name="b")
    assert [str(e) for e in validate_update(new, old)] == [
        "spec.schedulingGates[1].name: Forbidden: only deletion is allowed, but found new scheduling gate 'b'"
    ]


def test_mirror_annotation_cannot_be_added() -> None:
    new, old = _pair(POD)
    new.metadata.annotations["kubernetes.io/config.mirror"] = "h"
    assert [str(e) for e in validate_update(new, old)] == [
        "metadata.annotations[kubernetes.io/config.mirror]: Forbidden: may not add mirror pod annotation"
    ]


@pytest.mark.parametrize("kind", ["ReplicaSet", "Deployment", "DaemonSet"])
def test_selector_immutable(kind: str) -> None:
    new, old = _pair(_replica_set(kind))
    new.spec.selector.match_labels["tier"] = "x"
    errs = [str(e) for e in validate_update(new, old)]
    assert (
        len(errs) == 1
        and errs[0].startswith("spec.selector: Invalid value: &LabelSelector{")
        and errs[0].endswith("field is immutable")
    )


def test_replication_controller_selector_mutable() -> None:
    rc = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "r", "namespace": "default"},
        "spec": {
            "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
        },
    }
    new, old = _pair(rc)
    new.spec.selector["extra"] = "y"
    assert validate_update(new, old) == []


def test_job_template_and_selector_immutable() -> None:
    old = _job()
    new = type(old)()
    new.CopyFrom(old)
    new.spec.template.spec.containers[0].image = "perl:2"
    new.spec.selector.match_labels["x"] = "y"
    errs = [str(e) for e in validate_update(new, old)]
    assert any(e.startswith("spec.selector: Invalid value:") and e.endswith("field is immutable") for e in errs)
    assert any(e.startswith("spec.template: Invalid value:") and e.endswith("field is immutable") for e in errs)


def test_finalizers_cannot_be_added_while_deleting() -> None:
    new, old = _pair(POD)
    old.metadata.deletion_timestamp.seconds = 1
    new.metadata.deletion_timestamp.seconds = 1
    new.metadata.finalizers.append("example.com/f")
    assert [str(e) for e in validate_update(new, old)] == [
        'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/f"}'  # noqa: E501
    ]


def test_kept_pod_spec_answers_follow_the_spec_and_cannot_be_changed_by_callers() -> None:
    from apiserver.apis.core.validation import validate_pod_spec

    good = _obj(POD).spec
    bad = _obj(pod(containers=[{"name": "c", "image": "nginx", "resources": {"limits": {"cpu": "-1"}}}])).spec
    unset = _obj(POD).spec
    unset.ClearField("termination_grace_period_seconds")  # presence alone differs
    for _ in range(2):  # the second round is answered from what was kept
        assert validate_pod_spec(good, is_pod=True) == []
        found = validate_pod_spec(bad, is_pod=True)
        assert [e.field for e in found] == ["spec.containers[0].resources.limits[cpu]",
                                            "spec.containers[0].resources.requests[cpu]"]  # defaulted from limits
        found.clear()  # a caller changing its list does not change the next answer
        assert [e.field for e in validate_pod_spec(unset, is_pod=True)] == ["spec.terminationGracePeriodSeconds"]
        assert [e.field for e in validate_pod_spec(unset, "spec.template.spec")] == [
            "spec.template.spec.terminationGracePeriodSeconds"]  # the path is part of the answer
