"""DefaultStorageClass (plugin/pkg/admission/storage/storageclass/setdefault): a claim created without a storage
class gets the cluster's default class; with several defaults, the newest (then the first by name) wins."""

from __future__ import annotations

from apiserver.admission import CREATE, Attributes, Plugin
from apiserver.watch import make_filter
from kubemu.api import storage
from kubemu.api.serialization import time_value


class DefaultStorageClass(Plugin):
    name = "DefaultStorageClass"
    operations = frozenset({CREATE})

    def handles(self, a: Attributes) -> bool:
        return a.operation in self.operations and a.info.kind == "PersistentVolumeClaim" and not a.subresource

    async def admit(self, a: Attributes) -> None:
        pvc = a.obj
        # A class given, even "" (no class, on purpose), or the beta annotation, is the user's choice.
        if pvc.spec.HasField("storage_class_name") or storage.BETA_STORAGE_CLASS in pvc.metadata.annotations:
            return
        classes, _ = await self.registry.list("StorageClass", "", make_filter("StorageClass", "", "", ""))
        defaults = [sc for sc in classes if storage.is_default_class(sc)]
        if not defaults:
            return
        # GetDefaultClass: the most recently created default, ties by name.
        chosen = max(defaults, key=lambda sc: (time_value(sc.metadata.creation_timestamp), _reverse(sc.metadata.name)))
        pvc.spec.storage_class_name = chosen.metadata.name


def _reverse(name: str) -> tuple[int, ...]:
    """A key that orders names backwards, so that max() picks the first name among equally new classes."""
    return (*(-ord(ch) for ch in name), 0)
