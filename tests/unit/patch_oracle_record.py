# ruff: noqa: E501
"""Records what a real kube-apiserver answers to the patches in tests/unit/test_patch_*.py, into
tests/unit/data/patch_oracle.json: run by hand against `../shared/k8s-peer/peer up` (not a test).

    ../shared/k8s-peer/peer up && .venv/bin/python tests/unit/patch_oracle_record.py

Each case is a list of steps (create, patch of a type, server-side apply) sent over HTTPS with the peer's admin
certificate; each step keeps the request and the answer (status code and body) as they were.
"""

from __future__ import annotations

import copy
import http.client
import json
import os
import re
import ssl
import sys
import time
from pathlib import Path
from typing import Any

PEER = Path(os.environ.get("KUBEMU_PEER_DIR", Path.home() / ".cache" / "k8s-peer"))
NS = "patch-oracle"
OUT = Path(__file__).parent / "data" / "patch_oracle.json"

CONTENT_TYPES = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}


class Peer:
    def __init__(self) -> None:
        pki = PEER / "state" / "pki"
        self.ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        m = re.search(r"127\.0\.0\.1:(\d+)", (PEER / "kubeconfig").read_text())
        assert m, "no peer kubeconfig: run peer up"
        self.port = int(m[1])

    def request(self, method: str, path: str, body: Any = None, ctype: str = "application/json") -> tuple[int, Any]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=30)
        data = body if isinstance(body, str) else (None if body is None else json.dumps(body))
        conn.request(method, path, body=None if data is None else data.encode(),
                     headers={"Content-Type": ctype, "Accept": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw.decode()


def collection(kind: str) -> str:
    return {"ConfigMap": f"/api/v1/namespaces/{NS}/configmaps", "Pod": f"/api/v1/namespaces/{NS}/pods",
            "Deployment": f"/apis/apps/v1/namespaces/{NS}/deployments"}[kind]


def container(name: str, image: str, **extra: Any) -> dict[str, Any]:
    """A container with every field the apiserver defaults, so that a patch that adds it is not re-defaulted."""
    c = {"name": name, "image": image, "resources": {}, "terminationMessagePath": "/dev/termination-log",
         "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}
    c.update(extra)
    return c


def deployment(name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}},
                     **spec}}


def configmap(name: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **fields}


# A step: ("create", body, manager) | (type, patch, manager[, force]) with type json|merge|strategic|apply.
CASES: dict[str, tuple[str, str, list[tuple[Any, ...]]]] = {}


def case(name: str, kind: str, obj_name: str, steps: list[tuple[Any, ...]]) -> None:
    CASES[name] = (kind, obj_name, steps)


