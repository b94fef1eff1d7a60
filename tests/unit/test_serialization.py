"""The Kubernetes JSON codec: numbers as numbers, RFC 3339 times, upstream names, strict decoding by path."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubemu.api import serialization as ser
from kubemu.pb import core_pb2

pytestmark = pytest.mark.unit

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2024-01-02T03:04:05Z",
                 "labels": {"app": "web"}, "deletionGracePeriodSeconds": 30},
    "spec": {
        "terminationGracePeriodSeconds": 30,
        "activeDeadlineSeconds": 600,
        "containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80, "hostIP": "0.0.0.0"}],
                        "livenessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5},
                        "readinessProbe": {"tcpSocket": {"port": 80}}}],
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
    },
    "status": {"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}], "hostIP": "172.18.0.2",
               "qosClass": "BestEffort", "startTime": "2024-01-02T03:04:06Z"},
}


def test_round_trip_keeps_kubernetes_shape() -> None:
    pod = ser.from_dict(POD)
    assert isinstance(pod, core_pb2.Pod)
    out = ser.to_dict(pod)
    assert out == POD
    # int64 fields print as numbers, not as protobuf's JSON strings
    assert out["spec"]["terminationGracePeriodSeconds"] == 30
    assert out["metadata"]["deletionGracePeriodSeconds"] == 30
    assert list(out)[:2] == ["apiVersion", "kind"]


def test_int_or_string_keeps_its_type() -> None:
    pod = ser.from_dict(POD)
    probe = pod.spec.containers[0]
    assert probe.liveness_probe.http_get.port.str_val == "http"
    assert probe.readiness_probe.tcp_socket.port.int_val == 80


def test_empty_fields_are_left_out() -> None:
    out = ser.to_dict(ser.from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}))
    assert out == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}


def test_required_fields_are_written_even_when_zero() -> None:
    # As Go's encoder writes fields without omitempty (the schema's required ones): typed clients need them.
    pod = ser.from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
                         "status": {"containerStatuses": [{"name": "c", "image": "nginx", "started": False}]}})
    out = ser.to_dict(pod)["status"]["containerStatuses"][0]
    assert out == {"name": "c", "ready": False, "restartCount": 0, "image": "nginx", "imageID": "", "started": False}
    assert list(out) == ["name", "ready", "restartCount", "image", "imageID", "started"]  # in the type's order
    rs = ser.from_dict({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "x"}})
    assert "status" not in ser.to_dict(rs)  # an absent object stays absent
    rs.status.observed_generation = 1
    assert ser.to_dict(rs)["status"] == {"replicas": 0, "observedGeneration": 1}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"spec": {"containers": [{"name": "a", "imagee": "x"}]}}, 'unknown field "spec.containers[0].imagee"'),
        ({"spec": {"containers": [{"name": 5}]}}, "spec.containers[0].name: expected string, got number"),
        ({"spec": {"containers": {"name": "a"}}}, "spec.containers: expected array, got object"),
        ({"metadata": {"labels": {"a": 1}}}, "metadata.labels[a]: expected string, got number"),
        ({"metadata": {"creationTimestamp": "yesterday"}}, 'metadata.creationTimestamp: invalid time "yesterday"'),
        ({"spec": {"terminationGracePeriodSeconds": "30"}}, "expected integer, got string"),
        ({"spec": {"priority": 2**40}}, "spec.priority: value 1099511627776 out of range"),
    ],
)
def test_strict_decoding_names_the_field(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ser.DecodeError) as exc:
        ser.from_dict({"apiVersion": "v1", "kind": "Pod", **doc})
    assert message in str(exc.value)


def test_unknown_kind_and_version() -> None:
    with pytest.raises(ser.DecodeError, match='no matches for kind "Gadget" in version "v1"'):
        ser.from_dict({"apiVersion": "v1", "kind": "Gadget"})
    with pytest.raises(ser.DecodeError, match='no matches for kind "Deployment" in version "v1"'):
        ser.from_dict({"apiVersion": "v1", "kind": "Deployment"})
    with pytest.raises(ser.DecodeError, match="kind: Required value"):
        ser.from_dict({"apiVersion": "v1"})


@given(st.integers(min_value=0, max_value=4_000_000_000), st.integers(min_value=0, max_value=999_999))
def test_micro_time_round_trip(seconds: int, micros: int) -> None:
    lease = ser.from_dict({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"},
                           "spec": {"holderIdentity": "a"}})
    lease.spec.renew_time.seconds = seconds
    lease.spec.renew_time.nanos = micros * 1000
    text = ser.to_dict(lease)["spec"]["renewTime"]
    assert text.endswith("Z") and len(text.split(".")[1]) == 7
    again = ser.from_dict(ser.to_dict(lease))
    assert again.spec.renew_time == lease.spec.renew_time


def test_a_quantity_decodes_from_a_number_and_is_kept_canonical() -> None:
    """Quantity.UnmarshalJSON reads a JSON number (`cpu: 1` in YAML) as well as a string, and the object serializes
    its canonical form; a string that does not parse is kept for validation to refuse by field."""
    pod = ser.from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q"}, "spec": {"containers": [
        {"name": "a", "image": "b", "resources": {"limits": {"cpu": 1, "memory": "1Gi"},
                                                  "requests": {"cpu": 0.5, "memory": "nonsense"}}}]}})
    resources = ser.to_dict(pod)["spec"]["containers"][0]["resources"]
    assert resources == {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "nonsense"}}


def test_bad_base64_is_refused_with_gos_words() -> None:
    with pytest.raises(ser.DecodeError, match=r"^data\[tls.crt\]: illegal base64 data at input byte 7$"):
        ser.from_dict({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                   "data": {"tls.crt": "REPLACE_WITH_BASE64"}})
