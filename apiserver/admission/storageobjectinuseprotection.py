"""StorageObjectInUseProtection (plugin/pkg/admission/storage/storageobjectinuseprotection): every new claim and
volume carries its protection finalizer, so that deleting one in use only marks it; the pvc- and pv-protection
controllers (controllers/storageprotection.py) let it go once nothing uses it."""

from __future__ import annotations

from apiserver.admission import CREATE, Attributes, Plugin
from kubemu.api import storage

_FINALIZERS = {"PersistentVolumeClaim": storage.PVC_PROTECTION, "PersistentVolume": storage.PV_PROTECTION}


class StorageObjectInUseProtection(Plugin):
    name = "StorageObjectInUseProtection"
    operations = frozenset({CREATE})

    def handles(self, a: Attributes) -> bool:
        return a.operation in self.operations and a.info.kind in _FINALIZERS and not a.subresource

    async def admit(self, a: Attributes) -> None:
        finalizer = _FINALIZERS[a.info.kind]
        if finalizer not in a.obj.metadata.finalizers:
            a.obj.metadata.finalizers.append(finalizer)
