"""A simulated rancher/local-path-provisioner, the provisioner of kind's `standard` class: for a claim of its class
that a scheduled pod's node was chosen for, a hostPath volume in that node's local disk, pinned to the node; when
such a volume is Released and its policy is Delete, the volume goes. Its data lives in the node's simulated disk,
kept by that node's kubelet under the volume's name."""

from __future__ import annotations

from typing import Any

import structlog

from controllers.workqueue import RateLimitingQueue, run_workers
from kubemu.api import storage
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.client.events import EventRecorder
from kubemu.client.informer import Informer
from kubemu.pb import core_pb2

log = structlog.get_logger()

PROVISIONER = storage.LOCAL_PATH_PROVISIONER
COMPONENT = "rancher.io/local-path_local-path-provisioner"
BASE_PATH = "/var/local-path-provisioner"
"""Where local-path-provisioner's default config puts volumes on the node."""


def volume_name(pvc: core_pb2.PersistentVolumeClaim) -> str:
    """pvc-<claim uid>, as every external-provisioner names its volumes."""
    return f"pvc-{pvc.metadata.uid}"


def new_volume(pvc: core_pb2.PersistentVolumeClaim, cls: Any, node: str) -> core_pb2.PersistentVolume:
    """The volume local-path-provisioner creates: the claim's size and modes, its class's reclaim policy, a
    DirectoryOrCreate hostPath on the node, pre-bound to the claim and pinned to the node."""
    name = volume_name(pvc)
    pv = core_pb2.PersistentVolume()
    pv.metadata.name = name
    pv.metadata.annotations[storage.PROVISIONED_BY] = PROVISIONER
    pv.metadata.annotations["local.path.provisioner/selected-node"] = node
    pv.spec.capacity["storage"] = pvc.spec.resources.requests["storage"]
    pv.spec.access_modes.extend(pvc.spec.access_modes)
    pv.spec.persistent_volume_reclaim_policy = cls.reclaim_policy or "Delete"
    pv.spec.storage_class_name = cls.metadata.name
    pv.spec.volume_mode = pvc.spec.volume_mode or "Filesystem"
    pv.spec.host_path.path = f"{BASE_PATH}/{name}_{pvc.metadata.namespace}_{pvc.metadata.name}"
    pv.spec.host_path.type = "DirectoryOrCreate"
    term = pv.spec.node_affinity.required.node_selector_terms.add()
    term.match_expressions.add(key="kubernetes.io/hostname", operator="In", values=[node])
    ref = pv.spec.claim_ref
    ref.kind, ref.api_version = "PersistentVolumeClaim", "v1"
    ref.namespace, ref.name, ref.uid = pvc.metadata.namespace, pvc.metadata.name, pvc.metadata.uid
    ref.resource_version = pvc.metadata.resource_version
    return pv


class LocalPathProvisioner:
    def __init__(self, client: Client, claims: Informer[Any], volumes: Informer[Any], classes: Informer[Any]) -> None:
        self.client = client
        self.claims = claims
        self.volumes = volumes
        self.classes = classes
        self.recorder = EventRecorder(client, COMPONENT)
        self.queue = RateLimitingQueue("local-path-provisioner")
        self.log = log.bind(component="controllers", controller="local-path-provisioner")
        claims.add_handler(self._claim, lambda old, new: self._claim(new), None)
        volumes.add_handler(self._volume, lambda old, new: self._volume(new), None)

    def _claim(self, pvc: Any) -> None:
        self.queue.add("claim/" + f"{pvc.metadata.namespace}/{pvc.metadata.name}")

    def _volume(self, pv: Any) -> None:
        if pv.metadata.annotations.get(storage.PROVISIONED_BY) == PROVISIONER:
            self.queue.add("volume/" + pv.metadata.name)

    async def run(self) -> None:
        await run_workers(self.queue, self.sync,
                          on_error=lambda key, e: self.log.warning("sync.failed", key=key, error=str(e)))

    async def sync(self, key: str) -> None:
        kind, _, name = key.partition("/")
        if kind == "claim":
            pvc = self.claims.store.get(name)
            if pvc is not None:
                await self.provision(pvc)
        else:
            pv = self.volumes.store.get(name)
            if pv is not None:
                await self.reclaim(pv)

    async def provision(self, pvc: core_pb2.PersistentVolumeClaim) -> None:
        ann = pvc.metadata.annotations
        if pvc.spec.volume_name or pvc.metadata.HasField("deletion_timestamp"):
            return
        if ann.get(storage.STORAGE_PROVISIONER) != PROVISIONER:
            return  # the PV controller has not asked us (it found no volume first)
        node = ann.get(storage.SELECTED_NODE, "")
        if not node:
            return  # local volumes need the consumer's node
        cls = self.classes.store.get(storage.claim_class(pvc))
        if cls is None or cls.provisioner != PROVISIONER:
            return
        name = volume_name(pvc)
        if self.volumes.store.get(name) is not None:
            return
        key = f"{pvc.metadata.namespace}/{pvc.metadata.name}"
        await self.recorder.event(pvc, "Normal", "Provisioning",
                                  f'External provisioner is provisioning volume for claim "{key}"')
        try:
            await self.client.resource("PersistentVolume").create(new_volume(pvc, cls, node))
        except errors.AlreadyExists:
            return
        self.log.info("volume.provisioned", claim=key, volume=name, node=node)
        await self.recorder.event(pvc, "Normal", "ProvisioningSucceeded", f"Successfully provisioned volume {name}")

    async def reclaim(self, pv: core_pb2.PersistentVolume) -> None:
        """A Released volume of ours with policy Delete is deleted (its data goes with it: the kubelet forgets it
        when the volume is gone)."""
        if pv.status.phase != "Released" or pv.spec.persistent_volume_reclaim_policy != "Delete":
            return
        try:
            await self.client.resource("PersistentVolume").delete(pv.metadata.name, uid=pv.metadata.uid)
        except (errors.NotFound, errors.Conflict):
            return
        self.log.info("volume.deleted", volume=pv.metadata.name)
