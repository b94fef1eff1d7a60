"""The REST face's documents built from the kind registry and the schema: discovery (plain and aggregated),
OpenAPI v2/v3 and Table column definitions (the CLI's own)."""

from __future__ import annotations

import json

import pytest

from apiserver.rest import discovery, openapi, tables
from kubemu.api import kinds
from kubemu.cli import printers

pytestmark = pytest.mark.unit


def test_every_kind_is_discovered_with_its_subresources() -> None:
    for info in kinds.all_kinds():
        doc = discovery.api_resource_list(info.group, info.version)
        assert doc is not None
        names = {r["name"] for r in doc["resources"]}
        assert info.plural in names
        assert {f"{info.plural}/{s}" for s in info.subresources} <= names
    assert discovery.api_resource_list("nothing", "v1") is None


def test_aggregated_matches_the_plain_form() -> None:
    for core in (True, False):
        for item in discovery.aggregated(core)["items"]:
            group = item["metadata"].get("name", "")
            for version in item["versions"]:
                plain = discovery.api_resource_list(group, version["version"])
                assert plain is not None
                top = {r["name"] for r in plain["resources"] if "/" not in r["name"]}
                assert {r["resource"] for r in version["resources"]} == top


def test_openapi_v3_refs_all_resolve_and_carry_the_merge_keys() -> None:
    for group, versions in discovery.group_versions().items():
        for version in versions:
            raw = openapi.v3(group, version)
            assert raw is not None
            doc = json.loads(raw)
            schemas = doc["components"]["schemas"]
            refs = {r.rsplit("/", 1)[1] for r in openapi._refs(doc)}
            assert refs <= set(schemas), refs - set(schemas)
    core = json.loads(openapi.v3("", "v1") or b"")
    containers = core["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-list-map-keys"] == ["name"]
    # kubectl's query parameter verifier looks for fieldValidation on each kind's patch.
    patch = core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]
    assert {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}} in patch["parameters"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "", "version": "v1", "kind": "Pod"}


def test_openapi_v2_refs_resolve() -> None:
    doc = json.loads(openapi.v2())
    refs = {r.rsplit("/", 1)[1] for r in openapi._refs(doc)}
    assert refs <= set(doc["definitions"])
    assert all(r.startswith("#/definitions/") for r in openapi._refs(doc))


def test_table_columns_are_the_cli_columns() -> None:
    for info in kinds.all_kinds():
        columns, _ = printers.table(info.kind, (), now=0)
        defs = tables.column_definitions(info.kind)
        assert [d["name"] for d in defs] == [c.name for c in columns]
        assert [d["priority"] for d in defs] == [c.priority for c in columns]
    deployment = {d["name"]: d["type"] for d in tables.column_definitions("Deployment")}
    assert deployment["Up-to-date"] == "integer" and deployment["Ready"] == "string"
