"""The Ingress, IngressClass and NetworkPolicy rows of printers.go and the endpoint text of kubectl's Ingress
describer, on the cases a cluster rarely shows (more than three hosts, a load balancer with several points,
not-ready endpoints)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubemu.api.serialization import from_dict
from kubemu.cli import printers

pytestmark = pytest.mark.unit


def _row(doc: dict[str, Any]) -> list[str]:
    obj = from_dict({"metadata": {"name": "x", "creationTimestamp": "2024-01-02T03:04:05Z"}, **doc})
    _, rows = printers.table(doc["kind"], [obj], now=obj.metadata.creation_timestamp.seconds + 5)
    return rows[0]


def test_ingress_row() -> None:
    rules = [{"host": f"h{i}.example.com"} for i in range(5)] + [{}]
    status = {"loadBalancer": {"ingress": [{"ip": "10.0.0.2"}, {"hostname": "lb.example.com"}, {"ip": "10.0.0.1"},
                                           {"ip": "10.0.0.2"}]}}
    assert _row({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "spec": {"rules": rules,
                 "tls": [{"hosts": ["h0.example.com"]}]}, "status": status}) == [
        "x", "<none>", "h0.example.com,h1.example.com,h2.example.com + 3 more...",
        "10.0.0.1,10.0.0.2,lb.example.com", "80, 443", "5s",
    ]


def test_ingress_class_and_network_policy_rows() -> None:
    assert _row({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                 "spec": {"controller": "example.com/c", "parameters": {"kind": "K", "name": "n"}}}) == [
        "x", "example.com/c", "K/n", "5s"]
    assert _row({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                 "spec": {"podSelector": {"matchExpressions": [{"key": "tier", "operator": "In",
                                                                "values": ["a", "b"]}]}}}) == [
        "x", "tier in (a,b)", "5s"]


def test_endpoint_slices_text() -> None:
    def sl(ports: list[dict[str, Any]], *endpoints: tuple[str, bool | None]) -> Any:
        eps = [{"addresses": [a], "conditions": {} if r is None else {"ready": r}} for a, r in endpoints]
        return from_dict({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "s"},
                          "addressType": "IPv4", "ports": ports, "endpoints": eps})

    web = [{"name": "http", "port": 8080}]
    assert printers.format_endpoint_slices([], {""}) == "<none>"
    assert printers.format_endpoint_slices([sl(web, ("10.0.0.1", True), ("10.0.0.2", False))], {"http"}) \
        == "10.0.0.1:8080"
    assert printers.format_endpoint_slices([sl(web, ("10.0.0.1", None))], {"other"}) == ""
    many = sl(web, *[(f"10.0.0.{i}", True) for i in range(5)])
    assert printers.format_endpoint_slices([many], {"http"}) == "10.0.0.0:8080,10.0.0.1:8080,10.0.0.2:8080 + 2 more..."
    assert printers.format_endpoint_slices([sl([], ("fd00::1", True))], {""}) == "fd00::1"


DESCRIBED: list[dict[str, Any]] = json.loads((Path(__file__).resolve().parent / "data" / "networking_describe.json")
                                             .read_text())
"""Ingresses and NetworkPolicies (the documentation's examples and a few more) as kube-apiserver 1.35 stored them,
the text of each service backend kubectl found (its endpoints, or the service missing), and what
`kubectl describe` printed for each."""


@pytest.mark.parametrize("case", DESCRIBED, ids=lambda c: c["object"]["metadata"]["name"])
def test_describe_is_kubectls(case: dict[str, Any]) -> None:
    backends = {(name, port): text for name, port, text in case["backends"]}
    obj = from_dict(case["object"])
    assert printers.describe(obj, [], now=0, backends=backends) == case["kubectl"]
