"""One small valid manifest per kind, for round trips through the real apiserver: FIXTURES, keyed by kind (the
completeness test fails for a registered kind that has none)."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

POD_TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
}
_SELECTOR = {"matchLabels": {"app": "web"}}


def _address_of(name: str) -> str:
    """An IP address in 10.255.0.0/16, outside the service range, one per name (an IPAddress is named by its IP)."""
    h = zlib.crc32(name.encode())
    return f"10.255.{(h >> 8) & 0xFF}.{h & 0xFF or 1}"


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
    "ConfigMap": lambda name, ns: {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(name, ns), "data": {"key": "value"}},
    "Secret": lambda name, ns: {
        "apiVersion": "v1", "kind": "Secret", "metadata": _meta(name, ns), "type": "Opaque",
        "data": {"password": "czNjcjN0"}},
    "ServiceAccount": lambda name, ns: {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, ns)},
    "Service": lambda name, ns: {
        "apiVersion": "v1", "kind": "Service", "metadata": _meta(name, ns),
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
    "Endpoints": lambda name, ns: {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": _meta(name, ns),
        "subsets": [{"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 8080}]}]},
    "PersistentVolume": lambda name, ns: {
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "hostPath": {"path": "/mnt/data"}}},
    "PersistentVolumeClaim": lambda name, ns: {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _meta(name, ns),
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
    "LimitRange": lambda name, ns: {
        "apiVersion": "v1", "kind": "LimitRange", "metadata": _meta(name, ns),
        "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "250m"}}]}},
    "ResourceQuota": lambda name, ns: {
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": _meta(name, ns),
        "spec": {"hard": {"pods": "10"}}},
    "EndpointSlice": lambda name, ns: {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": _meta(name, ns),
        "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.0.5"]}], "ports": [{"port": 8080}]},
    "Ingress": lambda name, ns: {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": _meta(name, ns),
        "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}},
    "IngressClass": lambda name, ns: {
        "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": name},
        "spec": {"controller": "example.com/ingress-controller"}},
    "NetworkPolicy": lambda name, ns: {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": _meta(name, ns),
        "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]}},
    "IPAddress": lambda name, ns: {
        "apiVersion": "networking.k8s.io/v1", "kind": "IPAddress", "metadata": {"name": _address_of(name)},
        "spec": {"parentRef": {"group": "", "resource": "services", "namespace": "default", "name": name}}},
    "ServiceCIDR": lambda name, ns: {
        "apiVersion": "networking.k8s.io/v1", "kind": "ServiceCIDR", "metadata": {"name": name},
        "spec": {"cidrs": ["10.250.0.0/24"]}},
    "Role": lambda name, ns: {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": _meta(name, ns),
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]},
    "ClusterRole": lambda name, ns: {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]},
    "RoleBinding": lambda name, ns: {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": _meta(name, ns),
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": ns}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"}},
    "ClusterRoleBinding": lambda name, ns: {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "subjects": [{"kind": "User", "name": "jane", "apiGroup": "rbac.authorization.k8s.io"}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}},
    "PriorityClass": lambda name, ns: {
        "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
        "metadata": {"name": name, "labels": {"app": "web"}}, "value": 1000, "description": "a test class"},
    "StorageClass": lambda name, ns: {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": name},
        "provisioner": "example.com/fast"},
    "CSINode": lambda name, ns: {
        "apiVersion": "storage.k8s.io/v1", "kind": "CSINode", "metadata": {"name": name},
        "spec": {"drivers": []}},
    "CSIDriver": lambda name, ns: {
        "apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": name}, "spec": {}},
}


def manifest(kind: str, name: str, namespace: str) -> dict[str, Any]:
    return FIXTURES[kind](name, namespace)
