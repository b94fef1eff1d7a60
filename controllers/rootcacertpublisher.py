"""The root CA certificate publisher: every active namespace has the `kube-root-ca.crt` ConfigMap with the
cluster CA (--root-ca-file) under `ca.crt`, put back as it was when it is changed or deleted
(pkg/controller/certificates/rootcacertpublisher upstream). Pods read it through their kube-api-access volume."""

from __future__ import annotations

from typing import Any

import structlog

from controllers.workqueue import RateLimitingQueue, run_workers
from kubemu.client import errors
from kubemu.client.client import Client, ResourceClient
from kubemu.client.informer import Informer
from kubemu.pb import core_pb2

log = structlog.get_logger()

CONFIGMAP_NAME = "kube-root-ca.crt"
DATA_KEY = "ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
               "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
               "distributions of Kubernetes clusters.")


class RootCACertPublisher:
    def __init__(self, client: Client, root_ca: str, namespaces: Informer[core_pb2.Namespace],
                 configmaps: Informer[Any]) -> None:
        self.client = client
        self.root_ca = root_ca
        self.namespaces = namespaces
        self.configmaps = configmaps
        self.api: ResourceClient[Any] = client.resource("ConfigMap")
        self.queue = RateLimitingQueue(name="root_ca_cert_publisher")
        self.log = log.bind(component="controllers", controller="root-ca-cert-publisher")
        namespaces.add_handler(self._enqueue_namespace, lambda old, new: self._enqueue_namespace(new))
        configmaps.add_handler(None, lambda old, new: self._configmap_changed(new), self._configmap_changed)

    def _enqueue_namespace(self, ns: core_pb2.Namespace) -> None:
        self.queue.add(ns.metadata.name)

    def _configmap_changed(self, cm: Any) -> None:
        if cm.metadata.name == CONFIGMAP_NAME:
            self.queue.add(cm.metadata.namespace)

    async def run(self) -> None:
        await run_workers(self.queue, self.sync, 1,
                          on_error=lambda k, e: self.log.warning("sync.failed", namespace=k, error=str(e)))

    async def sync(self, namespace: str) -> None:
        ns = self.namespaces.store.get(namespace)
        if ns is None or ns.status.phase == "Terminating" or ns.metadata.HasField("deletion_timestamp"):
            return
        cm = self.configmaps.store.get(f"{namespace}/{CONFIGMAP_NAME}")
        if cm is None:
            new: Any = core_pb2.ConfigMap()
            new.metadata.name, new.metadata.namespace = CONFIGMAP_NAME, namespace
            new.metadata.annotations[DESCRIPTION_ANNOTATION] = DESCRIPTION
            new.data[DATA_KEY] = self.root_ca
            try:
                await self.api.create(new)
            except (errors.AlreadyExists, errors.NotFound):
                return  # the cache is behind, or the namespace is gone: its own event brings us back
            self.log.info("configmap.created", configmap=f"{namespace}/{CONFIGMAP_NAME}")
            return
        if dict(cm.data) == {DATA_KEY: self.root_ca} and not cm.binary_data and \
                cm.metadata.annotations.get(DESCRIPTION_ANNOTATION) == DESCRIPTION:
            return
        updated: Any = type(cm)()
        updated.CopyFrom(cm)
        updated.ClearField("data")
        updated.ClearField("binary_data")
        updated.data[DATA_KEY] = self.root_ca
        updated.metadata.annotations[DESCRIPTION_ANNOTATION] = DESCRIPTION
        try:
            await self.api.update(updated)
        except errors.NotFound:
            return
        self.log.info("configmap.updated", configmap=f"{namespace}/{CONFIGMAP_NAME}")
