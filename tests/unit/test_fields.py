"""Field selectors: parsing and escaping as upstream, and each kind's selectable fields and refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apiserver.apis.install import convert_for_kind, object_fields, validate_for_kind
from kubemu.api import fields
from kubemu.api.fields import FieldRequirement, SelectorError
from kubemu.pb import apps_pb2, batch_pb2, core_pb2

pytestmark = pytest.mark.unit


# fields/selector_test.go TestSelectorParse.
@pytest.mark.parametrize("text", ["x=a,y=b,z=c", "", "x!=a,y=b"])
def test_good_selectors_restring(text: str) -> None:
    assert str(fields.parse(text)) == text


@pytest.mark.parametrize("text", ["x=a||y=b", "x==a==b", "nope", "x=a,b"])
def test_bad_selectors(text: str) -> None:
    with pytest.raises(SelectorError):
        fields.parse(text)


def test_deterministic_parse() -> None:
    # TestDeterministicParse.
    assert str(fields.parse("x=a,a=x")) == str(fields.parse("a=x,x=a")) == "a=x,x=a"


# TestSelectorMatches.
@pytest.mark.parametrize(
    ("text", "have", "match"),
    [
        ("", {"x": "y"}, True),
        ("x=y", {"x": "y"}, True),
        ("x=y,z=w", {"x": "y", "z": "w"}, True),
        ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
        ("notin=in", {"notin": "in"}, True),
        ("x=y", {"x": "z"}, False),
        ("x=y,z=w", {"x": "w", "z": "w"}, False),
        ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
        ("foo=bar,baz=blah", {"foo": "bar", "baz": "blah"}, True),
        ("foo=bar,foobar=bar,baz=blah", {"foo": "bar", "baz": "blah"}, False),
        # A missing field reads as "": it equals an empty value and differs from everything else.
        ("x=", {}, True),
        ("x!=a", {}, True),
        ("x==y", {"x": "y"}, True),
    ],
)
def test_selector_matches(text: str, have: dict[str, str], match: bool) -> None:
    assert fields.parse(text).matches(have) is match


def test_requirements_and_operators() -> None:
    selector = fields.parse("status.phase!=Failed,spec.nodeName==n1")
    assert selector.requirements == (
        FieldRequirement("spec.nodeName", "=", "n1"),
        FieldRequirement("status.phase", "!=", "Failed"),
    )
    assert str(selector) == "spec.nodeName=n1,status.phase!=Failed"


def test_exact() -> None:
    # TestRequiresExactMatch: only an equality pins a value; "" is a value too.
    assert fields.parse("spec.nodeName=n1,status.phase=Running").exact("spec.nodeName") == "n1"
    assert fields.parse("spec.nodeName!=n1").exact("spec.nodeName") is None
    assert fields.parse("spec.nodeName=").exact("spec.nodeName") == ""
    assert fields.parse("").exact("spec.nodeName") is None
    assert fields.parse("a=b").exact("spec.nodeName") is None


def test_empty() -> None:
    assert fields.parse("").empty
    assert fields.parse(",").empty
    assert not fields.parse("a=b").empty


# Escaping as upstream's TestEscapeValue / TestUnescapeValue / TestSplitTerms.
@pytest.mark.parametrize(
    ("raw", "escaped"),
    [("", ""), ("a", "a"), ("=", "\\="), (",", "\\,"), ("\\", "\\\\"), ("\\=\\,\\", "\\\\\\=\\\\\\,\\\\")],
)
def test_escape_round_trip(raw: str, escaped: str) -> None:
    assert fields.escape_value(raw) == escaped
    assert fields.unescape_value(escaped) == raw


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\\", "invalid field selector: invalid escape sequence: \\"),
        ("\\q", "invalid field selector: invalid escape sequence: \\q"),
        ("a=b", "invalid field selector: unescaped character in value: 61"),
        ("a,b", "invalid field selector: unescaped character in value: 44"),
    ],
)
def test_unescape_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as err:
        fields.unescape_value(text)
    assert str(err.value) == message


def test_escaped_separators_in_values() -> None:
    selector = fields.parse("a=x\\,y\\=z,b!=\\\\")
    assert selector.requirements == (FieldRequirement("a", "=", "x,y=z"), FieldRequirement("b", "!=", "\\"))
    assert selector.matches({"a": "x,y=z", "b": "c"})


def test_parse_error_text() -> None:
    with pytest.raises(SelectorError) as err:
        fields.parse("a=b,nope")
    assert str(err.value) == "invalid selector: 'a=b,nope'; can't understand 'nope'"


# --- per-kind contracts ---


def _pod() -> core_pb2.Pod:
    pod = core_pb2.Pod()
    pod.metadata.name = "web"
    pod.metadata.namespace = "default"
    pod.spec.node_name = "n1"
    pod.spec.restart_policy = "Always"
    pod.spec.scheduler_name = "default-scheduler"
    pod.spec.service_account_name = "default"
    pod.status.phase = "Running"
    pod.status.pod_ip = "10.0.0.9"
    return pod


def test_pod_fields() -> None:
    assert object_fields(_pod()) == {
        "metadata.name": "web",
        "metadata.namespace": "default",
        "spec.nodeName": "n1",
        "spec.restartPolicy": "Always",
        "spec.schedulerName": "default-scheduler",
        "spec.serviceAccountName": "default",
        "spec.hostNetwork": "false",
        "status.phase": "Running",
        "status.podIP": "10.0.0.9",
        "status.nominatedNodeName": "",
    }


def test_pod_ip_prefers_pod_ips() -> None:
    pod = _pod()
    pod.status.pod_ips.add(ip="10.0.0.1")
    assert object_fields(pod)["status.podIP"] == "10.0.0.1"


def test_node_fields() -> None:
    node = core_pb2.Node()
    node.metadata.name = "n1"
    node.spec.unschedulable = True
    assert object_fields(node) == {"metadata.name": "n1", "metadata.namespace": "", "spec.unschedulable": "true"}


def test_event_fields() -> None:
    ev = core_pb2.Event(reason="Scheduled", type="Normal", reporting_component="default-scheduler")
    ev.metadata.name = "web.1"
    ev.metadata.namespace = "default"
    ev.involved_object.kind = "Pod"
    ev.involved_object.name = "web"
    ev.involved_object.namespace = "default"
    ev.involved_object.uid = "u-1"
    got = object_fields(ev)
    assert got["involvedObject.kind"] == "Pod"
    assert got["involvedObject.name"] == "web"
    assert got["involvedObject.namespace"] == "default"
    assert got["involvedObject.uid"] == "u-1"
    assert got["reason"] == "Scheduled"
    assert got["type"] == "Normal"
    # No source.component: upstream falls back to the reporting component.
    assert got["source"] == "default-scheduler"
    ev.source.component = "kubelet"
    assert object_fields(ev)["source"] == "kubelet"


def test_other_kinds() -> None:
    job = batch_pb2.Job()
    job.status.succeeded = 3
    assert object_fields(job)["status.successful"] == "3"
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name = "rs"
    assert object_fields(rs) == {"metadata.name": "rs", "metadata.namespace": ""}


def test_matching_a_pod() -> None:
    have = object_fields(_pod())
    assert fields.parse("spec.nodeName=n1,status.phase!=Failed").matches(have)
    assert not fields.parse("spec.nodeName=").matches(have)


def test_spec_host_is_rewritten_to_node_name() -> None:
    converted = convert_for_kind(fields.parse("spec.host=n1"), "Pod")
    assert converted.requirements == (FieldRequirement("spec.nodeName", "=", "n1"),)


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("Pod", "spec.nodeName=n1,status.phase=Running,metadata.namespace=d,status.podIPs=x,spec.hostNetwork=true"),
        ("Node", "spec.unschedulable=false,metadata.name=n1"),
        ("Namespace", "status.phase=Active"),
        ("Event", "involvedObject.kind=Pod,reason=x,source=kubelet,type=Normal,reportingComponent=x"),
        ("ReplicationController", "status.replicas=1"),
        ("Job", "status.successful=1,metadata.namespace=d"),
        ("Deployment", "metadata.name=d,metadata.namespace=n"),
        ("Lease", "metadata.name=l"),
    ],
)
def test_accepted_fields(kind: str, text: str) -> None:
    validate_for_kind(fields.parse(text), kind)


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        ("Pod", "spec.containers=x", "field label not supported: spec.containers"),
        # Cluster-scoped: metadata.namespace is refused, not silently matched.
        ("Node", "metadata.namespace=x", "field label not supported: metadata.namespace"),
        ("Namespace", "metadata.namespace=x", "field label not supported: metadata.namespace"),
        ("Event", "message=x", "field label not supported: message"),
        ("ReplicationController", "spec.replicas=1", "field label not supported: spec.replicas"),
        ("Job", "status.active=1", 'field label "status.active" not supported for Job'),
        # apps/v1 registers no conversion func: the generic fallback and its own wording.
        ("ReplicaSet", "status.replicas=1",
         '"status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"'),
        ("DaemonSet", "spec.x=1", '"spec.x" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    ],
)
def test_refused_fields(kind: str, text: str, message: str) -> None:
    with pytest.raises(SelectorError) as err:
        validate_for_kind(fields.parse(text), kind)
    assert str(err.value) == message


# --- properties ---

_FIELD = st.sampled_from(["metadata.name", "spec.nodeName", "status.phase", "a"])


@given(st.lists(st.tuples(_FIELD, st.sampled_from(["=", "!="]), st.text(max_size=8)), max_size=5),
       st.dictionaries(_FIELD, st.text(max_size=8)))
def test_string_round_trip(terms: list[tuple[str, str, str]], have: dict[str, str]) -> None:
    selector = fields.FieldSelector(tuple(FieldRequirement(*t) for t in terms))
    reparsed = fields.parse(str(selector))
    assert sorted(reparsed.requirements) == sorted(selector.requirements)
    assert reparsed.matches(have) == selector.matches(have)
