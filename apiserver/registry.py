"""The REST semantics of each verb over the store, the same for every kind (generic registry.Store upstream):
metadata, preconditions, finalizers, the watch cache; what differs by kind is asked of the kind's strategy.
"""

from __future__ import annotations

import asyncio
import builtins
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from apiserver import admission, errors, serviceaccount, validation
from apiserver import storage as st
from apiserver.apis import install
from apiserver.apis.core.serviceallocator import ServiceAllocators
from apiserver.apis.strategy import Strategy
from apiserver.lister import Lister
from apiserver.watch import Attrs, Filter
from kubemu.api import fields as fieldsel
from kubemu.api import kinds, names
from kubemu.api import labels as labelsel
from kubemu.api.serialization import set_time
from kubemu.config import ClusterConfig

log = structlog.get_logger()

_CAS_RETRIES = 16
_EVERYTHING = Filter(None, labelsel.EVERYTHING, fieldsel.EVERYTHING)


class _Uids:
    """Random (version 4) UUIDs as uuid.uuid4 makes them, from os.urandom read 4 KiB at a time: one getrandom
    call per 256 objects created instead of one each (with the UUID object built and printed, ~9% of a create's
    own work in the apiserver). A forked child starts with an empty pool, so it never repeats its parent's."""

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0
        os.register_at_fork(after_in_child=self._drop)

    def _drop(self) -> None:
        self._pool, self._at = b"", 0

    def new(self) -> str:
        at = self._at
        if at >= len(self._pool):
            self._pool, at = os.urandom(4096), 0
        self._at = at + 16
        b = bytearray(self._pool[at:at + 16])
        b[6] = (b[6] & 0x0F) | 0x40  # version 4
        b[8] = (b[8] & 0x3F) | 0x80  # variant RFC 4122
        h = b.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


new_uid = _Uids().new


def _fields(strategy: Strategy, obj: Any) -> dict[str, str]:
    """What a field selector matches: metadata.name and metadata.namespace, and the kind's own (ToSelectableFields)."""
    fields = fieldsel.metadata_fields(obj)
    fields.update(strategy.selectable_fields(obj))
    return fields


def _encode_attrs(strategy: Strategy, obj: Any) -> bytes:
    return Attrs.encode(dict(obj.metadata.labels), _fields(strategy, obj))


def _bytes_without_rv(obj: Any) -> bytes:
    """The stored form: resourceVersion lives beside the bytes, set by the store's revision."""
    rv = obj.metadata.resource_version
    obj.metadata.resource_version = ""
    data: bytes = obj.SerializeToString()
    obj.metadata.resource_version = rv
    return data


def _invalid(info: kinds.KindInfo, name: str, errs: list[validation.FieldError]) -> errors.Invalid:
    """NewInvalid's error, with the kind unqualified in the message (`Deployment "x" is invalid`) as kubemu has
    always said it; the group is in the details."""
    causes = tuple(errors.Cause(e.type, e.body(), e.field) for e in errs)
    return errors.Invalid(errors.invalid_message(info.kind, name, causes),
                          details=errors.StatusDetails(name=name, group=info.group, kind=info.kind, causes=causes))


class _Recheck(Exception):
    """A verb that started from the watch cache would answer without writing (a no-op): only the store can
    say that the object really is as the cache has it."""


_CACHE_ERRORS = (errors.Conflict, errors.NotFound, errors.Invalid, _Recheck)
"""What a verb that started from the watch cache may have concluded from a version the store has moved past:
it runs again from the store, so that the answer is the store's."""


