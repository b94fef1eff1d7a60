"""ResourceQuota (plugin/pkg/admission/resourcequota): a write that would use more than a namespace's quotas allow
is refused; one that fits is charged to the quotas' status.used first, with a compare-and-swap on each quota's
resourceVersion, so that concurrent writes cannot together overshoot (the quota evaluator's conflict retries)."""

from __future__ import annotations

from typing import Any, ClassVar

import structlog

from apiserver import errors
from apiserver.admission import CREATE, UPDATE, Attributes, Plugin
from apiserver.admission.limitranger import forbidden
from apiserver.watch import Filter
from kubemu.api import fields, labels
from kubemu.api import quota as q
from kubemu.pb import core_pb2

log = structlog.get_logger()

_EVERYTHING = Filter(None, labels.EVERYTHING, fields.EVERYTHING)
_RETRIES = 32
"""How often the charge is tried again after a quota moved under it (upstream retries the failed quotas too)."""


def _has_usage_stats(rq: core_pb2.ResourceQuota, interesting: list[str]) -> bool:
    """hasUsageStats: the quota controller has computed what is used of every limited name."""
    return all(name in rq.status.used for name in rq.status.hard if name in interesting)


class ResourceQuota(Plugin):
    name = "ResourceQuota"
    operations: ClassVar[frozenset[str]] = frozenset({CREATE, UPDATE})

    def handles(self, a: Attributes) -> bool:
        # Subresources (status, binding, ...) and cluster-scoped objects are never charged.
        return a.operation in self.operations and not a.subresource and bool(a.namespace) and a.info.namespaced

    async def validate(self, a: Attributes) -> None:
        evaluator = q.evaluator_for(a.info.resource, a.info.group)
        if a.operation not in evaluator.operations:
            return
        pending = await self._check_and_charge(a, evaluator, None)
        for _ in range(_RETRIES):
            if not pending:
                return
            pending = await self._check_and_charge(a, evaluator, pending)
        raise forbidden(a, f"unable to update status for quota: {', '.join(sorted(pending))}: the object has "
                           "been modified; please apply your changes to the latest version and try again")

    async def _check_and_charge(self, a: Attributes, ev: q.Evaluator, only: set[str] | None) -> set[str]:
        """One round of checkQuotas: the names of the quotas whose charge lost a race (to be checked again)."""
        if only is None:
            quotas = await self.registry.list_for_admission("ResourceQuota", a.namespace)
        else:  # after a conflict, from the store (upstream gets the quotas anew from the API)
            quotas, _ = await self.registry.list("ResourceQuota", a.namespace, _EVERYTHING)
            quotas = [rq for rq in quotas if rq.metadata.name in only]
        interesting = []
        for rq in quotas:
            if not ev.matches(rq, a.obj):
                continue
            restricted = ev.matching(rq.status.hard)
            if ev.constraints is not None:
                why = ev.constraints(restricted, a.obj)
                if why is not None:
                    raise forbidden(a, f"failed quota: {rq.metadata.name}: {why}")
            if not _has_usage_stats(rq, restricted):
                raise forbidden(a, f"status unknown for quota: {rq.metadata.name}, resources: "
                                   f"{','.join(sorted(restricted))}")
            interesting.append(rq)
        if not interesting:
            return set()
        now = self.registry.clock()
        delta = ev.usage(a.obj, now)
        if bad := q.negative(delta):
            raise forbidden(a, f"quota usage is negative for resource(s): {','.join(bad)}")
        if a.operation == UPDATE and a.old is not None and a.old.metadata.resource_version:
            delta = q.subtract_non_negative(delta, ev.usage(a.old, now))
        delta = q.remove_zeros(delta)
        if not delta:
            return set()
        charged: list[tuple[Any, q.ResourceList]] = []
        for rq in interesting:
            hard = q.parse_list(rq.status.hard)
            used = q.parse_list(rq.status.used)
            requested = q.mask(delta, hard)
            new_usage = q.add(used, requested)
            over = q.exceeded(q.mask(new_usage, requested), hard)
            if over:
                raise forbidden(a, f"exceeded quota: {rq.metadata.name}, requested: {q.pretty(q.mask(requested, over))}"
                                   f", used: {q.pretty(q.mask(used, over))}, limited: {q.pretty(q.mask(hard, over))}")
            charged.append((rq, new_usage))
        if a.dry_run:
            return set()
        lost: set[str] = set()
        for rq, new_usage in charged:
            rq.status.used.clear()
            rq.status.used.update(q.to_strings(new_usage))
            try:
                await self.registry.update(rq, status=True)  # rq carries the resourceVersion it was read at
            except errors.Conflict:
                lost.add(rq.metadata.name)
            except errors.NotFound:
                continue  # deleted meanwhile: nothing to charge
        if lost:
            log.debug("quota.conflict", component="apiserver", namespace=a.namespace, quotas=sorted(lost))
        return lost
