"""The REST face's pure parts that read requests: content negotiation, strict decoding with every unknown field
named, kind checks with upstream's messages, continue tokens and the static token file."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from apiserver.authn import Authenticator, TokenAuthenticator, TokenFileError
from apiserver.rest import decode
from apiserver.rest.auth import authenticate
from apiserver.rest.handlers import decode_continue, encode_continue, resolve
from kubemu.api import kinds
from kubemu.api.errors import StatusError

pytestmark = pytest.mark.unit

POD = kinds.by_kind("Pod")


def _accept(header: str, table: bool = True) -> str:
    return decode.negotiate(make_mocked_request("GET", "/", headers={"Accept": header}), table=table).form


def test_negotiate() -> None:
    # kubectl get's header: the Table first, JSON as the fallback.
    kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io," \
              "application/json"
    assert _accept(kubectl) == "table"
    assert _accept(kubectl, table=False) == "json"
    assert _accept("*/*") == "json"
    assert _accept("application/yaml") == "yaml"
    assert _accept("application/vnd.kubernetes.protobuf,application/json") == "json"
    assert _accept("application/vnd.kubernetes.protobuf") == "protobuf"  # a client that takes nothing else
    with pytest.raises(StatusError) as e:
        _accept("application/cbor")
    assert (e.value.code, e.value.reason) == (406, "NotAcceptable")
    assert decode.negotiate(make_mocked_request("GET", "/")).form == "json"


def test_unknown_fields_are_all_named_in_the_body_order_and_dropped_on_request() -> None:
    body = {"metadata": {"name": "x", "nope": 1, "labels": {"a": "b"}},
            "spec": {"foo": 1, "containers": [{"name": "c", "bar": 2, "resources": {"limits": {"cpu": "1"}}}],
                     "nodeSelector": {"k": "v"}}}
    found = decode.unknown_fields(POD.message.DESCRIPTOR, body)
    assert found == ["metadata.nope", "spec.foo", "spec.containers[0].bar"]
    assert "foo" in body["spec"]
    decode.unknown_fields(POD.message.DESCRIPTOR, body, drop=True)
    assert "foo" not in body["spec"] and "bar" not in body["spec"]["containers"][0]
    assert decode.unknown_fields(POD.message.DESCRIPTOR, body) == []


def test_times_and_int_or_strings_are_values_not_objects() -> None:
    body = {"metadata": {"creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}],
                                     "livenessProbe": {"httpGet": {"port": "http"}}}]}}
    assert decode.unknown_fields(POD.message.DESCRIPTOR, body) == []


def test_to_object_strict_and_warn() -> None:
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
           "spec": {"foo": 1, "containers": [{"name": "c", "image": "i"}]}}
    with pytest.raises(StatusError) as e:
        decode.to_object(dict(doc), POD, "Strict", [])
    assert e.value.message == 'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field ' \
                              '"spec.foo"'
    warnings: list[str] = []
    obj = decode.to_object(doc, POD, "Warn", warnings)
    assert obj.metadata.name == "x" and warnings == ['unknown field "spec.foo"']
    assert decode.warning_headers(warnings) == [("Warning", '299 - "unknown field \\"spec.foo\\""')]
    with pytest.raises(StatusError) as e:
        decode.to_object({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": 3}}, POD, "Strict", [])
    assert e.value.message == 'Pod in version "v1" cannot be handled as a Pod: spec.containers: expected array, ' \
                              "got number"


def test_check_kind_messages() -> None:
    # kube-apiserver's words for a Deployment posted to /api/v1/.../pods.
    with pytest.raises(StatusError) as e:
        decode.check_kind({"apiVersion": "apps/v1", "kind": "Deployment"}, POD)
    assert e.value.message == 'Deployment in version "v1" cannot be handled as a Pod: converting (v1.Deployment) to ' \
                              "(core.Pod): unknown conversion"
    with pytest.raises(StatusError) as e:
        decode.check_kind({"apiVersion": "v1", "kind": "Pod"}, kinds.by_kind("Deployment"))
    assert "(apps.Deployment)" in e.value.message
    decode.check_kind({"apiVersion": "v1", "kind": "Pod"}, POD)


def test_resolve_paths_as_request_info_does() -> None:
    t = resolve("", "v1", ["namespaces", "ns", "pods", "web", "status"])
    assert (t.info.kind, t.namespace, t.name, t.subresource) == ("Pod", "ns", "web", "status")
    t = resolve("", "v1", ["namespaces", "ns"])
    assert (t.info.kind, t.name) == ("Namespace", "ns")
    t = resolve("", "v1", ["namespaces", "ns", "status"])
    assert (t.info.kind, t.name, t.subresource) == ("Namespace", "ns", "status")
    t = resolve("", "v1", ["pods"])
    assert (t.info.kind, t.namespace, t.name) == ("Pod", "", "")
    t = resolve("apps", "v1", ["namespaces", "d", "deployments", "x", "scale"])
    assert (t.info.kind, t.subresource) == ("Deployment", "scale")
    for parts in (["foos"], ["namespaces", "ns", "nodes", "n"], ["pods", "x", "scale"], ["pods", "x", "y", "z"]):
        with pytest.raises(StatusError) as e:
            resolve("", "v1", parts)
        assert e.value.code == 404, parts


def test_continue_tokens_round_trip_and_bad_ones_are_400() -> None:
    token = encode_continue(42, "ns/p3")
    assert decode_continue(token) == (42, "ns/p3")
    for bad in ("garbage", encode_continue(1, "x")[:-3] + "!!!"):
        with pytest.raises(StatusError) as e:
            decode_continue(bad)
        assert e.value.code == 400


async def test_the_rest_face_checks_bearer_tokens_against_the_shared_token_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text('abc,alice,1,"system:masters,dev"\n\ndef,bob,2\n')
    auth = Authenticator(TokenAuthenticator.from_file(path))
    alice, bob = await authenticate(auth, "Bearer abc"), await authenticate(auth, "bearer def")
    assert alice is not None and alice.name == "alice" and "system:masters" in alice.groups
    assert bob is not None and bob.name == "bob"
    for header in (None, "", "Bearer", "Bearer nope", "Basic abc"):
        assert await authenticate(auth, header) is None
    path.write_text("abc,alice\n")
    with pytest.raises(TokenFileError):
        TokenAuthenticator.from_file(path)


def test_check_kind_defaults_what_the_body_leaves_out() -> None:
    # As upstream's decoding with the path's kind as the default: the official Python client sends no kind.
    decode.check_kind({"metadata": {"name": "p"}}, POD)
    decode.check_kind({"apiVersion": "v1"}, POD)
    with pytest.raises(StatusError) as e:  # a version that is not the path's is still refused
        decode.check_kind({"apiVersion": "apps/v1"}, POD)
    assert e.value.code == 400
