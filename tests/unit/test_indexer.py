"""The informer's local cache: indexes follow every add, update and removal."""

from __future__ import annotations

import pytest

from kubemu.api.serialization import from_dict
from kubemu.client.informer import DEFAULT_INDEXERS, Indexer, key_of
from kubemu.pb import core_pb2

pytestmark = pytest.mark.unit


def pod(name: str, node: str = "", **labels: str) -> core_pb2.Pod:
    return from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns",
                      "labels": labels}, "spec": {"nodeName": node}})  # type: ignore[no-any-return]


def test_indexes_follow_changes() -> None:
    idx: Indexer[core_pb2.Pod] = Indexer(DEFAULT_INDEXERS)
    a, b = pod("a", "node-1", app="web"), pod("b", "node-1", app="db")
    for p in (a, b):
        idx.upsert(key_of(p), p)
    assert [p.metadata.name for p in idx.by_index("node", "node-1")] == ["a", "b"]
    assert [p.metadata.name for p in idx.by_index("label", "app=web")] == ["a"]
    moved = pod("a", "node-2", app="db")
    idx.upsert(key_of(moved), moved)
    assert [p.metadata.name for p in idx.by_index("node", "node-1")] == ["b"]
    assert [p.metadata.name for p in idx.by_index("label", "app=db")] == ["a", "b"]
    idx.remove("ns/b")
    assert idx.by_index("node", "node-1") == [] and "node-1" not in idx.indices["node"]
    assert [p.metadata.name for p in idx.by_index("namespace", "ns")] == ["a"]


def test_kinds_without_spec_index_without_error() -> None:
    ev = core_pb2.Event()
    ev.metadata.name, ev.metadata.namespace = "e", "ns"
    idx: Indexer[core_pb2.Event] = Indexer(DEFAULT_INDEXERS)
    idx.upsert(key_of(ev), ev)
    assert idx.by_index("namespace", "ns") == [ev]
