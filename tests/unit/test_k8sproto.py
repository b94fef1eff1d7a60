"""Kubernetes protobuf (k8sproto): bytes recorded from kube-apiserver 1.35 decode to the JSON it answered for the
same object, every-field objects survive dict -> protobuf -> dict, unknown numbers are refused by name, and the
REST face reads protobuf bodies and answers protobuf to a client that takes nothing else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from apiserver.rest import decode
from kubemu.api import k8sproto, kinds
from kubemu.api.errors import StatusError
from kubemu.api.serialization import to_dict
from tests.integration import test_every_field as every_field

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parent / "data" / "k8sproto"
RECORDED = sorted(p.stem for p in DATA.glob("*.bin"))


def test_the_numbers_cover_every_served_kind() -> None:
    numbers = json.loads((Path(k8sproto.__file__).parent / "schema" / "protobuf.json").read_text())
    assert numbers["gitVersion"].startswith("v1.35")
    assert numbers["unknown"] == {}
    for info in kinds.all_kinds():
        assert k8sproto.definition_of(info.api_version, info.kind)
    for api, kind in (("policy/v1", "Eviction"), ("autoscaling/v1", "Scale"), ("v1", "DeleteOptions")):
        assert k8sproto.definition_of(api, kind)


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_bytes_decode_to_the_peers_json(name: str) -> None:
    raw = (DATA / f"{name}.bin").read_bytes()
    assert k8sproto.decode(raw) == json.loads((DATA / f"{name}.json").read_text())


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_json_encodes_to_what_decodes_back(name: str) -> None:
    doc = json.loads((DATA / f"{name}.json").read_text())
    assert k8sproto.decode(k8sproto.encode(doc)) == doc


def _variants() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for info in kinds.all_kinds():
        for i, obj in enumerate(every_field._variants(info)):
            out.append((f"{info.kind}-{i}", to_dict(obj)))
        status = to_dict(every_field._status_object(info))
        if "status" in status:
            out.append((f"{info.kind}-status", status))
    return out


@pytest.mark.parametrize(("name", "doc"), _variants(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_field_round_trips(name: str, doc: dict[str, Any]) -> None:
    assert k8sproto.decode(k8sproto.encode(doc)) == doc


def _field(num: int, data: bytes) -> bytes:
    return bytes([num << 3 | 2, len(data)]) + data


def _unknown(api_version: str, kind: str, raw: bytes) -> bytes:
    meta = _field(1, api_version.encode()) + _field(2, kind.encode())
    return k8sproto.MAGIC + _field(1, meta) + _field(2, raw)


def test_unknown_numbers_are_refused_naming_the_definition() -> None:
    name = _field(1, b"web")
    good = _unknown("v1", "Namespace", _field(1, name))
    assert k8sproto.decode(good) == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}}
    with pytest.raises(k8sproto.ProtobufError, match=r"unknown field number 99 in "
                                                    r"io\.k8s\.apimachinery\.pkg\.apis\.meta\.v1\.ObjectMeta "
                                                    r"at metadata"):
        k8sproto.decode(_unknown("v1", "Namespace", _field(1, name + bytes([0x98, 0x06, 0x01]))))
    with pytest.raises(k8sproto.ProtobufError, match="expected prefix"):
        k8sproto.decode(b"{}")
    with pytest.raises(k8sproto.ProtobufError, match="no protobuf encoding known for v1, Kind=Nope"):
        k8sproto.decode(_unknown("v1", "Nope", b""))


def test_eviction_with_delete_options() -> None:
    doc = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p", "namespace": "ns"},
           "deleteOptions": {"gracePeriodSeconds": 0, "dryRun": ["All"], "preconditions": {"uid": "u"}}}
    assert k8sproto.decode(k8sproto.encode(doc)) == doc


def _request(ctype: str, accept: str = "application/json") -> Any:
    return make_mocked_request("POST", "/", headers={"Content-Type": ctype, "Accept": accept})


def test_rest_reads_protobuf_bodies_and_answers_protobuf_only_when_asked_for_nothing_else() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "web"}},
           "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]}}
    body = k8sproto.encode(pod)
    doc = decode.parse(_request(decode.PROTOBUF), body, "Pod")
    assert doc == pod
    decode.check_kind(doc, kinds.by_kind("Pod"))
    obj = decode.to_object(doc, kinds.by_kind("Pod"), "Strict", [])
    assert to_dict(obj)["spec"] == pod["spec"]
    with pytest.raises(StatusError) as e:
        raw = k8sproto.encode_message("io.k8s.api.core.v1.Pod", {"metadata": {"name": "p"}})
        decode.parse(_request(decode.PROTOBUF), _unknown("v1", "Pod", raw + bytes([0x98, 0x06, 0x01])), "Pod")
    assert e.value.code == 400
    assert e.value.message == ("the object provided is unrecognized (must be of type Pod): strict decoding error: "
                               "unknown field number 99 in io.k8s.api.core.v1.Pod")
    answer = decode.render(_request("", decode.PROTOBUF), decode.negotiate(_request("", decode.PROTOBUF)), pod)
    assert answer.content_type == decode.PROTOBUF
    assert isinstance(answer.body, bytes) and k8sproto.decode(answer.body) == pod
    status_doc = {"kind": "Status", "apiVersion": "v1", "status": "Success"}  # numbers not learned: JSON
    answer = decode.render(_request("", decode.PROTOBUF), decode.Accept("protobuf"), status_doc)
    assert answer.content_type == "application/json"
