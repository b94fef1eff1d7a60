"""recovery: a Deployment of R replicas whose pods all run on one kubelet (the only node at first), then two
more kubelets join and the first is SIGKILLed. Figure: time until R pods run elsewhere, minus what the profile
makes us wait on purpose (node-monitor grace period + the pods' tolerationSeconds). Fast profile; the pods
carry unreachable/not-ready NoExecute tolerations of 1 s. Goal: <= 2 s."""

from __future__ import annotations

import time
from typing import Any

from bench import common as c
from bench.pod_startup import start_kubelets

NAME = "recovery"
TOLERATION_SECONDS = 1


def deployment(replicas: int) -> Any:
    from kubemu.api.serialization import from_dict

    tolerations = [{"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": TOLERATION_SECONDS}
                   for key in ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")]
    return from_dict({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "rec", "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "rec"}},
                 "template": {"metadata": {"labels": {"app": "rec"}, "annotations": dict(c.NO_PULL)},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}],
                                       "tolerations": tolerations}}}})


async def _pods(client: Any) -> list[Any]:
    items = (await client.pods.list("default", label_selector="app=rec")).items
    return [p for p in items if not p.metadata.HasField("deletion_timestamp")]


async def run(size: str, repeats: int) -> list[dict[str, Any]]:
    from kubemu import config as cfg
    from kubemu.client.client import Client

    replicas = c.pick(size, 10, 100)
    waited_on = cfg.profile("fast").node.node_monitor_grace_period_seconds + TOLERATION_SECONDS
    overheads, totals = [], []
    for _ in range(repeats):
        cluster = c.Cluster().start()
        try:
            async with Client(cluster.address) as admin:
                cluster.start_scheduler()
                cluster.start_controllers()
                await start_kubelets(cluster, 1, admin)
                await admin.deployments.create(deployment(replicas))

                async def all_running(node: str | None = None, avoid: str | None = None) -> bool:
                    pods: list[Any] = await _pods(admin)
                    ok = [p for p in pods if p.status.phase == "Running" and p.spec.node_name != avoid
                          and (node is None or p.spec.node_name == node)]
                    return len(pods) == replicas and len(ok) == replicas

                await c.until(lambda: all_running(node="node-0"), 120, what=f"{replicas} pods Running on node-0")
                for name in ("node-1", "node-2"):
                    cluster.start_kubelet(name)
                await c.until(lambda: c.node_ready(admin, "node-1"), 60, what="node-1 Ready")
                await c.until(lambda: c.node_ready(admin, "node-2"), 60, what="node-2 Ready")
                t0 = time.monotonic()
                cluster.kubelets["node-0"].kill()
                await c.until(lambda: all_running(avoid="node-0"), 120, interval=0.05,
                              what=f"{replicas} pods Running elsewhere")
                total = time.monotonic() - t0
        finally:
            cluster.stop()
        totals.append(total)
        overheads.append(total - waited_on)
    return [
        c.row(NAME, f"kill -> {replicas} pods Running elsewhere", totals, "s"),
        c.row(NAME, f"minus grace + toleration ({waited_on:.0f} s)", overheads, "s",
              c.for_size(size, c.at_most(2.0, "<= 2 s")), replicas=replicas, waited_on_s=waited_on),
    ]
