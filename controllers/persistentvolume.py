"""The PersistentVolume controller (pkg/controller/volume/persistentvolume/pv_controller.go): binds each claim to a
matching available volume (class, access modes, size, selector, volumeMode, a pre-bound volumeName or claimRef), keeps
the phases of both (Pending/Bound/Lost; Available/Bound/Released/Failed), and asks a class's provisioner for a volume
when none matches, or waits for the first consumer's node where the class says so. Deleting a Released volume of
a dynamic provisioner is the provisioner's job (controllers/localpath.py)."""

from __future__ import annotations

from typing import Any

import structlog

from controllers.workqueue import RateLimitingQueue, run_workers
from kubemu.api import storage
from kubemu.api.storage import find_best_match
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.client.events import EventRecorder
from kubemu.client.informer import Informer
from kubemu.pb import core_pb2

log = structlog.get_logger()

COMPONENT = "persistentvolume-controller"
CLAIM = "claim/"
VOLUME = "volume/"


def claim_key(pvc: core_pb2.PersistentVolumeClaim) -> str:
    return f"{pvc.metadata.namespace}/{pvc.metadata.name}"


class PersistentVolumeController:
    def __init__(self, client: Client, claims: Informer[Any], volumes: Informer[Any], classes: Informer[Any],
                 nodes: Informer[Any]) -> None:
        self.client = client
        self.claims = claims
        self.volumes = volumes
        self.classes = classes
        self.nodes = nodes
        self.recorder = EventRecorder(client, COMPONENT)
        self.queue = RateLimitingQueue("persistentvolume")
        self.log = log.bind(component="controllers", controller=COMPONENT)
        claims.add_handler(self._claim, lambda old, new: self._claim(new), self._claim_deleted)
        volumes.add_handler(self._volume, lambda old, new: self._volume(new), self._volume)
        classes.add_handler(self._class, lambda old, new: self._class(new), None)

    # -- handlers only enqueue --------------------------------------------------------------------

    def _claim(self, pvc: Any) -> None:
        self.queue.add(CLAIM + claim_key(pvc))

    def _claim_deleted(self, pvc: Any) -> None:
        if pvc.spec.volume_name:
            self.queue.add(VOLUME + pvc.spec.volume_name)

    def _volume(self, pv: Any) -> None:
        self.queue.add(VOLUME + pv.metadata.name)
        if pv.spec.HasField("claim_ref"):
            self.queue.add(f"{CLAIM}{pv.spec.claim_ref.namespace}/{pv.spec.claim_ref.name}")
        else:
            # A volume free to bind: the claims of its class still waiting may take it (upstream finds them on its
            # periodic resync of claims; here at once).
            cls = storage.volume_class(pv)
            for pvc in self.claims.store.list():
                if not pvc.spec.volume_name and storage.claim_class(pvc) == cls:
                    self._claim(pvc)

    def _class(self, sc: Any) -> None:
        for pvc in self.claims.store.list():
            if not pvc.spec.volume_name and storage.claim_class(pvc) == sc.metadata.name:
                self._claim(pvc)

    async def run(self) -> None:
        await run_workers(self.queue, self.sync, workers=2,
                          on_error=lambda key, e: self.log.warning("sync.failed", key=key, error=str(e)))

    async def sync(self, key: str) -> None:
        if key.startswith(CLAIM):
            pvc = self.claims.store.get(key[len(CLAIM):])
            if pvc is not None and not pvc.metadata.HasField("deletion_timestamp"):
                await self.sync_claim(pvc)
        else:
            pv = self.volumes.store.get(key[len(VOLUME):])
            if pv is not None:
                await self.sync_volume(pv)

    # -- claims -----------------------------------------------------------------------------------

    async def sync_claim(self, pvc: core_pb2.PersistentVolumeClaim) -> None:
        if pvc.spec.volume_name and storage.BIND_COMPLETED in pvc.metadata.annotations:
            await self._sync_bound_claim(pvc)
            return
        volumes = self.volumes.store.list()
        cls_name = storage.claim_class(pvc)
        cls = self.classes.store.get(cls_name) if cls_name else None
        node = None
        if cls is not None and cls.volume_binding_mode == storage.WAIT_FOR_FIRST_CONSUMER and not pvc.spec.volume_name:
            selected = pvc.metadata.annotations.get(storage.SELECTED_NODE, "")
            if not selected:
                await self.recorder.event(pvc, "Normal", "WaitForFirstConsumer",
                                          "waiting for first consumer to be created before binding")
                return
            node = self.nodes.store.get(selected)
        pv = find_best_match(pvc, volumes, node)
        if pv is not None:
            await self._bind(pvc, pv)
            return
        if pvc.spec.volume_name:  # asks for a volume that is not there (yet)
            await self._claim_phase(pvc, "Pending")
            return
        if not cls_name:
            await self.recorder.event(pvc, "Normal", "FailedBinding",
                                      "no persistent volumes available for this claim and no storage class is set")
            return
        if cls is None:
            await self.recorder.event(pvc, "Warning", "ProvisioningFailed",
                                      f'storageclass.storage.k8s.io "{cls_name}" not found')
            return
        await self._provision(pvc, cls)

    async def _provision(self, pvc: core_pb2.PersistentVolumeClaim, cls: Any) -> None:
        """provisionClaim for an external provisioner: say whose job it is on the claim, and wait for its volume.
        An in-tree name (`kubernetes.io/...`) would be a plugin of the controller itself, and kubemu has none."""
        if cls.provisioner.startswith("kubernetes.io/"):
            await self.recorder.event(pvc, "Warning", "ProvisioningFailed",
                                      f"no volume plugin matched name: {cls.provisioner}")
            return
        ann = pvc.metadata.annotations
        if ann.get(storage.STORAGE_PROVISIONER) != cls.provisioner:
            async def mark(cur: core_pb2.PersistentVolumeClaim) -> bool:
                cur.metadata.annotations[storage.STORAGE_PROVISIONER] = cls.provisioner
                cur.metadata.annotations[storage.BETA_STORAGE_PROVISIONER] = cls.provisioner
                return True

            pvc = await self._modify_claim(pvc, mark) or pvc
        await self.recorder.event(
            pvc, "Normal", "ExternalProvisioning",
            f"Waiting for a volume to be created either by the external provisioner '{cls.provisioner}' or manually "
            "by the system administrator. If volume creation is delayed, please verify that the provisioner is "
            "running and correctly registered.")

    async def _bind(self, pvc: core_pb2.PersistentVolumeClaim, pv: core_pb2.PersistentVolume) -> None:
        """bind: the volume's claimRef first, then the claim's volumeName, then both phases, as upstream."""
        name = pv.metadata.name
        if not (pv.spec.HasField("claim_ref") and pv.spec.claim_ref.uid == pvc.metadata.uid):
            async def claim_it(cur: core_pb2.PersistentVolume) -> bool:
                if cur.spec.HasField("claim_ref") and cur.spec.claim_ref.uid not in ("", pvc.metadata.uid):
                    return False
                ref = cur.spec.claim_ref
                ref.kind, ref.api_version = "PersistentVolumeClaim", "v1"
                ref.namespace, ref.name, ref.uid = pvc.metadata.namespace, pvc.metadata.name, pvc.metadata.uid
                ref.resource_version = pvc.metadata.resource_version
                cur.metadata.annotations[storage.BOUND_BY_CONTROLLER] = "yes"
                return True

            if await self._modify_volume(pv, claim_it) is None:
                return
        await self._volume_phase(name, "Bound")

        async def take_volume(cur: core_pb2.PersistentVolumeClaim) -> bool:
            if cur.spec.volume_name and cur.spec.volume_name != name:
                return False
            if not cur.spec.volume_name:
                cur.spec.volume_name = name
                cur.metadata.annotations[storage.BOUND_BY_CONTROLLER] = "yes"
            cur.metadata.annotations[storage.BIND_COMPLETED] = "yes"
            return True

        bound = await self._modify_claim(pvc, take_volume)
        if bound is None:
            return
        await self._claim_bound_status(bound, pv)
        self.log.info("claim.bound", claim=claim_key(pvc), volume=name)

    async def _sync_bound_claim(self, pvc: core_pb2.PersistentVolumeClaim) -> None:
        pv = self.volumes.store.get(pvc.spec.volume_name)
        if pv is None:
            if pvc.status.phase != "Lost":
                await self._claim_phase(pvc, "Lost")
                await self.recorder.event(pvc, "Warning", "ClaimLost",
                                          "Bound claim has lost its PersistentVolume. Data on the volume is lost!")
            return
        if not pv.spec.HasField("claim_ref") or pv.spec.claim_ref.uid == pvc.metadata.uid:
            if not pv.spec.HasField("claim_ref") or pv.status.phase != "Bound":
                await self._bind(pvc, pv)
                return
            pv = await self._expand(pvc, pv)
            await self._claim_bound_status(pvc, pv)
            return
        if pvc.status.phase != "Lost":  # the volume went to another claim
            await self._claim_phase(pvc, "Lost")
            await self.recorder.event(pvc, "Warning", "ClaimMisbound",
                                      "Two claims are bound to the same volume, this one is bound incorrectly")

    async def _expand(self, pvc: core_pb2.PersistentVolumeClaim, pv: core_pb2.PersistentVolume
                      ) -> core_pb2.PersistentVolume:
        """The expand controller and the provisioner's resizer in one step: a bound claim asking for more than its
        volume has (admission let it, so its class allows expansion) grows the volume; its status follows."""
        wanted = pvc.spec.resources.requests.get("storage", "")
        if not wanted or storage.storage_bytes(pvc.spec.resources.requests) <= storage.storage_bytes(pv.spec.capacity):
            return pv

        async def grow(cur: core_pb2.PersistentVolume) -> bool:
            cur.spec.capacity["storage"] = wanted
            return True

        grown = await self._modify_volume(pv, grow)
        if grown is None:
            return pv
        self.log.info("volume.expanded", volume=pv.metadata.name, claim=claim_key(pvc), size=wanted)
        return grown  # type: ignore[no-any-return]

    async def _claim_bound_status(self, pvc: core_pb2.PersistentVolumeClaim, pv: core_pb2.PersistentVolume) -> None:
        st = pvc.status
        if st.phase == "Bound" and list(st.access_modes) == list(pv.spec.access_modes) and \
                dict(st.capacity) == dict(pv.spec.capacity):
            return
        cur = core_pb2.PersistentVolumeClaim()
        cur.CopyFrom(pvc)
        cur.status.phase = "Bound"
        del cur.status.access_modes[:]
        cur.status.access_modes.extend(pv.spec.access_modes)
        cur.status.capacity.clear()
        cur.status.capacity.update(pv.spec.capacity)
        await self._write_claim_status(cur)

    async def _claim_phase(self, pvc: core_pb2.PersistentVolumeClaim, phase: str) -> None:
        if pvc.status.phase == phase:
            return
        cur = core_pb2.PersistentVolumeClaim()
        cur.CopyFrom(pvc)
        cur.status.phase = phase
        await self._write_claim_status(cur)

    async def _write_claim_status(self, pvc: core_pb2.PersistentVolumeClaim) -> None:
        try:
            await self.client.resource("PersistentVolumeClaim").update_status(pvc)
        except errors.Conflict:
            self.queue.add(CLAIM + claim_key(pvc))  # the cache will show the newer claim: sync again then
        except errors.NotFound:
            pass

    # -- volumes ----------------------------------------------------------------------------------

    async def sync_volume(self, pv: core_pb2.PersistentVolume) -> None:
        if not pv.spec.HasField("claim_ref"):
            if pv.status.phase in ("", "Pending", "Released"):
                await self._volume_phase(pv.metadata.name, "Available")
            return
        ref = pv.spec.claim_ref
        pvc = self.claims.store.get(f"{ref.namespace}/{ref.name}")
        if pvc is not None and (not ref.uid or pvc.metadata.uid == ref.uid):
            if pvc.spec.volume_name == pv.metadata.name:
                if pv.status.phase != "Bound":
                    await self._volume_phase(pv.metadata.name, "Bound")
            else:
                if pv.status.phase in ("", "Pending"):
                    await self._volume_phase(pv.metadata.name, "Available")
                self.queue.add(CLAIM + claim_key(pvc))  # a volume pre-bound to the claim: the claim binds to it
            return
        if not ref.uid:  # pre-bound to a claim not yet created
            if pv.status.phase in ("", "Pending"):
                await self._volume_phase(pv.metadata.name, "Available")
            return
        try:  # the informer may lag: the claim is gone only if the apiserver says so
            live = await self.client.resource("PersistentVolumeClaim").get(ref.name, ref.namespace)
            if live.metadata.uid == ref.uid:
                return
        except errors.NotFound:
            pass
        if pv.status.phase not in ("Released", "Failed"):
            await self._volume_phase(pv.metadata.name, "Released")
            self.log.info("volume.released", volume=pv.metadata.name, claim=f"{ref.namespace}/{ref.name}")
        if pv.spec.persistent_volume_reclaim_policy == "Delete" and \
                pv.metadata.annotations.get(storage.PROVISIONED_BY) != storage.LOCAL_PATH_PROVISIONER and \
                pv.status.phase != "Failed":
            # No deleter in kubemu but the local-path provisioner's: upstream's words for a volume nobody deletes.
            msg = f'error getting deleter volume plugin for volume "{pv.metadata.name}": no deletable volume ' \
                  "plugin matched"
            await self._volume_phase(pv.metadata.name, "Failed", msg)
            await self.recorder.event(pv, "Warning", "VolumeFailedDelete", msg)

    async def _volume_phase(self, name: str, phase: str, message: str = "") -> None:
        volumes = self.client.resource("PersistentVolume")
        for _ in range(5):
            try:
                cur = await volumes.get(name)
            except errors.NotFound:
                return
            if cur.status.phase == phase and cur.status.message == message:
                return
            cur.status.phase = phase
            cur.status.message = message
            try:
                await volumes.update_status(cur)
                self.log.info("volume.phase", volume=name, phase=phase)
                return
            except errors.Conflict:
                continue
            except errors.NotFound:
                return

    # -- read-modify-write ------------------------------------------------------------------------

    async def _modify_claim(self, pvc: core_pb2.PersistentVolumeClaim, change: Any) -> Any:
        return await self._modify(self.client.resource("PersistentVolumeClaim"), pvc.metadata.name,
                                  pvc.metadata.namespace, pvc.metadata.uid, change)

    async def _modify_volume(self, pv: core_pb2.PersistentVolume, change: Any) -> Any:
        return await self._modify(self.client.resource("PersistentVolume"), pv.metadata.name, None,
                                  pv.metadata.uid, change)

    @staticmethod
    async def _modify(resource: Any, name: str, namespace: str | None, uid: str, change: Any) -> Any:
        """Get, change, update, again on conflict; None when the object is gone or `change` declines."""
        for _ in range(5):
            try:
                cur = await resource.get(name, namespace)
            except errors.NotFound:
                return None
            if cur.metadata.uid != uid or not await change(cur):
                return None
            try:
                return await resource.update(cur)
            except errors.Conflict:
                continue
            except errors.NotFound:
                return None
        return None
