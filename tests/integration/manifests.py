"""One small valid manifest per kind, for round trips through the real apiserver: FIXTURES, keyed by kind (the
completeness test fails for a registered kind that has none)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

POD_TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
}
_SELECTOR = {"matchLabels": {"app": "web"}}


def _meta(name: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": {"app": "web"}}


FIXTURES: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "Namespace": lambda name, ns: {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"app": "web"}}},
    "Pod": lambda name, ns: {
        "apiVersion": "v1", "kind": "Pod", "metadata": _meta(name, ns),
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}},
    "Node": lambda name, ns: {
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"app": "web"}},
        "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}}},
    "Event": lambda name, ns: {
        "apiVersion": "v1", "kind": "Event", "metadata": _meta(name, ns), "reason": "Scheduled", "type": "Normal",
        "message": "hello", "involvedObject": {"kind": "Pod", "name": "web", "namespace": ns}},
    "ReplicationController": lambda name, ns: {
        "apiVersion": "v1", "kind": "ReplicationController", "metadata": _meta(name, ns),
        "spec": {"replicas": 2, "selector": {"app": "web"}, "template": POD_TEMPLATE}},
    "ReplicaSet": lambda name, ns: {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": _meta(name, ns),
        "spec": {"replicas": 2, "selector": _SELECTOR, "template": POD_TEMPLATE}},
    "Deployment": lambda name, ns: {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(name, ns),
        "spec": {"replicas": 2, "selector": _SELECTOR, "template": POD_TEMPLATE}},
    "DaemonSet": lambda name, ns: {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": _meta(name, ns),
        "spec": {"selector": _SELECTOR, "template": POD_TEMPLATE}},
    "Job": lambda name, ns: {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": _meta(name, ns),
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "pi", "image": "perl:5.34", "command": ["perl", "-e", "print 1"]}]}}}},
    "Lease": lambda name, ns: {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": _meta(name, ns),
        "spec": {"holderIdentity": "me", "leaseDurationSeconds": 40}},
}


def manifest(kind: str, name: str, namespace: str) -> dict[str, Any]:
    return FIXTURES[kind](name, namespace)
