"""Leader election on a Lease: one leader at a time; a standby takes over when the leader stops renewing."""

from __future__ import annotations

import asyncio

import pytest

from kubemu.client.client import Client, retry_on_conflict
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


async def test_the_leader_renews_without_reading_and_steps_down_when_the_lease_is_taken(client: Client) -> None:
    lease = unique("lock")
    cfg = LeaderElectionConfig(identity="a", lease_name=lease, lease_duration=1.0, renew_deadline=0.5,
                               retry_period=0.05)
    elector = LeaderElector(client, cfg)
    reads = 0
    get = client.leases.get

    async def counting_get(*args: object, **kw: object) -> object:
        nonlocal reads
        reads += 1
        return await get(*args, **kw)  # type: ignore[arg-type]

    leading = asyncio.Event()

    async def lead() -> None:
        leading.set()
        await asyncio.Event().wait()

    run = asyncio.create_task(elector.run(lead))
    try:
        await asyncio.wait_for(leading.wait(), 5)
        client.leases.get = counting_get  # type: ignore[method-assign]
        first = (await get(lease, "kube-system")).metadata.resource_version
        reads = 0

        async def renewed_thrice() -> bool:
            held = await get(lease, "kube-system")
            return int(held.metadata.resource_version) >= int(first) + 3

        await until(renewed_thrice, 5)
        assert reads == 0  # client-go's fast path: each renewal is one update of the lease it last wrote
        # Someone else takes the lease: the optimistic update conflicts, the leader reads it and steps down.
        async def take() -> None:
            taken = await get(lease, "kube-system")
            taken.spec.holder_identity = "thief"
            await client.leases.update(taken)

        await retry_on_conflict(take, attempts=20)  # the leader renews every 50 ms

        async def stepped_down() -> bool:
            return run.done()

        await until(stepped_down, 5)
        assert reads > 0 and not elector.is_leader
        held = await get(lease, "kube-system")
        assert held.spec.holder_identity == "thief"
    finally:
        client.leases.get = get  # type: ignore[method-assign]
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
