"""The Deployment controller: ReplicaSets named `<deployment>-<pod-template-hash>`, one per template revision;
RollingUpdate within maxSurge and maxUnavailable (Recreate when asked), revision history, pause, and the
Available and Progressing conditions (pkg/controller/deployment upstream)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import structlog

from controllers.replicaset import controller_ref
from controllers.workqueue import RateLimitingQueue, run_workers
from kubemu.api import labels
from kubemu.api.serialization import set_time, time_value
from kubemu.client import errors
from kubemu.client.client import Client, retry_on_conflict
from kubemu.client.events import EventRecorder
from kubemu.client.informer import Informer
from kubemu.pb import apps_pb2, core_pb2, meta_pb2

log = structlog.get_logger()

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: core_pb2.PodTemplateSpec, collision_count: int = 0) -> str:
    """controller.ComputeHash: fnv32a of the template (and the collision count), safely encoded."""
    data = template.SerializeToString(deterministic=True) + (str(collision_count).encode() if collision_count else b"")
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return "".join(_ALPHABET[ord(c) % len(_ALPHABET)] for c in str(h))


def _without_hash(template: core_pb2.PodTemplateSpec) -> bytes:
    t = core_pb2.PodTemplateSpec()
    t.CopyFrom(template)
    t.metadata.labels.pop(HASH_LABEL, None)
    return t.SerializeToString(deterministic=True)


def resolve(value: meta_pb2.IntOrString, total: int, round_up: bool, default: str) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if value.WhichOneof("value") == "int_val":
        return value.int_val
    text = value.str_val if value.WhichOneof("value") == "str_val" else default
    if text.endswith("%"):
        scaled = int(text[:-1]) * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    return int(text)


def surge_and_unavailable(d: apps_pb2.Deployment) -> tuple[int, int]:
    replicas = d.spec.replicas if d.spec.HasField("replicas") else 1
    ru = d.spec.strategy.rolling_update
    surge = resolve(ru.max_surge, replicas, True, "25%")
    unavailable = resolve(ru.max_unavailable, replicas, False, "25%")
    if surge == 0 and unavailable == 0:
        unavailable = 1  # both zero would deadlock a rollout
    return surge, min(unavailable, replicas)


def _revision(rs: apps_pb2.ReplicaSet) -> int:
    try:
        return int(rs.metadata.annotations.get(REVISION, "0"))
    except ValueError:
        return 0


def _replicas(rs: Any) -> int:
    return int(rs.spec.replicas) if rs.spec.HasField("replicas") else 1


class DeploymentController:
    def __init__(self, client: Client, deployments: Informer[apps_pb2.Deployment],
                 replica_sets: Informer[apps_pb2.ReplicaSet], recorder: EventRecorder,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.deployments = deployments
        self.replica_sets = replica_sets
        self.recorder = recorder
        self.clock = clock
        self.queue = RateLimitingQueue(name="deployment")
        self.log = log.bind(component="controllers", controller="deployment")
        deployments.add_handler(self._enqueue, lambda o, n: self._enqueue(n), self._enqueue)
        replica_sets.add_handler(self._rs_changed, lambda o, n: self._rs_changed(n), self._rs_changed)

    def _enqueue(self, d: Any) -> None:
        self.queue.add(f"{d.metadata.namespace}/{d.metadata.name}")

    def _rs_changed(self, rs: apps_pb2.ReplicaSet) -> None:
        ref = controller_ref(rs)
        if ref is not None and ref.kind == "Deployment":
            self.queue.add(f"{rs.metadata.namespace}/{ref.name}")

    async def run(self) -> None:
        await run_workers(self.queue, self.sync, 2,
                          on_error=lambda k, e: self.log.warning("sync.failed", object=k, error=str(e)))

    def _owned(self, d: apps_pb2.Deployment) -> list[apps_pb2.ReplicaSet]:
        sel = labels.from_label_selector(d.spec.selector)
        out = []
        for rs in self.replica_sets.store.by_index("namespace", d.metadata.namespace):
            ref = controller_ref(rs)
            if ref is not None and ref.uid == d.metadata.uid and sel.matches(rs.spec.template.metadata.labels):
                out.append(rs)
        return sorted(out, key=lambda r: (_revision(r), time_value(r.metadata.creation_timestamp)))

    async def sync(self, key: str) -> None:
        d = self.deployments.store.get(key)
        if d is None or d.metadata.HasField("deletion_timestamp"):
            return
        owned = self._owned(d)
        wanted = _without_hash(d.spec.template)
        new = next((rs for rs in owned if _without_hash(rs.spec.template) == wanted), None)
        old = [rs for rs in owned if rs is not new]
        replicas = d.spec.replicas if d.spec.HasField("replicas") else 1
        if d.spec.paused:
            if new is not None and not old and _replicas(new) != replicas:
                await self._scale(new, replicas, d)
            await self._status(d, new, owned)
            return
        if new is None:
            new = await self._create_new(d, owned)
            owned = [*old, new]
        elif _revision(new) <= max((_revision(r) for r in old), default=0):
            new = await self._bump_revision(new, max(_revision(r) for r in old) + 1)  # a rollback reuses it
        if d.metadata.annotations.get(REVISION) != new.metadata.annotations.get(REVISION):
            await self._annotate(d, new.metadata.annotations.get(REVISION, "1"))
        if d.spec.strategy.type == "Recreate":
            await self._recreate(d, new, old, replicas)
        else:
            await self._rolling(d, new, old, replicas)
        await self._cleanup(d, old)
        await self._status(d, new, [*old, new])

    async def _create_new(self, d: apps_pb2.Deployment, owned: list[apps_pb2.ReplicaSet]) -> apps_pb2.ReplicaSet:
        collision = d.status.collision_count if d.status.HasField("collision_count") else 0
        h = template_hash(d.spec.template, collision)
        rs = apps_pb2.ReplicaSet()
        rs.metadata.name = f"{d.metadata.name}-{h}"
        rs.metadata.namespace = d.metadata.namespace
        rs.metadata.labels.update(d.spec.template.metadata.labels)
        rs.metadata.labels[HASH_LABEL] = h
        rs.metadata.annotations[REVISION] = str(max((_revision(r) for r in owned), default=0) + 1)
        rs.metadata.owner_references.add(api_version="apps/v1", kind="Deployment", name=d.metadata.name,
                                         uid=d.metadata.uid, controller=True, block_owner_deletion=True)
        rs.spec.replicas = 0
        rs.spec.min_ready_seconds = d.spec.min_ready_seconds
        rs.spec.selector.CopyFrom(d.spec.selector)
        rs.spec.selector.match_labels[HASH_LABEL] = h
        rs.spec.template.CopyFrom(d.spec.template)
        rs.spec.template.metadata.labels[HASH_LABEL] = h
        try:
            created = await self.client.replica_sets.create(rs)
        except errors.AlreadyExists:
            # Another template hashed to the same name: bump collisionCount and try again next sync.
            cur = await self.client.deployments.get(d.metadata.name, d.metadata.namespace)
            cur.status.collision_count = collision + 1
            await self.client.deployments.update_status(cur)
            raise
        await self.recorder.event(d, "Normal", "ScalingReplicaSet", f"Scaled up replica set {rs.metadata.name} "
                                  "from 0 to 0")
        self.log.info("replicaset.created", deployment=f"{d.metadata.namespace}/{d.metadata.name}",
                      replicaset=rs.metadata.name)
        return created

    async def _bump_revision(self, rs: apps_pb2.ReplicaSet, revision: int) -> apps_pb2.ReplicaSet:
        cur = await self.client.replica_sets.get(rs.metadata.name, rs.metadata.namespace)
        cur.metadata.annotations[REVISION] = str(revision)
        return await self.client.replica_sets.update(cur)

    async def _annotate(self, d: apps_pb2.Deployment, revision: str) -> None:
        async def write() -> None:
            cur = await self.client.deployments.get(d.metadata.name, d.metadata.namespace)
            cur.metadata.annotations[REVISION] = revision
            await self.client.deployments.update(cur)

        await retry_on_conflict(write)

    async def _scale(self, rs: apps_pb2.ReplicaSet, to: int, d: apps_pb2.Deployment) -> None:
        if _replicas(rs) == to:
            return
        cur = await self.client.replica_sets.get(rs.metadata.name, rs.metadata.namespace)
        before = _replicas(cur)
        cur.spec.replicas = to
        await self.client.replica_sets.update(cur)
        verb = "up" if to > before else "down"
        await self.recorder.event(d, "Normal", "ScalingReplicaSet",
                                  f"Scaled {verb} replica set {rs.metadata.name} from {before} to {to}")

    async def _recreate(self, d: apps_pb2.Deployment, new: apps_pb2.ReplicaSet, old: list[apps_pb2.ReplicaSet],
                        replicas: int) -> None:
        for rs in old:
            await self._scale(rs, 0, d)
        if any(rs.status.replicas > 0 for rs in old):
            return  # wait for the old pods to go before the new ones start
        await self._scale(new, replicas, d)

    async def _rolling(self, d: apps_pb2.Deployment, new: apps_pb2.ReplicaSet, old: list[apps_pb2.ReplicaSet],
                       replicas: int) -> None:
        surge, max_unavailable = surge_and_unavailable(d)
        all_rs = [*old, new]
        current = sum(_replicas(rs) for rs in all_rs)
        # reconcileNewReplicaSet: scale the new one up within maxSurge.
        if _replicas(new) > replicas:
            await self._scale(new, replicas, d)
            return
        if _replicas(new) < replicas:
            up = min(replicas + surge - current, replicas - _replicas(new))
            if up > 0:
                await self._scale(new, _replicas(new) + up, d)
                return
        # reconcileOldReplicaSets: scale old ones down while keeping replicas - maxUnavailable available.
        min_available = replicas - max_unavailable
        new_unavailable = _replicas(new) - new.status.available_replicas
        budget = current - min_available - new_unavailable
        if budget <= 0:
            return
        oldest_first = sorted(old, key=lambda r: time_value(r.metadata.creation_timestamp))
        size = {rs.metadata.name: _replicas(rs) for rs in oldest_first}
        # First the old pods that are not available anyway (cleanupUnhealthyReplicas) ...
        for rs in oldest_first:
            unhealthy = size[rs.metadata.name] - rs.status.available_replicas
            if budget <= 0 or unhealthy <= 0:
                continue
            down = min(unhealthy, budget)
            size[rs.metadata.name] -= down
            budget -= down
            await self._scale(rs, size[rs.metadata.name], d)
        # ... then available ones, as far as availability above replicas - maxUnavailable allows. A replica set
        # counts at most its spec's replicas as available: right after a scale-down its status still counts the
        # pods being removed until the replica set controller writes it again, and counting those let a sync
        # scale down twice for one step (seen as 2 Ready pods of 4 with maxUnavailable 1).
        surplus = sum(min(rs.status.available_replicas, _replicas(rs)) for rs in all_rs) - min_available
        for rs in oldest_first:
            if surplus <= 0:
                break
            down = min(size[rs.metadata.name], surplus)
            if down > 0:
                size[rs.metadata.name] -= down
                surplus -= down
                await self._scale(rs, size[rs.metadata.name], d)

    async def _cleanup(self, d: apps_pb2.Deployment, old: list[apps_pb2.ReplicaSet]) -> None:
        limit = d.spec.revision_history_limit if d.spec.HasField("revision_history_limit") else 10
        idle = [rs for rs in old if _replicas(rs) == 0 and rs.status.replicas == 0]
        for rs in sorted(idle, key=_revision)[: max(len(idle) - limit, 0)]:
            try:
                await self.client.replica_sets.delete(rs.metadata.name, rs.metadata.namespace, uid=rs.metadata.uid)
            except errors.NotFound:
                pass

    async def _status(self, d: apps_pb2.Deployment, new: apps_pb2.ReplicaSet | None,
                      owned: list[apps_pb2.ReplicaSet]) -> None:
        replicas = d.spec.replicas if d.spec.HasField("replicas") else 1
        _, max_unavailable = surge_and_unavailable(d)
        available = sum(rs.status.available_replicas for rs in owned)
        st = apps_pb2.DeploymentStatus(
            observed_generation=d.metadata.generation,
            replicas=sum(rs.status.replicas for rs in owned),
            updated_replicas=new.status.replicas if new is not None else 0,
            ready_replicas=sum(rs.status.ready_replicas for rs in owned),
            available_replicas=available,
            unavailable_replicas=max(replicas - available, 0),
        )
        if d.status.HasField("collision_count"):
            st.collision_count = d.status.collision_count
        now = float(int(self.clock()))
        conds = {c.type: c for c in d.status.conditions}
        ok = available >= replicas - max_unavailable
        self._condition(st, conds.get("Available"), "Available", "True" if ok else "False",
                        "MinimumReplicasAvailable" if ok else "MinimumReplicasUnavailable",
                        "Deployment has minimum availability." if ok else
                        "Deployment does not have minimum availability.", now)
        name = new.metadata.name if new is not None else ""
        complete = (new is not None and st.updated_replicas == replicas and available == replicas
                    and st.replicas == replicas)
        prog = conds.get("Progressing")
        deadline = d.spec.progress_deadline_seconds if d.spec.HasField("progress_deadline_seconds") else 600
        if d.spec.paused:
            self._condition(st, prog, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now)
        elif complete:
            self._condition(st, prog, "Progressing", "True", "NewReplicaSetAvailable",
                            f'ReplicaSet "{name}" has successfully progressed.', now)
        elif prog is not None and prog.status == "True" and now - time_value(prog.last_update_time) > deadline:
            self._condition(st, prog, "Progressing", "False", "ProgressDeadlineExceeded",
                            f'ReplicaSet "{name}" has timed out progressing.', now)
        else:
            self._condition(st, prog, "Progressing", "True", "ReplicaSetUpdated",
                            f'ReplicaSet "{name}" is progressing.', now, touch=prog is None or
                            prog.reason != "ReplicaSetUpdated")
        if st.SerializeToString(deterministic=True) == d.status.SerializeToString(deterministic=True):
            return

        async def write() -> None:
            cur = await self.client.deployments.get(d.metadata.name, d.metadata.namespace)
            cur.status.CopyFrom(st)
            await self.client.deployments.update_status(cur)

        try:
            await retry_on_conflict(write)
        except errors.NotFound:
            return
        if not complete and not d.spec.paused:
            self.queue.add_after(f"{d.metadata.namespace}/{d.metadata.name}", 1.0)  # check the deadline again

    @staticmethod
    def _condition(st: apps_pb2.DeploymentStatus, old: apps_pb2.DeploymentCondition | None, ctype: str,
                   status: str, reason: str, message: str, now: float, touch: bool = True) -> None:
        c = st.conditions.add(type=ctype, status=status, reason=reason, message=message)
        if old is not None and old.status == status:
            c.last_transition_time.CopyFrom(old.last_transition_time)
        else:
            set_time(c.last_transition_time, now)
        if old is not None and old.reason == reason and not touch:
            c.last_update_time.CopyFrom(old.last_update_time)
        elif old is not None and old.reason == reason and old.message == message:
            c.last_update_time.CopyFrom(old.last_update_time)
        else:
            set_time(c.last_update_time, now)
