"""The garbage collector: an object all of whose owners are gone is deleted (background propagation); an owner
deleted with propagationPolicy Orphan has its dependents' ownerReferences removed, and one deleted with
Foreground waits (finalizer foregroundDeletion) until its dependents are gone."""

from __future__ import annotations

from typing import Any

import structlog

from controllers.workqueue import RateLimitingQueue, run_workers
from kubemu.api import kinds
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.client.informer import Informer

log = structlog.get_logger()

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"

IGNORED_RESOURCES = frozenset({"events"})
"""Resources the collector never watches, however many there are: upstream's DefaultIgnoredResources."""
_NEEDED_VERBS = frozenset({"delete", "list", "watch"})


def collectable_kinds() -> list[kinds.KindInfo]:
    """Every registered kind whose objects may name owners and be collected: those discovery says can be listed,
    watched and deleted, less the ignored ones, as graph_builder.go finds its monitors (GetDeletableResources)."""
    return [info for info in kinds.all_kinds()
            if _NEEDED_VERBS <= set(info.verbs) and info.resource not in IGNORED_RESOURCES]


def _key(kind: str, obj: Any) -> str:
    return f"{kind}/{obj.metadata.namespace}/{obj.metadata.name}"


class GarbageCollector:
    def __init__(self, client: Client, informers: dict[str, Informer[Any]]) -> None:
        self.client = client
        self.informers = informers
        self.uids: dict[str, str] = {}
        """uid -> key of every object we watch."""
        self.dependents: dict[str, set[str]] = {}
        """owner uid -> keys of objects that name it as an owner."""
        self.queue = RateLimitingQueue(name="garbage-collector")
        self.log = log.bind(component="controllers", controller="garbage-collector")
        for kind, inf in informers.items():
            inf.add_handler(lambda o, k=kind: self._upsert(k, o), lambda old, new, k=kind: self._upsert(k, new, old),
                            lambda o, k=kind: self._deleted(k, o))

    def _upsert(self, kind: str, obj: Any, old: Any = None) -> None:
        key = _key(kind, obj)
        self.uids[obj.metadata.uid] = key
        if old is not None:
            for ref in old.metadata.owner_references:
                self.dependents.get(ref.uid, set()).discard(key)
        for ref in obj.metadata.owner_references:
            self.dependents.setdefault(ref.uid, set()).add(key)
            if ref.uid not in self.uids:
                self.queue.add(key)  # an owner we have not seen (yet): check it
        if obj.metadata.HasField("deletion_timestamp") and {ORPHAN, FOREGROUND} & set(obj.metadata.finalizers):
            self.queue.add(key)

    def _deleted(self, kind: str, obj: Any) -> None:
        key = _key(kind, obj)
        self.uids.pop(obj.metadata.uid, None)
        for ref in obj.metadata.owner_references:
            self.dependents.get(ref.uid, set()).discard(key)
            self.queue.add(self.uids.get(ref.uid, ""))  # a foreground owner may now be free to go
        for dep in self.dependents.pop(obj.metadata.uid, set()):
            self.queue.add(dep)

    async def run(self) -> None:
        await run_workers(self.queue, self.sync, 2,
                          on_error=lambda k, e: self.log.warning("sync.failed", object=k, error=str(e)))

    def _get(self, key: str) -> tuple[str, Any] | None:
        kind, ns, name = key.split("/", 2)
        inf = self.informers.get(kind)
        obj = inf.store.get(f"{ns}/{name}" if ns else name) if inf is not None else None
        return (kind, obj) if obj is not None else None

    async def _owner_exists(self, namespace: str, ref: Any) -> bool:
        if ref.uid in self.uids:
            return True
        try:
            info = kinds.by_kind(ref.kind)
        except kinds.UnknownKind:
            return True  # a kind we do not know: never delete on its account
        try:
            owner = await self.client.resource(info.kind).get(ref.name, namespace if info.namespaced else None)
        except errors.NotFound:
            return False
        return bool(owner.metadata.uid == ref.uid)

    async def sync(self, key: str) -> None:
        if not key:
            return
        found = self._get(key)
        if found is None:
            return
        kind, obj = found
        meta = obj.metadata
        if meta.HasField("deletion_timestamp"):
            if ORPHAN in meta.finalizers:
                await self._orphan_dependents(kind, obj)
                return
            if FOREGROUND in meta.finalizers:
                await self._foreground(kind, obj)
                return
        if not meta.owner_references:
            return
        missing = [ref for ref in meta.owner_references if not await self._owner_exists(meta.namespace, ref)]
        if not missing:
            return
        rc = self.client.resource(kind)
        # Decide on the object as it is now, not as the cache last saw it (attemptToDeleteItem reads the latest):
        # an orphan delete may have just taken the missing owner out of its references.
        try:
            latest = await rc.get(meta.name, meta.namespace or None)
        except errors.NotFound:
            return
        if latest.metadata.uid != meta.uid:
            return
        meta = latest.metadata
        live = {r.uid for r in meta.owner_references}
        missing = [ref for ref in missing if ref.uid in live]
        if not missing:
            return
        if len(missing) == len(meta.owner_references):
            try:
                await rc.delete(meta.name, meta.namespace or None, uid=meta.uid,
                                resource_version=meta.resource_version)
            except (errors.NotFound, errors.Conflict):
                return
            self.log.info("object.collected", kind=kind, object=key.split("/", 1)[1],
                          owner=f"{missing[0].kind}/{missing[0].name}")
            return
        cur = await rc.get(meta.name, meta.namespace or None)
        gone = {r.uid for r in missing}
        keep = [r for r in cur.metadata.owner_references if r.uid not in gone]
        del cur.metadata.owner_references[:]
        cur.metadata.owner_references.extend(keep)
        await rc.update(cur)

    async def _live_dependents(self, owner: Any, owner_kind: str) -> set[str]:
        """The keys of the objects that name `owner`, read from the apiserver rather than the graph: a dependent
        made just before an orphan delete may not have reached our informers yet, and one the graph misses would
        be collected once its owner is gone instead of orphaned. Cluster-scoped objects never have namespaced
        owners."""
        out: set[str] = set()
        namespaced_owner = kinds.by_kind(owner_kind).namespaced
        for info in collectable_kinds():
            if namespaced_owner and not info.namespaced:
                continue
            listed = await self.client.resource(info.kind).list(owner.metadata.namespace or None)
            out |= {_key(info.kind, o) for o in listed.items
                    if any(r.uid == owner.metadata.uid for r in o.metadata.owner_references)}
        return out

    async def _orphan_dependents(self, kind: str, owner: Any) -> None:
        graph = self.dependents.get(owner.metadata.uid, set())
        for dep in sorted(graph | await self._live_dependents(owner, kind)):
            dkind, ns, name = dep.split("/", 2)
            rc = self.client.resource(dkind)
            try:
                cur = await rc.get(name, ns or None)
            except errors.NotFound:
                continue
            keep = [r for r in cur.metadata.owner_references if r.uid != owner.metadata.uid]
            if len(keep) == len(cur.metadata.owner_references):
                continue
            del cur.metadata.owner_references[:]
            cur.metadata.owner_references.extend(keep)
            await rc.update(cur)
        await self._remove_finalizer(kind, owner, ORPHAN)

    async def _foreground(self, kind: str, owner: Any) -> None:
        blocking = 0
        for dep in list(self.dependents.get(owner.metadata.uid, set())):
            found = self._get(dep)
            if found is None:
                continue
            dkind, obj = found
            blocking += 1
            if not obj.metadata.HasField("deletion_timestamp"):
                try:
                    await self.client.resource(dkind).delete(obj.metadata.name, obj.metadata.namespace or None,
                                                             propagation_policy="Foreground")
                except errors.NotFound:
                    blocking -= 1
        if blocking == 0:
            await self._remove_finalizer(kind, owner, FOREGROUND)

    async def _remove_finalizer(self, kind: str, owner: Any, finalizer: str) -> None:
        rc = self.client.resource(kind)
        try:
            cur = await rc.get(owner.metadata.name, owner.metadata.namespace or None)
        except errors.NotFound:
            return
        if finalizer in cur.metadata.finalizers:
            cur.metadata.finalizers.remove(finalizer)
            await rc.update(cur)
            self.log.info("finalizer.removed", kind=kind, object=owner.metadata.name, finalizer=finalizer)
