"""The garbage collector and `kubemu delete --cascade` for every kind of issue #24: objects of each kind owned by
a Deployment (namespaced ones) or by a CSIDriver (cluster-scoped ones, whose owners must be cluster-scoped too) go
with their owner in the background, hold a foreground delete until they are gone, and are orphaned (their
ownerReferences removed) by an orphan delete. Real processes: an apiserver, the controller manager, the CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubemu.api import kinds
from kubemu.api.serialization import from_dict
from kubemu.client import errors
from kubemu.client.client import Client
from tests.integration import test_controllers
from tests.integration.manifests import manifest
from tests.support import ApiServer, ControllersProcess, run_cli, unique, until

pytestmark = pytest.mark.integration

cluster_api = test_controllers.cluster_api
api = test_controllers.api
controllers = test_controllers.controllers

NEW_KINDS = [
    "ConfigMap", "Secret", "ServiceAccount", "Service", "Endpoints", "PersistentVolume", "PersistentVolumeClaim",
    "LimitRange", "ResourceQuota", "EndpointSlice", "Ingress", "IngressClass", "NetworkPolicy", "IPAddress",
    "ServiceCIDR", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "PriorityClass", "StorageClass",
    "CSINode", "CSIDriver",
]
NAMESPACED = [k for k in NEW_KINDS if kinds.by_kind(k).namespaced]
CLUSTER = [k for k in NEW_KINDS if not kinds.by_kind(k).namespaced and k != "CSIDriver"]


@pytest.fixture
async def _processes(cluster_api: ApiServer, controllers: ControllersProcess) -> AsyncIterator[ApiServer]:
    # The collector's graph is built from its informers: objects made while they still list would race the
    # delete (an orphan delete only orphans the dependents the graph knows).
    await until(lambda: '"controllers.synced"' in controllers.logs(), 30, describe=controllers.logs)
    yield cluster_api


async def _dependents(api: Client, owner: Any, owner_kind: str, dependent_kinds: list[str]) -> list[tuple[str, str]]:
    """One object of each kind, owned by `owner` (blockOwnerDeletion, so a foreground delete waits for it)."""
    ref = {"apiVersion": kinds.by_kind(owner_kind).api_version, "kind": owner_kind, "name": owner.metadata.name,
           "uid": owner.metadata.uid, "blockOwnerDeletion": True}
    made = []
    for kind in dependent_kinds:
        doc = manifest(kind, unique(kind.lower()), "default")
        doc["metadata"]["ownerReferences"] = [ref]
        created = await api.resource(kind).create(from_dict(doc))
        made.append((kind, created.metadata.name))
    return made


async def _left(api: Client, made: list[tuple[str, str]]) -> dict[str, Any]:
    """The dependents still there and not being deleted, by kind."""
    out = {}
    for kind, name in made:
        ns = "default" if kinds.by_kind(kind).namespaced else None
        try:
            obj = await api.resource(kind).get(name, ns)
        except errors.NotFound:
            continue
        if not obj.metadata.HasField("deletion_timestamp"):
            out[kind] = obj
    return out


async def _gone(api: Client, kind: str, name: str, ns: str | None) -> bool:
    try:
        await api.resource(kind).get(name, ns)
    except errors.NotFound:
        return True
    return False


async def _check(api: Client, server: ApiServer, controllers: ControllersProcess, owner_kind: str, owner: Any,
                 made: list[tuple[str, str]], cascade: str) -> None:
    ns = "default" if kinds.by_kind(owner_kind).namespaced else None
    args = ["-n", ns] if ns else []
    r = run_cli(*args, "delete", kinds.by_kind(owner_kind).resource, owner.metadata.name, f"--cascade={cascade}",
                server=server.address)
    assert r.returncode == 0, r.stderr
    await until(lambda: _gone(api, owner_kind, owner.metadata.name, ns), 30, describe=controllers.logs)

    async def settled() -> bool:
        left = await _left(api, made)
        if cascade == "orphan":  # every dependent stays, with no owner left to name
            return len(left) == len(made) and not any(o.metadata.owner_references for o in left.values())
        return not left

    await until(settled, 30, describe=controllers.logs)


@pytest.mark.parametrize("cascade", ["background", "foreground", "orphan"])
async def test_a_deployment_takes_its_dependents_of_every_new_kind_with_it(
    api: Client, _processes: ApiServer, controllers: ControllersProcess, cascade: str
) -> None:
    owner = await api.deployments.create(from_dict(manifest("Deployment", unique("owner"), "default")))
    made = await _dependents(api, owner, "Deployment", NAMESPACED)
    await _check(api, _processes, controllers, "Deployment", owner, made, cascade)


@pytest.mark.parametrize("cascade", ["background", "foreground", "orphan"])
async def test_a_cluster_scoped_owner_takes_its_cluster_scoped_dependents_with_it(
    api: Client, _processes: ApiServer, controllers: ControllersProcess, cascade: str
) -> None:
    owner = await api.resource("CSIDriver").create(from_dict(manifest("CSIDriver", unique("owner"), "")))
    made = await _dependents(api, owner, "CSIDriver", CLUSTER)
    await _check(api, _processes, controllers, "CSIDriver", owner, made, cascade)
