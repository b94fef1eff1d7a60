"""PersistentVolumeClaimResize (plugin/pkg/admission/storage/persistentvolume/resize): a claim's storage request may
grow only once it is bound, and only where its class allows volume expansion."""

from __future__ import annotations

from apiserver import errors
from apiserver.admission import UPDATE, Attributes, Plugin
from kubemu.api import storage
from kubemu.api.quantity import QuantityError, parse_quantity


def _size(pvc: object) -> int | None:
    raw = pvc.spec.resources.requests.get("storage")  # type: ignore[attr-defined]
    try:
        return parse_quantity(raw).value() if raw else None
    except QuantityError:
        return None


class PersistentVolumeClaimResize(Plugin):
    name = "PersistentVolumeClaimResize"
    operations = frozenset({UPDATE})

    def handles(self, a: Attributes) -> bool:
        return a.operation in self.operations and a.info.kind == "PersistentVolumeClaim" and not a.subresource

    async def validate(self, a: Attributes) -> None:
        new, old = _size(a.obj), _size(a.old)
        if new is None or old is None or new <= old:
            return
        if a.old.status.phase != "Bound":
            raise errors.Forbidden(f'persistentvolumeclaims "{a.name}" is forbidden: Only bound persistent volume '
                                   "claims can be expanded")
        if not await self._allow_resize(a):
            raise errors.Forbidden(
                f'persistentvolumeclaims "{a.name}" is forbidden: only dynamically provisioned pvc can be resized '
                "and the storageclass that provisions the pvc must support resize")

    async def _allow_resize(self, a: Attributes) -> bool:
        name = storage.claim_class(a.obj)
        if not name or name != storage.claim_class(a.old):
            return False
        try:
            cls = await self.registry.get("StorageClass", "", name)
        except errors.NotFound:
            return False
        return bool(cls.allow_volume_expansion)
