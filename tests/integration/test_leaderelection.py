"""Leader election on a Lease: one leader at a time; a standby takes over when the leader stops renewing."""

from __future__ import annotations

import asyncio

import pytest

from kubemu.client.client import Client
from kubemu.client.leaderelection import LeaderElectionConfig, LeaderElector
from tests.support import unique, until

pytestmark = pytest.mark.integration


async def test_one_leader_then_failover(client: Client) -> None:
    lease = unique("lock")
    cfg = dict(lease_name=lease, lease_duration=1.0, renew_deadline=0.8, retry_period=0.1)
    a = LeaderElector(client, LeaderElectionConfig(identity="a", **cfg))  # type: ignore[arg-type]
    b = LeaderElector(client, LeaderElectionConfig(identity="b", **cfg))  # type: ignore[arg-type]
    leading: list[str] = []
    a_stop = asyncio.Event()

    async def lead_a() -> None:
        leading.append("a")
        await a_stop.wait()

    async def lead_b() -> None:
        leading.append("b")
        await asyncio.Event().wait()

    ta = asyncio.create_task(a.run(lead_a))
    await until(lambda: leading == ["a"], 5)
    tb = asyncio.create_task(b.run(lead_b))
    held = await client.leases.get(lease, "kube-system")
    assert held.spec.holder_identity == "a"
    # b stays a standby while a renews
    with pytest.raises(AssertionError):
        await until(lambda: "b" in leading, 1.5)
    ta.cancel()  # the leader dies without releasing the lease
    await asyncio.gather(ta, return_exceptions=True)
    await until(lambda: leading == ["a", "b"], 5)
    after = await client.leases.get(lease, "kube-system")
    assert after.spec.holder_identity == "b" and after.spec.lease_transitions == 1
    tb.cancel()
    await asyncio.gather(tb, return_exceptions=True)
