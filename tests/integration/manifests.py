"""One small valid manifest per kind, for round trips through the real apiserver."""

from __future__ import annotations

from typing import Any

POD_TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
}


def manifest(kind: str, name: str, namespace: str) -> dict[str, Any]:
    meta = {"name": name, "namespace": namespace, "labels": {"app": "web"}}
    selector = {"matchLabels": {"app": "web"}}
    return {
        "Namespace": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"app": "web"}}},
        "Pod": {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}},
        "Node": {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"app": "web"}},
                 "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}}},
        "Event": {"apiVersion": "v1", "kind": "Event", "metadata": meta, "reason": "Scheduled", "type": "Normal",
                  "message": "hello", "involvedObject": {"kind": "Pod", "name": "web", "namespace": namespace}},
        "ReplicationController": {"apiVersion": "v1", "kind": "ReplicationController", "metadata": meta,
                                  "spec": {"replicas": 2, "selector": {"app": "web"}, "template": POD_TEMPLATE}},
        "ReplicaSet": {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta,
                       "spec": {"replicas": 2, "selector": selector, "template": POD_TEMPLATE}},
        "Deployment": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
                       "spec": {"replicas": 2, "selector": selector, "template": POD_TEMPLATE}},
        "DaemonSet": {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta,
                      "spec": {"selector": selector, "template": POD_TEMPLATE}},
        "Job": {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
                "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                    {"name": "pi", "image": "perl:5.34", "command": ["perl", "-e", "print 1"]}]}}}},
        "Lease": {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
                  "spec": {"holderIdentity": "me", "leaseDurationSeconds": 40}},
    }[kind]
