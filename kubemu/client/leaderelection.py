"""Leader election on a coordination.k8s.io Lease, as client-go's leaderelection: acquire or renew every
retry period (the leader renews with one update of the lease it last wrote, reading it only when that fails);
a holder whose lease is not renewed within the lease duration can be replaced."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog

from kubemu.api.serialization import set_time
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.pb import coordination_pb2

log = structlog.get_logger()


@dataclass(frozen=True)
class LeaderElectionConfig:
    lease_name: str
    identity: str
    namespace: str = "kube-system"
    lease_duration: float = 15.0
    """How long a lease holds without renewal (kube-scheduler's --leader-elect-lease-duration)."""
    renew_deadline: float = 10.0
    """A leader that cannot renew for this long steps down (--leader-elect-renew-deadline)."""
    retry_period: float = 2.0
    """Time between tries (--leader-elect-retry-period)."""


class LeaderElector:
    def __init__(
        self, client: Client, config: LeaderElectionConfig, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.client = client
        self.config = config
        self.clock = clock
        self.is_leader = False
        self._observed: tuple[str, bytes] | None = None  # (holder, renewTime) last seen
        self._observed_at = 0.0
        self._lease: coordination_pb2.Lease | None = None
        """The lease as we last wrote it, while we hold it."""
        self.log = log.bind(lease=f"{config.namespace}/{config.lease_name}", identity=config.identity)

    async def try_acquire_or_renew(self) -> bool:
        cfg = self.config
        now_wall = time.time()
        held = self._lease
        if held is not None and held.spec.holder_identity == cfg.identity \
                and self.clock() < self._observed_at + cfg.lease_duration:
            # client-go's fast path: the leader updates the lease it last wrote, assuming it is still the current
            # version; only when that fails does it read the lease again (the slow path below).
            renewed = coordination_pb2.Lease()
            renewed.CopyFrom(held)
            set_time(renewed.spec.renew_time, now_wall)
            try:
                updated = await self.client.leases.update(renewed)
            except errors.ApiError as e:
                self.log.info("leader.optimistic_renew_failed", error=str(e))
                self._lease = None
            else:
                self._lease = updated
                self._observe(updated)
                return True
        self._lease = None
        try:
            lease = await self.client.leases.get(cfg.lease_name, cfg.namespace)
        except errors.NotFound:
            lease = coordination_pb2.Lease()
            lease.metadata.name = cfg.lease_name
            lease.metadata.namespace = cfg.namespace
            lease.spec.holder_identity = cfg.identity
            lease.spec.lease_duration_seconds = max(1, round(cfg.lease_duration))
            set_time(lease.spec.acquire_time, now_wall)
            set_time(lease.spec.renew_time, now_wall)
            lease.spec.lease_transitions = 0
            try:
                self._lease = await self.client.leases.create(lease)
            except errors.AlreadyExists:
                return False
            self._observe(lease)
            return True
        self._observe(lease)
        holder = lease.spec.holder_identity
        expired = self.clock() > self._observed_at + cfg.lease_duration
        if holder and holder != cfg.identity and not expired:
            return False
        if holder != cfg.identity:
            lease.spec.lease_transitions = lease.spec.lease_transitions + 1
            set_time(lease.spec.acquire_time, now_wall)
        lease.spec.holder_identity = cfg.identity
        lease.spec.lease_duration_seconds = max(1, round(cfg.lease_duration))
        set_time(lease.spec.renew_time, now_wall)
        try:
            updated = await self.client.leases.update(lease)
        except errors.Conflict:
            return False
        self._lease = updated
        self._observe(updated)
        return True

    def _observe(self, lease: coordination_pb2.Lease) -> None:
        record = (lease.spec.holder_identity, lease.spec.renew_time.SerializeToString())
        if record != self._observed:
            self._observed = record
            self._observed_at = self.clock()

    async def run(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Wait to become leader, then run `lead()` while renewing; return when leadership is lost (the
        caller exits, as kube-scheduler does, so that it restarts clean)."""
        cfg = self.config
        while not self.is_leader:
            try:
                self.is_leader = await self.try_acquire_or_renew()
            except errors.ApiError as e:
                self.log.info("leader.retry", error=str(e))
            if not self.is_leader:
                await asyncio.sleep(cfg.retry_period)
        self.log.info("leader.acquired")
        task = asyncio.create_task(lead())
        try:
            last_renew = self.clock()
            while not task.done():
                await asyncio.sleep(cfg.retry_period)
                try:
                    if await self.try_acquire_or_renew():
                        last_renew = self.clock()
                except errors.ApiError as e:
                    self.log.info("leader.renew_failed", error=str(e))
                if self.clock() - last_renew > cfg.renew_deadline:
                    self.log.warning("leader.lost")
                    break
        finally:
            self.is_leader = False
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
