"""Ingress, IngressClass and NetworkPolicy validation and defaulting as kube-apiserver 1.35's.

data/networking_validation.json holds bad objects and the causes kube-apiserver 1.35 (../shared/k8s-peer) answered
for each when created with dryRun=All: every rule of pkg/apis/networking/validation these kinds have, most of them
broken at once, each in upstream's words and order.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from apiserver.apis.install import default, validate, validate_update
from apiserver.apis.install import for_kind as install_strategy
from apiserver.apis.networking.networkpolicy import parse_cidr
from kubemu.api.serialization import from_dict, to_dict

pytestmark = pytest.mark.unit

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parent / "data" / "networking_validation.json").read_text()
)


def _obj(doc: dict[str, Any]) -> Any:
    doc = copy.deepcopy(doc)
    if doc["kind"] != "IngressClass":
        doc["metadata"]["namespace"] = "default"
    obj = from_dict(doc)
    default(obj)
    return obj


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['object']['kind']}-{CASES.index(c)}")
def test_causes_are_kube_apiservers(case: dict[str, Any]) -> None:
    assert [str(e) for e in validate(_obj(case["object"]))] == case["causes"]


def test_network_policy_defaults() -> None:
    np = _obj({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "p"},
        "spec": {"podSelector": {}, "ingress": [{}], "egress": [{"ports": [{"port": 53}]}]},
    })
    spec = to_dict(np)["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["egress"][0]["ports"] == [{"port": 53, "protocol": "TCP"}]
    only_ingress = _obj({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "p"},
        "spec": {"podSelector": {}},
    })
    assert to_dict(only_ingress)["spec"]["policyTypes"] == ["Ingress"]


def test_ingress_class_parameters_default_to_the_cluster_scope_and_the_controller_is_immutable() -> None:
    doc = {
        "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "c"},
        "spec": {"controller": "example.com/a", "parameters": {"kind": "K", "name": "n"}},
    }
    old = _obj(doc)
    assert to_dict(old)["spec"]["parameters"]["scope"] == "Cluster"
    new = copy.deepcopy(old)
    new.spec.controller = "example.com/b"
    assert [str(e) for e in validate_update(new, old)] == [
        'spec.controller: Invalid value: "example.com/b": field is immutable'
    ]


def test_cidrs_parse_as_go_parses_them_sloppily() -> None:
    assert str(parse_cidr("010.0.0.1/8")) == "10.0.0.0/8"  # leading zeros, host bits: a legacy field takes both
    assert str(parse_cidr("fd00::1/64")) == "fd00::/64"
    for bad in ("10.0.0.0", "10.0.0.0/33", "x/8", "10.0.0.0/-1", "256.0.0.0/8"):
        assert parse_cidr(bad) is None, bad


def test_the_class_annotation_must_match_on_create_only() -> None:
    doc = {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "i", "annotations": {"kubernetes.io/ingress.class": "a"}},
        "spec": {"ingressClassName": "b", "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}},
    }
    assert [str(e) for e in validate(_obj(doc))] == [
        'annotations.kubernetes.io/ingress.class: Invalid value: "a": must match `ingressClassName` when both are '
        "specified"
    ]
    old = _obj({**doc, "spec": {**doc["spec"], "ingressClassName": "a"}})
    new = _obj(doc)
    new.metadata.uid = old.metadata.uid
    assert validate_update(new, old) == []
    assert install_strategy("Ingress").validate(new) == []
