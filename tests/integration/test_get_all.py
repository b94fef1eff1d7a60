"""`kubectl get all` and `kubemu get all`: the kinds of upstream's `all` category that kubemu serves (pods,
replicationcontrollers, services, daemonsets, deployments, replicasets, jobs), in kube-apiserver's discovery order
(groups by priority, resources by name), and nothing else of a namespace (ConfigMaps, Ingresses, ...)."""

from __future__ import annotations

from typing import Any

import pytest

from kubemu.api import kinds
from kubemu.api.serialization import from_dict
from kubemu.client.client import Client
from tests.integration import test_rest
from tests.integration.manifests import manifest
from tests.support import ApiServer, run_cli

pytestmark = pytest.mark.integration

kubectl = test_rest.kubectl

IN_ALL = ["Pod", "ReplicationController", "Service", "DaemonSet", "Deployment", "ReplicaSet", "Job"]
"""As `kubectl api-resources --categories=all` lists them on kube-apiserver 1.35, less what kubemu does not serve
(statefulsets, horizontalpodautoscalers, cronjobs)."""
NOT_IN_ALL = ["ConfigMap", "Secret", "ServiceAccount", "Ingress", "NetworkPolicy", "Role", "EndpointSlice", "Lease"]


def test_the_all_category_in_discovery_order() -> None:
    assert [k.kind for k in kinds.in_category("all")] == IN_ALL


async def test_get_all_lists_the_all_category_only(
    kubectl: Any, apiserver: ApiServer, client: Client, namespace: str
) -> None:
    empty = kubectl("get", "all", "-n", namespace)
    assert (empty.stdout, empty.stderr) == ("", f"No resources found in {namespace} namespace.\n")
    ours = run_cli("-n", namespace, "get", "all", server=apiserver.address)
    assert (ours.stdout, ours.stderr) == ("", f"No resources found in {namespace} namespace.\n")

    for kind in reversed(IN_ALL + NOT_IN_ALL):  # the order they are made in says nothing of the order they print in
        await client.resource(kind).create(from_dict(manifest(kind, "web", namespace)))
    expected = [
        "pod/web", "replicationcontroller/web", "service/web", "daemonset.apps/web", "deployment.apps/web",
        "replicaset.apps/web", "job.batch/web",
    ]
    assert kubectl("get", "all", "-n", namespace, "-o", "name").stdout.split() == expected
    ours = run_cli("-n", namespace, "get", "all", "-o", "name", server=apiserver.address)
    assert ours.stdout.split() == expected, ours.stderr

    # The tables, one per kind with its kind before each name, as kubectl prints several kinds.
    theirs = kubectl("get", "all", "-n", namespace).stdout
    ours = run_cli("-n", namespace, "get", "all", server=apiserver.address)
    assert [line.split()[0] for line in ours.stdout.splitlines() if line] == [
        line.split()[0] for line in theirs.splitlines() if line
    ]
    assert [line.split()[0] for line in theirs.splitlines() if line and not line.startswith("NAME")] == expected
