"""The ServiceAccount controller: every active namespace has a `default` ServiceAccount, made again when it is
deleted (pkg/controller/serviceaccount/serviceaccounts_controller.go upstream)."""

from __future__ import annotations

from typing import Any

import structlog

from controllers.workqueue import RateLimitingQueue, run_workers
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.client.informer import Informer
from kubemu.pb import core_pb2

log = structlog.get_logger()

DEFAULT_SERVICE_ACCOUNTS = ("default",)
"""--service-account-controller's ServiceAccountsControllerOptions: the accounts every namespace gets."""


class ServiceAccountsController:
    def __init__(self, client: Client, namespaces: Informer[core_pb2.Namespace],
                 service_accounts: Informer[core_pb2.ServiceAccount]) -> None:
        self.client = client
        self.namespaces = namespaces
        self.service_accounts = service_accounts
        self.queue = RateLimitingQueue(name="serviceaccount")
        self.log = log.bind(component="controllers", controller="serviceaccount")
        namespaces.add_handler(self._enqueue_namespace, lambda old, new: self._enqueue_namespace(new))
        # Only a deletion matters: the namespace's account may have to be made again.
        service_accounts.add_handler(on_delete=self._account_deleted)

    def _enqueue_namespace(self, ns: core_pb2.Namespace) -> None:
        self.queue.add(ns.metadata.name)

    def _account_deleted(self, sa: core_pb2.ServiceAccount) -> None:
        if sa.metadata.name in DEFAULT_SERVICE_ACCOUNTS:
            self.queue.add(sa.metadata.namespace)

    async def run(self) -> None:
        await run_workers(self.queue, self.sync, 1,
                          on_error=lambda k, e: self.log.warning("sync.failed", namespace=k, error=str(e)))

    async def sync(self, namespace: str) -> None:
        ns = self.namespaces.store.get(namespace)
        if ns is None or ns.status.phase == "Terminating" or ns.metadata.HasField("deletion_timestamp"):
            return  # nothing can be made in a namespace on its way out
        for name in DEFAULT_SERVICE_ACCOUNTS:
            if self.service_accounts.store.get(f"{namespace}/{name}") is not None:
                continue
            sa: Any = core_pb2.ServiceAccount()
            sa.metadata.name, sa.metadata.namespace = name, namespace
            try:
                await self.client.service_accounts.create(sa)
            except errors.AlreadyExists:
                continue  # the cache is behind
            except errors.NotFound:
                return  # the namespace is gone
            self.log.info("serviceaccount.created", serviceaccount=f"{namespace}/{name}")
