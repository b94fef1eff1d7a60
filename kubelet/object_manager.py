"""The ConfigMaps and Secrets the node's pods reference, learnt from the apiserver by one watch per referenced object
while a pod references it: upstream's configmap and secret managers with the Watch change-detection strategy
(pkg/kubelet/util/manager/watch_based_manager.go)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog

from kubemu.client.client import Client
from kubemu.client.informer import Informer
from kubemu.pb import core_pb2

log = structlog.get_logger()

SYNC_TIMEOUT_SECONDS = 5.0
"""How long a lookup waits for the first list of a newly watched object before it fails (and is retried)."""


class ObjectError(Exception):
    """A referenced object that cannot be had: `not_found` when the API says it does not exist (what `optional`
    tolerates); the message is upstream's (`configmap "x" not found`)."""

    def __init__(self, message: str, *, not_found: bool) -> None:
        super().__init__(message)
        self.message = message
        self.not_found = not_found


@dataclass
class _Watched:
    informer: Informer[Any]
    pods: set[str] = field(default_factory=set)
    """The uids of the pods that reference the object: the watch stops with the last of them."""


class ObjectManager:
    """One kind's referenced objects (`word` is how upstream's messages name the kind: configmap, secret)."""

    def __init__(self, client: Client, kind: str, word: str) -> None:
        self.resource = client.resource(kind)
        self.word = word
        self._watched: dict[tuple[str, str], _Watched] = {}
        self._listeners: dict[tuple[str, str], dict[str, Callable[[], None]]] = {}
        self.log = log.bind(component="kubelet", kind=kind)

    def register(self, namespace: str, uid: str, names: set[str], on_change: Callable[[], None]) -> None:
        """RegisterPod: the pod `uid` references `names`; `on_change` is called when any of them changes."""
        for name in names:
            key = (namespace, name)
            watched = self._watched.get(key)
            if watched is None:
                informer: Informer[Any] = Informer(self.resource, namespace=namespace,
                                                   field_selector=f"metadata.name={name}")
                informer.add_handler(lambda _obj, k=key: self._changed(k), lambda _old, _new, k=key: self._changed(k),
                                     lambda _obj, k=key: self._changed(k))
                informer.start()
                watched = self._watched[key] = _Watched(informer)
                self.log.debug("object.watch_started", object=f"{namespace}/{name}")
            watched.pods.add(uid)
            self._listeners.setdefault(key, {})[uid] = on_change

    async def unregister(self, namespace: str, uid: str) -> None:
        """UnregisterPod: stop the watches no other pod needs."""
        for key in [k for k, w in self._watched.items() if k[0] == namespace and uid in w.pods]:
            watched = self._watched[key]
            watched.pods.discard(uid)
            self._listeners.get(key, {}).pop(uid, None)
            if not watched.pods:
                del self._watched[key]
                self._listeners.pop(key, None)
                await watched.informer.stop()

    def _changed(self, key: tuple[str, str]) -> None:
        for wake in list(self._listeners.get(key, {}).values()):
            wake()

    async def get(self, namespace: str, name: str) -> Any:
        """The object as the watch last saw it; ObjectError when it does not exist or the watch has not listed."""
        watched = self._watched.get((namespace, name))
        if watched is None:
            raise ObjectError(f"object {namespace}/{name} not registered", not_found=False)
        try:
            await watched.informer.wait_synced(SYNC_TIMEOUT_SECONDS)
        except TimeoutError:
            raise ObjectError(f"failed to sync {self.word} cache: timed out waiting for the condition",
                              not_found=False) from None
        obj = watched.informer.store.get(f"{namespace}/{name}")
        if obj is None:
            raise ObjectError(f'{self.word} "{name}" not found', not_found=True)
        return obj

    async def stop(self) -> None:
        watched, self._watched = list(self._watched.values()), {}
        self._listeners.clear()
        await asyncio.gather(*(w.informer.stop() for w in watched), return_exceptions=True)


def _volume_sources(pod: core_pb2.Pod) -> Iterator[core_pb2.Volume]:
    yield from pod.spec.volumes


def _containers(pod: core_pb2.Pod) -> Iterator[core_pb2.Container]:
    yield from pod.spec.init_containers
    yield from pod.spec.containers


def config_map_names(pod: core_pb2.Pod) -> set[str]:
    """Every ConfigMap the pod references (podutil.VisitPodConfigmapNames): env, envFrom, volumes, projections."""
    names: set[str] = set()
    for c in _containers(pod):
        names.update(e.config_map_ref.name for e in c.env_from if e.HasField("config_map_ref"))
        names.update(e.value_from.config_map_key_ref.name for e in c.env
                     if e.HasField("value_from") and e.value_from.HasField("config_map_key_ref"))
    for v in _volume_sources(pod):
        if v.HasField("config_map"):
            names.add(v.config_map.name)
        elif v.HasField("projected"):
            names.update(s.config_map.name for s in v.projected.sources if s.HasField("config_map"))
    names.discard("")
    return names


def secret_names(pod: core_pb2.Pod) -> set[str]:
    """Every Secret the pod references (podutil.VisitPodSecretNames) that the kubelet reads: env, envFrom, volumes,
    projections (image pull secrets are the image puller's, which kubemu simulates without them)."""
    names: set[str] = set()
    for c in _containers(pod):
        names.update(e.secret_ref.name for e in c.env_from if e.HasField("secret_ref"))
        names.update(e.value_from.secret_key_ref.name for e in c.env
                     if e.HasField("value_from") and e.value_from.HasField("secret_key_ref"))
    for v in _volume_sources(pod):
        if v.HasField("secret"):
            names.add(v.secret.secret_name)
        elif v.HasField("projected"):
            names.update(s.secret.name for s in v.projected.sources if s.HasField("secret"))
    names.discard("")
    return names


class PodObjects:
    """What a pod worker asks: the ConfigMaps and Secrets of its namespace, through the node's two managers."""

    def __init__(self, client: Client) -> None:
        self.config_maps = ObjectManager(client, "ConfigMap", "configmap")
        self.secrets = ObjectManager(client, "Secret", "secret")

    def register(self, pod: core_pb2.Pod, on_change: Callable[[], None]) -> None:
        ns, uid = pod.metadata.namespace, pod.metadata.uid
        self.config_maps.register(ns, uid, config_map_names(pod), on_change)
        self.secrets.register(ns, uid, secret_names(pod), on_change)

    async def unregister(self, pod: core_pb2.Pod) -> None:
        ns, uid = pod.metadata.namespace, pod.metadata.uid
        await self.config_maps.unregister(ns, uid)
        await self.secrets.unregister(ns, uid)

    async def config_map(self, namespace: str, name: str) -> core_pb2.ConfigMap:
        cm: core_pb2.ConfigMap = await self.config_maps.get(namespace, name)
        return cm

    async def secret(self, namespace: str, name: str) -> core_pb2.Secret:
        s: core_pb2.Secret = await self.secrets.get(namespace, name)
        return s

    async def stop(self) -> None:
        await self.config_maps.stop()
        await self.secrets.stop()
