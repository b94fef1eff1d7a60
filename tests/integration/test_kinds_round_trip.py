"""Every registered kind, with its fixture, through create, get, list, watch, update and delete against a real
apiserver: what tests/unit/test_kinds_complete.py checks statically, end to end."""

from __future__ import annotations

import asyncio

import pytest

from kubemu.api import kinds
from kubemu.api.serialization import from_dict
from kubemu.client import errors
from kubemu.client.client import Client
from tests.integration.manifests import FIXTURES
from tests.support import unique

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("kind", [k.kind for k in kinds.all_kinds()])
async def test_every_kind_round_trips(client: Client, namespace: str, kind: str) -> None:
    assert kind in FIXTURES, f"{kind}: no fixture in tests/integration/manifests.py FIXTURES"
    rc = client.resource(kind)
    name = unique(kind.lower())
    ns = namespace if rc.info.namespaced else None
    created = await rc.create(from_dict(FIXTURES[kind](name, namespace)))
    name = created.metadata.name  # an IPAddress is named by its address, whatever the test asked
    assert created.metadata.uid and created.metadata.resource_version.isdigit(), kind

    assert await rc.get(name, ns) == created
    listed = await rc.list(ns, field_selector=f"metadata.name={name}")
    assert [o.metadata.name for o in listed.items] == [name], kind

    created.metadata.labels["tier"] = "front"
    updated = await rc.update(created)
    assert updated.metadata.labels["tier"] == "front"
    deleted = await rc.delete(name, ns)
    terminates = kind == "Namespace"
    if terminates:
        # A namespace turns Terminating; with no namespace controller here to empty it, finalize it by hand.
        del deleted.spec.finalizers[:]
        await client.namespaces.finalize(deleted)
    with pytest.raises(errors.NotFound):
        await rc.get(name, ns)

    # The watch from the create's revision replays what happened since, in order.
    seen: list[tuple[str, str]] = []
    async with asyncio.timeout(10):
        async for ev in rc.watch(ns, resource_version=created.metadata.resource_version,
                                 field_selector=f"metadata.name={name}"):
            assert ev.object is not None
            seen.append((ev.type, ev.object.metadata.resource_version))
            if ev.type == "DELETED":
                break
    assert [t for t, _ in seen] == ["MODIFIED", *(["MODIFIED"] if terminates else []), "DELETED"], f"{kind}: {seen}"
    assert seen[0][1] == updated.metadata.resource_version
