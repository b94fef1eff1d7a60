"""The SDK's EventRecorder against a real apiserver: recording returns before the write (as upstream's
broadcaster), a repeat bumps `count` on one Event, the reference is the object as
it was when recorded, and a full queue drops rather than blocks."""

from __future__ import annotations

import pytest

from kubemu.api.serialization import from_dict
from kubemu.client.client import Client
from kubemu.client.events import MAX_QUEUED_EVENTS, EventRecorder
from kubemu.pb import core_pb2

pytestmark = pytest.mark.integration


async def _pod(client: Client, namespace: str, name: str) -> core_pb2.Pod:
    return await client.pods.create(from_dict({  # type: ignore[no-any-return]
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}}))


async def _events(client: Client, namespace: str, name: str) -> list[core_pb2.Event]:
    return list((await client.events.list(namespace, field_selector=f"involvedObject.name={name}")).items)


async def test_events_are_queued_then_written_and_repeats_are_counted(
        client: Client, namespace: str) -> None:
    pod = await _pod(client, namespace, "ev")
    recorded_rv = pod.metadata.resource_version
    rec = EventRecorder(client, "test-component", host="node-x")
    await rec.event(pod, "Normal", "Pulled", "Container image already present on machine")
    pod.metadata.resource_version = "changed-after-recording"  # the caller moves on with its object
    await rec.event(pod, "Normal", "Created", "Created container: c")
    for _ in range(2):
        await rec.event(pod, "Warning", "BackOff", "Back-off restarting failed container c")
    await rec.flush()
    try:
        evs = await _events(client, namespace, "ev")
        assert sorted((e.reason, e.count) for e in evs) == [("BackOff", 2), ("Created", 1), ("Pulled", 1)]
        pulled = next(e for e in evs if e.reason == "Pulled")
        ref = pulled.involved_object
        assert (ref.kind, ref.api_version, ref.name, ref.namespace, ref.uid) == (
            "Pod", "v1", "ev", namespace, pod.metadata.uid)
        assert ref.resource_version == recorded_rv
        assert (pulled.source.component, pulled.source.host, pulled.type) == ("test-component", "node-x", "Normal")
    finally:
        await rec.close()


async def test_a_full_queue_drops_new_events_instead_of_blocking(client: Client, namespace: str) -> None:
    pod = await _pod(client, namespace, "flood")
    rec = EventRecorder(client, "test-component")
    # No await between these: the sender cannot run, so the queue fills and the rest are dropped at once.
    for i in range(MAX_QUEUED_EVENTS + 50):
        await rec.event(pod, "Normal", "Tick", f"tick {i}")
    await rec.flush()
    try:
        evs = (await client.events.list(namespace, field_selector="involvedObject.name=flood")).items
        assert len(evs) == MAX_QUEUED_EVENTS
        assert {e.message for e in evs} == {f"tick {i}" for i in range(MAX_QUEUED_EVENTS)}
    finally:
        await rec.close()