# ---- JSON patch ---------------------------------------------------------------------------------------------
case("json-ops", "ConfigMap", "json-ops", [
    ("create", configmap("json-ops", data={"a": "1", "b": "2"}, metadata={"name": "json-ops", "labels": {"x": "1"}})),
    ("json", [{"op": "add", "path": "/data/c", "value": "3"}, {"op": "replace", "path": "/data/a", "value": "9"},
              {"op": "remove", "path": "/data/b"}, {"op": "test", "path": "/data/c", "value": "3"}]),
    ("json", [{"op": "copy", "from": "/data/a", "path": "/data/d"}, {"op": "move", "from": "/data/c", "path": "/data/e"},
              {"op": "add", "path": "/metadata/labels/y~1z", "value": "2"}]),
    ("json", [{"op": "test", "path": "/data/a", "value": "wrong"}]),
    ("json", [{"op": "remove", "path": "/data/missing"}]),
    ("json", [{"op": "replace", "path": "/data/missing", "value": "x"}]),
    ("json", [{"op": "add", "path": "/metadata/annotations/k", "value": "v"}]),
    ("json", [{"op": "move", "from": "/data/missing", "path": "/data/z"}]),
    ("json", [{"op": "bogus", "path": "/data/a"}]),
    ("json", [{"op": "add", "path": "/data/a~1b", "value": "slash"}, {"op": "add", "path": "/data/t~0", "value": "tilde"}]),
    ("json", {"op": "add"}),
])
case("json-lists", "Deployment", "json-lists", [
    ("create", deployment("json-lists", [container("app", "nginx:1", args=["a", "b"])])),
    ("json", [{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "c"},
              {"op": "add", "path": "/spec/template/spec/containers/0/args/0", "value": "first"},
              {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "nginx:2"}]),
    ("json", [{"op": "remove", "path": "/spec/template/spec/containers/0/args/1"}]),
    ("json", [{"op": "add", "path": "/spec/template/spec/containers/0/args/9", "value": "x"}]),
    ("json", [{"op": "test", "path": "/spec/replicas", "value": 1}, {"op": "replace", "path": "/spec/replicas", "value": 3}]),
])
# ---- JSON merge patch ---------------------------------------------------------------------------------------
case("merge", "ConfigMap", "merge", [
    ("create", configmap("merge", data={"a": "1", "b": "2"}, metadata={"name": "merge", "labels": {"x": "1", "y": "2"}})),
    ("merge", {"data": {"a": None, "c": "3"}, "metadata": {"labels": {"x": None, "z": "3"}, "annotations": {"n": "1"}}}),
    ("merge", {"data": None}),
    ("merge", {"metadata": {"finalizers": ["example.com/a", "example.com/b"]}}),
    ("merge", {"metadata": {"finalizers": ["example.com/c"]}}),
    ("merge", {"metadata": {"finalizers": None}}),
    ("merge", [1]),
])
case("merge-lists", "Deployment", "merge-lists", [
    ("create", deployment("merge-lists", [container("app", "nginx:1"), container("side", "busybox")])),
    ("merge", {"spec": {"template": {"spec": {"containers": [container("only", "redis")]}}}}),
    ("merge", {"spec": {"replicas": 2, "template": {"metadata": {"labels": {"tier": "web"}}}}}),
])
# ---- strategic merge patch ----------------------------------------------------------------------------------
case("smp-containers", "Deployment", "smp-containers", [
    ("create", deployment("smp-containers", [container("app", "nginx:1", ports=[{"containerPort": 80, "protocol": "TCP"}],
                                                       env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]),
                                             container("side", "busybox", args=["sleep", "1"])])),
    ("strategic", {"spec": {"template": {"spec": {"containers": [
        {"name": "side", "image": "busybox:2", "args": ["sleep", "2"]},
        container("third", "redis")]}}}}),
    ("strategic", {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "env": [{"name": "B", "value": "b"}, {"name": "C", "value": "3"}, {"name": "A", "$patch": "delete"}],
         "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]}}}}),
    ("strategic", {"spec": {"template": {"spec": {"containers": [{"name": "third", "$patch": "delete"}]}}}}),
    ("strategic", {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "side"}, {"name": "app"}],
        "containers": [{"name": "side", "image": "busybox:3"}]}}}}),
    ("strategic", {"spec": {"template": {"spec": {"containers": [container("solo", "redis:7"), {"$patch": "replace"}]}}}}),
    ("strategic", {"spec": {"template": {"spec": {"containers": [{"image": "no-name"}]}}}}),
    ("strategic", {"spec": {"template": {"spec": {"containers": [{"name": "solo", "$patch": "merge"}]}}}}),
    ("strategic", {"spec": {"template": {"spec": {"containers": [{"name": "solo", "$patch": "bogus"}]}}}}),
    ("strategic", {"spec": {"template": {"metadata": {"$patch": "bogus"}}}}),
])
case("smp-maps", "Deployment", "smp-maps", [
    ("create", deployment("smp-maps", [container("app", "nginx:1")])),
    ("strategic", {"metadata": {"labels": {"app": None, "tier": "web"}, "annotations": {"a": "1", "b": "2"}}}),
    ("strategic", {"metadata": {"annotations": {"$patch": "replace", "c": "3"}}}),
    ("strategic", {"metadata": {"annotations": {"$patch": "delete"}}}),
    ("strategic", {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
    ("strategic", {"spec": {"strategy": {"$retainKeys": ["type", "rollingUpdate"], "type": "RollingUpdate",
                                         "rollingUpdate": {"maxSurge": 2, "maxUnavailable": "25%"}}}}),
    ("strategic", {"spec": {"strategy": {"$retainKeys": "type"}}}),
    ("strategic", {"spec": {"strategy": {"$retainKeys": ["rollingUpdate"], "type": "Recreate"}}}),
    ("strategic", {"spec": {"template": {"spec": {"containers": [{"name": "app", "args": ["x", "y"]}]}}}}),
    ("strategic", {"spec": {"template": {"spec": {"containers": [{"name": "app", "args": ["z"]}]}}}}),
    ("strategic", [1]),
])
case("smp-primitive", "ConfigMap", "smp-primitive", [
    ("create", configmap("smp-primitive", data={"k": "v"},
                         metadata={"name": "smp-primitive", "finalizers": ["example.com/a", "example.com/b", "example.com/c"]})),
    ("strategic", {"metadata": {"finalizers": ["example.com/d", "example.com/a"]}}),
    ("strategic", {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/b", "example.com/zz"]}}),
    ("strategic", {"metadata": {"$setElementOrder/finalizers": ["example.com/c", "example.com/a", "example.com/d"],
                                "finalizers": ["example.com/a"]}}),
    ("strategic", {"metadata": {"finalizers": ["example.com/e"], "$deleteFromPrimitiveList/finalizers": ["example.com/a"]}}),
    ("strategic", {"metadata": {"$deleteFromPrimitiveList/finalizers": "example.com/c"}}),
    ("strategic", {"metadata": {"$deleteFromPrimitiveList/labels": ["x"]}}),
    ("strategic", {"metadata": {"finalizers": [["x"]]}}),
    ("strategic", {"metadata": {"finalizers": None}}),
])
# ---- server-side apply --------------------------------------------------------------------------------------
case("ssa-configmap", "ConfigMap", "ssa-cm", [
    ("apply", configmap("ssa-cm", data={"a": "1", "b": "2"}, metadata={"name": "ssa-cm", "labels": {"x": "1"}}), "alice"),
    ("apply", configmap("ssa-cm", data={"a": "1", "b": "2"}, metadata={"name": "ssa-cm", "labels": {"x": "1"}}), "alice"),
    ("apply", configmap("ssa-cm", data={"a": "1"}, metadata={"name": "ssa-cm", "labels": {"x": "1"}}), "alice"),
    ("apply", configmap("ssa-cm", data={"a": "1", "c": "3"}), "bob"),
    ("apply", configmap("ssa-cm", data={"a": "2"}), "bob"),
    ("apply", configmap("ssa-cm", data={"a": "2", "c": "4"}, metadata={"name": "ssa-cm", "labels": {"x": "2"}}), "bob"),
    ("apply", configmap("ssa-cm", data={"a": "2"}, metadata={"name": "ssa-cm", "labels": {"x": "2"}}), "bob", True),
    ("apply", configmap("ssa-cm", data={"z": "1"}), "alice"),
    ("merge", {"data": {"z": "2", "m": "1"}}, "kubectl-patch"),
    ("apply", configmap("ssa-cm", data={"z": "1"}), "alice"),
    ("apply", configmap("ssa-cm", metadata={"name": "ssa-cm", "finalizers": ["example.com/f"]}), "carol"),
    ("apply", configmap("ssa-cm", metadata={"name": "ssa-cm", "finalizers": ["example.com/g"]}), "dave"),
    ("apply", configmap("ssa-cm", metadata={"name": "ssa-cm"}), "carol"),
    ("apply", configmap("ssa-cm", metadata={"name": "ssa-cm"}), "dave"),
    ("apply", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa-cm", "managedFields": [
        {"manager": "x", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {}}]}}, "alice"),
    ("apply", {"apiVersion": "v2", "kind": "ConfigMap", "metadata": {"name": "ssa-cm"}}, "alice"),
])
case("ssa-deployment", "Deployment", "ssa-deploy", [
    ("create", deployment("ssa-deploy", [container("app", "nginx:1")]), "kubectl-client-side-apply"),
    ("apply", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa-deploy"},
               "spec": {"replicas": 3}}, "hpa"),
    ("apply", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa-deploy"},
               "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}},
                        "revisionHistoryLimit": 3, "paused": True}}, "hpa"),
    ("apply", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa-deploy"},
               "spec": {"replicas": 3}}, "hpa", True),
    ("apply", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa-deploy"},
               "spec": {"template": {"spec": {"containers": [
                   {"name": "side", "image": "busybox", "args": ["sleep", "1"], "ports": [{"containerPort": 90}]}]}}}}, "sidecar"),
    ("strategic", {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox:2"}]}}}}, "kubectl-edit"),
    ("apply", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa-deploy"},
               "spec": {"template": {"spec": {"containers": [
                   {"name": "side", "image": "busybox", "args": ["sleep", "1"], "ports": [{"containerPort": 90}]}]}}}},
     "sidecar"),
    ("apply", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa-deploy"},
               "spec": {"template": {"spec": {"containers": [
                   {"name": "side", "image": "busybox", "args": ["sleep", "1"], "ports": [{"containerPort": 90}]}]}}}},
     "sidecar", True),
    ("apply", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa-deploy"}, "spec": {}}, "sidecar"),
    ("apply", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa-deploy"},
               "spec": {"template": {"spec": {"tolerations": [{"key": "k", "operator": "Exists"}],
                                              "nodeSelector": {"disk": "ssd"}}}}}, "sched"),
])
case("ssa-shared", "ConfigMap", "ssa-shared", [
    ("apply", configmap("ssa-shared", data={"a": "1", "b": "1"}), "alice"),
    ("apply", configmap("ssa-shared", data={"a": "1"}), "bob"),
    ("apply", configmap("ssa-shared", data={"b": "1"}), "alice"),
    ("apply", configmap("ssa-shared", data={"c": "1"}), "bob"),
    ("merge", {"data": {"b": None}}, "kubectl-patch"),
    ("apply", configmap("ssa-shared", data={"c": "1", "d": "1"}), "alice"),
    ("apply", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa-shared"}}, "alice"),
])
case("ssa-lists", "Deployment", "ssa-lists", [
    ("apply", deployment("ssa-lists", [{"name": "app", "image": "nginx"}]), "owner"),
    ("apply", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa-lists"},
               "spec": {"template": {"spec": {"tolerations": [{"key": "a", "operator": "Exists"}],
                                              "containers": [{"name": "app", "env": [{"name": "X", "value": "1"}]}]}}}},
     "tuner"),
    ("apply", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa-lists"},
               "spec": {"template": {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}}}}, "other"),
    ("apply", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa-lists"},
               "spec": {"template": {"spec": {"containers": [{"name": "x", "image": "a"}, {"name": "x", "image": "b"}]}}}},
     "dup"),
    ("merge-status", {"status": {"observedGeneration": 7, "replicas": 2}}, "status-writer"),
    ("apply", deployment("ssa-lists", [{"name": "app", "image": "nginx:2"}, {"name": "side", "image": "busybox"}]),
     "owner"),
    ("apply", deployment("ssa-lists", [{"name": "side", "image": "busybox"}]), "owner"),
    ("apply", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa-lists"},
               "spec": {"replicas": "three"}}, "typo"),
])
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_CSA = deployment("ssa-kubectl", [{"name": "app", "image": "nginx"}])
case("ssa-kubectl", "Deployment", "ssa-kubectl", [
    # What `kubectl apply` (client-side) creates: its configuration in the annotation, its manager's Update entry.
    ("create", {**_CSA, "metadata": {**_CSA["metadata"], "annotations": {
        LAST_APPLIED: json.dumps(_CSA, sort_keys=True, separators=(",", ":")) + "\n"}}}, "kubectl-client-side-apply"),
    # `kubectl apply --server-side` of a changed configuration: no conflict on what the client-side apply set.
    ("apply", deployment("ssa-kubectl", [{"name": "app", "image": "nginx:2"}]) | {"spec": {
        **deployment("ssa-kubectl", [{"name": "app", "image": "nginx:2"}])["spec"], "replicas": 2}}, "kubectl"),
    ("merge", {"spec": {"replicas": 5}}, "kubectl-scale"),
    ("apply", deployment("ssa-kubectl", [{"name": "app", "image": "nginx:3"}]), "kubectl"),
    ("apply", deployment("ssa-kubectl", [{"name": "app", "image": "nginx:3"}]), "someone-else"),
])
case("ssa-create-pod", "Pod", "ssa-pod", [
    ("create", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ssa-pod", "labels": {"app": "p"}},
                "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}],
                                         "env": [{"name": "E", "value": "1"}]}],
                         "volumes": [{"name": "v", "emptyDir": {}}]}}, "kubectl-create"),
    ("apply", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ssa-pod", "labels": {"app": "p", "tier": "x"}},
               "spec": {"containers": [{"name": "c", "image": "nginx"}]}}, "applier"),
    ("strategic", {"metadata": {"labels": {"tier": "y"}}}, "kubectl-label"),
    ("apply", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ssa-pod", "labels": {"app": "q", "tier": "x"}},
               "spec": {"containers": [{"name": "c", "image": "nginx"}]}}, "applier"),
])