class Registry:
    def __init__(self, store: st.Store, config: ClusterConfig, clock: Callable[[], float] = time.time,
                 services: ServiceAllocators | None = None) -> None:
        self.store = store
        self.services = services if services is not None else ServiceAllocators()
        """The cluster IP and node port allocators of Services (--service-cluster-ip-range,
        --service-node-port-range)."""
        self.config = config
        self.clock = clock
        self.token_issuer: Any = None
        """The ServiceAccount token issuer (apiserver/serviceaccount.py) when the apiserver has a signing key: the
        serviceaccounts/token subresource is served only then."""
        self.log = log.bind(component="apiserver")
        self._binder = install.serving("binding")
        self.admission = admission.Chain(self, frozenset())
        """The admission chain; none until the apiserver enables its plugins (`enable_admission`)."""
        self.cached: Callable[[str, str], tuple[bytes, int] | None] | None = None
        """The watch cache (WatchHub.cached): updates, bindings and deletes start from the object as the watch
        hub last read it instead of reading the store, as kube-apiserver's cacher hands GuaranteedUpdate its
        cached object. A stale one fails the store's compare-and-swap and the verb goes on from the store;
        a verb that would fail, or answer without writing, after starting from the cache runs again from the
        store, so no answer is the cache's alone."""
        self.write_check: Callable[[Any], None] | None = None
        """Called with each object about to be created or spec-updated, before admission; raises to refuse it
        (RBAC's escalation check on roles and bindings, as upstream's policy-based storage wraps those kinds')."""
        self.listers: dict[str, Lister] = {}
        """In-memory copies of the kinds admission plugins read on every write (LimitRanges, ResourceQuotas),
        when the apiserver runs a watch hub to keep them (`list_for_admission`)."""
        self.written: dict[str, int] = {}
        """kind -> the revision of the last write of that kind through this registry."""

    def _wrote(self, kind: str, rev: int) -> None:
        if rev > self.written.get(kind, 0):
            self.written[kind] = rev

    async def list_for_admission(self, kind: str, namespace: str) -> builtins.list[Any]:
        """The objects of a kind in a namespace as admission plugins read them: from the kind's lister when there
        is one and it has seen this apiserver's writes of the kind, else from the store."""
        lister = self.listers.get(kind)
        if lister is not None:
            found = lister.list(namespace, self.written.get(kind, 0))
            if found is not None:
                return found
        objs, _ = await self.list(kind, namespace, _EVERYTHING)
        return objs

    def enable_admission(self, enabled: frozenset[str] | None = None) -> None:
        """Run every admission plugin (or those named) on writes from now on."""
        self.admission = admission.Chain(self, enabled)

    # -- helpers ----------------------------------------------------------------------------------

    def decode(self, info: kinds.KindInfo, data: bytes, rv: int) -> Any:
        obj = info.message.FromString(data)
        obj.metadata.resource_version = str(rv)
        return obj

    async def _current(self, info: kinds.KindInfo, namespace: str, name: str, *, cached: bool = False) -> Any:
        member = st.Store.member(namespace, name)
        found = self.cached(info.kind, member) if cached and self.cached is not None else None
        if found is None:
            found = await self.store.get(info.kind, member)
            if found is None:
                raise errors.NotFound(errors.not_found_message(info.resource, name))
        return self.decode(info, *found)

    async def _cache_first(self, verb: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """`verb(*args, cached=True)` when there is a watch cache, and `verb(*args, cached=False)` (from the store
        only) without one or when that attempt ended in what a stale copy could have caused (_CACHE_ERRORS)."""
        if self.cached is not None:
            try:
                return await verb(*args, cached=True)
            except _CACHE_ERRORS:
                pass
        return await verb(*args, cached=False)

    @staticmethod
    def _namespace_of(info: kinds.KindInfo, obj: Any) -> str:
        if info.namespaced:
            if not obj.metadata.namespace:
                obj.metadata.namespace = "default"
            return str(obj.metadata.namespace)
        return ""

    # -- verbs ------------------------------------------------------------------------------------

    async def create(self, obj: Any, *, dry_run: bool = False) -> Any:
        info = kinds.of_message(obj)
        strategy = install.for_kind(info.kind)
        namespace = self._namespace_of(info, obj)
        meta = obj.metadata
        meta.uid = new_uid()
        meta.resource_version = ""
        meta.generation = 1
        meta.ClearField("deletion_timestamp")
        meta.ClearField("deletion_grace_period_seconds")
        set_time(meta.creation_timestamp, float(int(self.clock())))
        if self.write_check is not None:
            self.write_check(obj)
        attrs = admission.Attributes(admission.CREATE, info, namespace, meta.name, obj, dry_run=dry_run)
        await self.admission.admit(attrs)
        # After mutating admission, as BeforeCreate does it: a refusal there names the object by its generateName.
        if not meta.name and meta.generate_name:
            meta.name = names.generate_name(meta.generate_name)
        finish = await strategy.begin_create(self, obj, dry_run)
        stored = False
        try:
            strategy.prepare_for_create(obj, self.config)
            errs = strategy.validate(obj) + strategy.validate_create(obj)
            if errs:
                raise _invalid(info, meta.name or meta.generate_name, errs)
            await self.admission.validate(attrs)
            if dry_run:
                return obj
            member = st.Store.member(namespace, meta.name)
            ns_member = st.Store.member("", namespace) if info.namespaced else None
            try:
                rev = await self.store.create(
                    info.kind, member, _bytes_without_rv(obj), meta.uid, _encode_attrs(strategy, obj), ns_member
                )
            except st.Exists:
                raise errors.AlreadyExists(f'{info.resource} "{meta.name}" already exists') from None
            except st.NamespaceMissing:
                raise errors.NotFound(f'namespaces "{namespace}" not found') from None
            stored = True
        finally:
            if finish is not None:
                await finish(stored)
        meta.resource_version = str(rev)
        self._wrote(info.kind, rev)
        self.log.debug("object.created", kind=info.kind, object=member.lstrip("/"), rv=rev)
        return obj

    async def get(self, kind: str, namespace: str, name: str, *, cached: bool = False) -> Any:
        """The stored object; with `cached`, the watch cache's copy when it has one (a lister's read, as admission
        plugins make them upstream), else the store's."""
        info = kinds.by_kind(kind)
        return await self._current(info, namespace if info.namespaced else "", name, cached=cached)

    async def list(self, kind: str, namespace: str, flt: Filter) -> tuple[list[Any], int]:
        info = kinds.by_kind(kind)
        strategy = install.for_kind(info.kind)
        raw, rev = await self.store.list(info.kind, namespace if (namespace and info.namespaced) else None)
        out = []
        for data, rv in raw:
            obj = self.decode(info, data, rv)
            if flt.matches(Attrs(obj.metadata.namespace, dict(obj.metadata.labels), _fields(strategy, obj))):
                out.append(obj)
        return out, rev

    async def update(self, obj: Any, *, status: bool, dry_run: bool = False) -> Any:
        subresource = "status" if status else ""
        if dry_run:
            return await self._update(obj, subresource, True, cached=False)
        return await self._cache_first(self._update, obj, subresource, False)

    async def finalize(self, obj: Any, *, dry_run: bool = False) -> Any:
        """The finalize subresource (namespaces/finalize): an update that may change spec.finalizers, which the
        main resource keeps; the namespace goes once they and metadata.finalizers are empty while it terminates."""
        if dry_run:
            return await self._update(obj, "finalize", True, cached=False)
        return await self._cache_first(self._update, obj, "finalize", False)

    async def _update(self, obj: Any, subresource: str, dry_run: bool, *, cached: bool) -> Any:
        info = kinds.of_message(obj)
        strategy = install.for_kind(info.kind)
        namespace = self._namespace_of(info, obj)
        name = obj.metadata.name
        requested_rv = obj.metadata.resource_version
        if requested_rv and not requested_rv.isdigit():
            raise errors.BadRequest(f'invalid resource version "{requested_rv}"')
        for attempt in range(_CAS_RETRIES):
            from_cache = cached and attempt == 0  # a retry after a failed CAS reads the store
            old = await self._current(info, namespace, name, cached=from_cache)
            if requested_rv and requested_rv != old.metadata.resource_version:
                raise errors.Conflict(errors.conflict_message(info.resource, name))
            new = self._merge_update(strategy, old, obj, subresource)
            if self.write_check is not None and subresource != "status":
                self.write_check(new)
            attrs = admission.Attributes(admission.UPDATE, info, namespace, name, new, old,
                                         subresource=subresource, dry_run=dry_run)
            await self.admission.admit(attrs)
            finish = await strategy.begin_update(self, new, old, dry_run) if subresource == "" else None
            stored = False
            try:
                if subresource != "status":
                    errs = strategy.forbidden_update(new, old) or strategy.validate_update(new, old) or \
                        strategy.validate(new)
                else:
                    errs = strategy.validate_status_update(new, old)
                if errs:
                    raise _invalid(info, name, errs)
                await self.admission.validate(attrs)
                if dry_run:
                    new.metadata.resource_version = old.metadata.resource_version
                    return new
                try:
                    written = await self._write_update(strategy, old, new, from_cache=from_cache)
                    stored = True
                    return written
                except st.Stale:
                    if requested_rv:
                        raise errors.Conflict(errors.conflict_message(info.resource, name)) from None
                except st.Missing:  # deleted since it was read
                    raise errors.NotFound(errors.not_found_message(info.resource, name)) from None
            finally:
                if finish is not None:
                    await finish(stored)
        raise errors.Conflict(errors.conflict_message(info.resource, name))

    def _merge_update(self, strategy: Strategy, old: Any, incoming: Any, subresource: str) -> Any:
        if subresource == "status":
            new = strategy.prepare_for_status_update(incoming, old)
            if incoming.metadata.managed_fields:  # the REST face recorded this status write's managers
                new.metadata.ClearField("managed_fields")
                new.metadata.managed_fields.extend(incoming.metadata.managed_fields)
            return new
        new = type(incoming)()
        new.CopyFrom(incoming)
        meta, old_meta = new.metadata, old.metadata
        if not meta.managed_fields:
            # An update that sends no managedFields keeps the object's, as upstream's field manager does: the gRPC
            # face does not record managers (yet), and its clients may build objects without them.
            meta.managed_fields.extend(old_meta.managed_fields)
        meta.uid = old_meta.uid
        meta.creation_timestamp.CopyFrom(old_meta.creation_timestamp)
        meta.generation = old_meta.generation
        meta.ClearField("deletion_timestamp")
        if old_meta.HasField("deletion_timestamp"):
            meta.deletion_timestamp.CopyFrom(old_meta.deletion_timestamp)
        meta.ClearField("deletion_grace_period_seconds")
        if old_meta.HasField("deletion_grace_period_seconds"):
            meta.deletion_grace_period_seconds = old_meta.deletion_grace_period_seconds
        if not meta.generate_name:
            meta.generate_name = old_meta.generate_name
        if subresource == "finalize":
            strategy.prepare_for_finalize(new, old)
        else:
            strategy.prepare_for_update(new, old, self.config)
        return new

    async def _write_update(self, strategy: Strategy, old: Any, new: Any, *, from_cache: bool = False) -> Any:
        info = strategy.info
        member = st.Store.member(new.metadata.namespace, new.metadata.name)
        old_rv = int(old.metadata.resource_version)
        meta = new.metadata
        if meta.HasField("deletion_timestamp") and not meta.finalizers and not strategy.held(new) and \
                not strategy.waits_for_grace(new, meta.deletion_grace_period_seconds):
            # The last finalizer is gone from an object being deleted: it goes now.
            rev = await self.store.delete(
                info.kind, member, _bytes_without_rv(new), old_rv, _encode_attrs(strategy, new)
            )
            meta.resource_version = str(rev)
            self._wrote(info.kind, rev)
            self.log.debug("object.deleted", kind=info.kind, object=member.lstrip("/"), rv=rev, reason="finalized")
            await strategy.after_delete(self, new)
            return new
        if new.SerializeToString(deterministic=True) == old.SerializeToString(deterministic=True):
            if from_cache:
                raise _Recheck()
            return old  # a no-op write does not bump the revision, as upstream
        rev = await self.store.update(
            info.kind, member, _bytes_without_rv(new), old_rv, _encode_attrs(strategy, new),
            _encode_attrs(strategy, old),
        )
        meta.resource_version = str(rev)
        self._wrote(info.kind, rev)
        self.log.debug("object.updated", kind=info.kind, object=member.lstrip("/"), rv=rev)
        return new

    async def expire(self, kind: str, batch: int = 500) -> int:
        """Delete the objects of a kind whose time to live (the store's `ttl`, --event-ttl for Events) ran out
        since their last write, as etcd drops a key when its lease expires: watchers get DELETED with the object
        as last stored. The delete checks, in the same atomic step, that the object is at the revision read and that
        its time is still up, so one written meanwhile (given a new expiry) stays; several apiservers may sweep
        at once. Returns how many were deleted."""
        info = kinds.by_kind(kind)
        strategy = install.for_kind(info.kind)

        async def one(member: str) -> int:
            found = await self.store.get(kind, member)
            if found is None:
                await self.store.forget_expiry(kind, member)
                return 0
            data, rv = found
            try:
                attrs = _encode_attrs(strategy, self.decode(info, data, rv))
                rev = await self.store.delete(kind, member, data, rv, attrs, expired=True)
            except (st.Stale, st.Missing, st.NotExpired):
                return 0
            self.log.debug("object.expired", kind=kind, object=member, rv=rev)
            return 1

        total = 0
        while True:
            members = await self.store.expired(kind, batch)
            done = await asyncio.gather(*(one(m) for m in members))
            total += sum(done)
            if len(members) < batch or not any(done):
                return total

    async def delete(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
        propagation_policy: str = "",
    ) -> Any:
        info = kinds.by_kind(kind)
        strategy = install.for_kind(info.kind)
        namespace = namespace if info.namespaced else ""
        refusal = strategy.may_delete(name)
        if refusal is not None:
            raise errors.Forbidden(f'{info.resource} "{name}" is forbidden: {refusal}')
        if propagation_policy not in ("", "Background", "Foreground", "Orphan"):
            raise errors.BadRequest(
                f'Unsupported value: "{propagation_policy}": supported values: "Foreground", "Background", "Orphan"'
            )
        if grace_period_seconds is not None and grace_period_seconds < 0:
            grace_period_seconds = 0
        return await self._cache_first(self._delete, strategy, namespace, name, grace_period_seconds, uid,
                                       resource_version, propagation_policy)

    async def _delete(self, strategy: Strategy, namespace: str, name: str, grace_period_seconds: int | None,
                      uid: str | None, resource_version: str | None, propagation_policy: str, *, cached: bool
                      ) -> Any:
        info = strategy.info
        for attempt in range(_CAS_RETRIES):
            from_cache = cached and attempt == 0  # a retry after a failed CAS reads the store
            obj = await self._current(info, namespace, name, cached=from_cache)
            meta = obj.metadata
            if uid is not None and uid != meta.uid:
                raise errors.Conflict(
                    f"Precondition failed: UID in precondition: {uid}, UID in object meta: {meta.uid}"
                )
            if resource_version is not None and resource_version != meta.resource_version:
                raise errors.Conflict(
                    f"Precondition failed: ResourceVersion in precondition: {resource_version}, "
                    f"ResourceVersion in object meta: {meta.resource_version}"
                )
            await self.admission.validate(
                admission.Attributes(admission.DELETE, info, namespace, name, None, obj))
            try:
                return await self._delete_once(strategy, obj, grace_period_seconds, propagation_policy,
                                               from_cache=from_cache)
            except st.Stale:
                if resource_version is not None:
                    raise errors.Conflict(errors.conflict_message(info.resource, name)) from None
            except st.Missing:
                raise errors.NotFound(errors.not_found_message(info.resource, name)) from None
        raise errors.Conflict(errors.conflict_message(info.resource, name))

    async def _delete_once(self, strategy: Strategy, obj: Any, requested: int | None, policy: str, *,
                           from_cache: bool = False) -> Any:
        info = strategy.info
        meta = obj.metadata
        member = st.Store.member(meta.namespace, meta.name)
        old_rv = int(meta.resource_version)
        old_attrs = _encode_attrs(strategy, obj)
        grace = strategy.grace_period(obj, requested, self.config)
        changed = False
        if not meta.HasField("deletion_timestamp") and strategy.begin_termination(obj, float(int(self.clock()))):
            # Upon the first delete a namespace turns Terminating and stays (its registry's Delete upstream).
            finalizer = {"Orphan": "orphan", "Foreground": "foregroundDeletion"}.get(policy)
            if finalizer and finalizer not in meta.finalizers:
                meta.finalizers.append(finalizer)
            rev = await self.store.update(
                info.kind, member, _bytes_without_rv(obj), old_rv, _encode_attrs(strategy, obj), old_attrs
            )
            meta.resource_version = str(rev)
            self.log.info("object.terminating", kind=info.kind, object=member.lstrip("/"), rv=rev)
            return obj
        if meta.HasField("deletion_timestamp") and strategy.held(obj):
            if from_cache:
                raise _Recheck()  # only the store may say it is still held
            return obj  # its content is still being removed: the namespace goes when it is finalized
        if meta.HasField("deletion_timestamp"):
            # A second delete can only shorten the grace period.
            if meta.deletion_grace_period_seconds > grace:
                meta.deletion_grace_period_seconds = grace
                set_time(meta.deletion_timestamp, float(int(self.clock())) + grace)
                changed = True
        else:
            finalizer = {"Orphan": "orphan", "Foreground": "foregroundDeletion"}.get(policy)
            if finalizer and finalizer not in meta.finalizers:
                meta.finalizers.append(finalizer)
            if grace > 0 or meta.finalizers:
                meta.deletion_grace_period_seconds = grace
                set_time(meta.deletion_timestamp, float(int(self.clock())) + grace)
                changed = True
        if meta.finalizers or (meta.HasField("deletion_timestamp") and strategy.waits_for_grace(obj, grace)):
            if not changed:
                if from_cache:
                    raise _Recheck()
                return obj
            rev = await self.store.update(
                info.kind, member, _bytes_without_rv(obj), old_rv, _encode_attrs(strategy, obj), old_attrs
            )
            meta.resource_version = str(rev)
            self._wrote(info.kind, rev)
            self.log.debug("object.deleting", kind=info.kind, object=member.lstrip("/"), rv=rev, grace=grace)
            return obj
        if not meta.HasField("deletion_timestamp"):
            set_time(meta.deletion_timestamp, float(int(self.clock())))
            meta.deletion_grace_period_seconds = 0
        rev = await self.store.delete(info.kind, member, _bytes_without_rv(obj), old_rv, _encode_attrs(strategy, obj))
        meta.resource_version = str(rev)
        self._wrote(info.kind, rev)
        self.log.debug("object.deleted", kind=info.kind, object=member.lstrip("/"), rv=rev)
        await strategy.after_delete(self, obj)
        return obj

    async def bind(self, namespace: str, name: str, node_name: str, uid: str | None) -> Any:
        """The binding subresource of the one kind that serves it."""
        strategy = self._binder
        namespace = namespace or "default"
        if not node_name:
            raise _invalid(strategy.info, name, [validation.required("target.name")])
        return await self._cache_first(self._bind, strategy, namespace, name, node_name, uid)

    async def _bind(self, strategy: Strategy, namespace: str, name: str, node_name: str, uid: str | None, *,
                    cached: bool) -> Any:
        info = strategy.info
        for attempt in range(_CAS_RETRIES):
            from_cache = cached and attempt == 0  # a retry after a failed CAS reads the store
            obj = await self._current(info, namespace, name, cached=from_cache)
            if uid is not None and uid != obj.metadata.uid:
                raise errors.Conflict(
                    f"Precondition failed: UID in precondition: {uid}, UID in object meta: {obj.metadata.uid}"
                )
            old = type(obj)()
            old.CopyFrom(obj)
            strategy.bind(obj, node_name, self.clock())
            try:
                member = st.Store.member(namespace, name)
                rev = await self.store.update(
                    info.kind, member, _bytes_without_rv(obj), int(old.metadata.resource_version),
                    _encode_attrs(strategy, obj), _encode_attrs(strategy, old),
                )
            except st.Stale:
                continue
            except st.Missing:
                raise errors.NotFound(errors.not_found_message(info.resource, name)) from None
            obj.metadata.resource_version = str(rev)
            self.log.debug("pod.bound", kind=info.kind, object=f"{namespace}/{name}", node=node_name, rv=rev)
            return obj
        raise errors.Conflict(errors.conflict_message(info.resource, name))

    async def create_token(self, namespace: str, name: str, request: Any) -> Any:
        """The serviceaccounts/token subresource (TokenRequest): a token for ServiceAccount `name` in `namespace`,
        signed by this apiserver's issuer; NotFound when the apiserver has none (no signing key)."""
        if self.token_issuer is None:
            raise errors.NotFound("the server could not find the requested resource")
        return await serviceaccount.create_token(self.token_issuer, self.get, namespace or "default", name, request,
                                                 self.clock())

    async def ensure_system_objects(self) -> None:
        """Create the objects every cluster has (the system namespaces), unless they exist."""
        for strategy in builtins.list(install.STRATEGIES.values()):
            for obj in strategy.system_objects():
                try:
                    await self.create(obj)
                except errors.AlreadyExists:
                    pass

    ensure_system_namespaces = ensure_system_objects