def run_step(peer: Peer, kind: str, obj_name: str, step: tuple[Any, ...]) -> dict[str, Any]:
    op, body = step[0], step[1]
    manager = step[2] if len(step) > 2 else ""
    force = bool(step[3]) if len(step) > 3 else False
    query = []
    if manager:
        query.append(f"fieldManager={manager}")
    if force:
        query.append("force=true")
    qs = ("?" + "&".join(query)) if query else ""
    before = None
    if op == "create":
        status, answer = peer.request("POST", collection(kind) + qs, body)
    else:
        # What the server patched: other writers (the peer's scheduler on a pod) may have changed it since.
        got, before = peer.request("GET", f"{collection(kind)}/{obj_name}")
        if got != 200:
            before = None
        sub, _, patch_type = ("status", "", op.removesuffix("-status")) if op.endswith("-status") else ("", "", op)
        url = f"{collection(kind)}/{obj_name}" + (f"/{sub}" if sub else "") + qs
        status, answer = peer.request("PATCH", url, body, CONTENT_TYPES[patch_type])
    return {"op": op, "body": copy.deepcopy(body), "manager": manager, "force": force, "before": before,
            "status": status, "answer": answer}


def main() -> int:
    peer = Peer()
    status, answer = peer.request("GET", "/version")
    assert status == 200, answer
    peer.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    # Pods need the namespace's default ServiceAccount, which the peer's controller manager may not be there to make.
    peer.request("POST", f"/api/v1/namespaces/{NS}/serviceaccounts",
                 {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})
    only = set(sys.argv[1:])
    recorded: dict[str, Any] = json.loads(OUT.read_text()) if OUT.exists() and only else {}
    recorded["_peer"] = answer["gitVersion"]
    for name, (kind, obj_name, steps) in CASES.items():
        if only and name not in only:
            continue
        peer.request("DELETE", f"{collection(kind)}/{obj_name}?gracePeriodSeconds=0")
        for _ in range(50):
            if peer.request("GET", f"{collection(kind)}/{obj_name}")[0] == 404:
                break
            peer.request("PATCH", f"{collection(kind)}/{obj_name}", {"metadata": {"finalizers": None}},
                         CONTENT_TYPES["merge"])
            time.sleep(0.2)
        out = []
        for step in steps:
            out.append(run_step(peer, kind, obj_name, step))
            # Managed-field times have one-second resolution: a pause keeps the entries' order unambiguous.
            time.sleep(1.05)
        recorded[name] = {"kind": kind, "steps": out}
        peer.request("PATCH", f"{collection(kind)}/{obj_name}", {"metadata": {"finalizers": None}},
                     CONTENT_TYPES["merge"])
        print(name, [s["status"] for s in out])
    OUT.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
