"""The node's probe results: the latest result per (pod, container, probe kind), and a channel per pod on which each
change is published for that pod's worker to act on (upstream's pkg/kubelet/prober/results/results_manager.go)."""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import Literal

ProbeKind = Literal["startup", "liveness", "readiness"]
KINDS: tuple[ProbeKind, ...] = ("startup", "liveness", "readiness")


class Result(enum.Enum):
    """What a probe worker reports once a threshold is crossed (upstream's results.Result, without Unknown: a
    container with no result yet simply has none)."""

    SUCCESS = "Success"
    FAILURE = "Failure"


@dataclass(frozen=True)
class ProbeKey:
    """Whose result: as upstream's probeKey, with the container named rather than identified, because a
    restarted container keeps its name; the run it belongs to is the update's container_id."""

    pod_uid: str
    container: str
    kind: ProbeKind


@dataclass(frozen=True)
class Update:
    """One change of a result (upstream's results.Update). container_id names the container's run, so that a
    consumer can drop an update that arrives after the container was restarted."""

    key: ProbeKey
    container_id: str
    result: Result


class ResultsManager:
    """One per kubelet, shared by its pod workers. Probe workers set results; each change is put on the pod's
    channel, which its pod worker drains. A pod with no channel open still has its results cached."""

    def __init__(self) -> None:
        self._results: dict[ProbeKey, Update] = {}
        self._updates: dict[str, asyncio.Queue[Update]] = {}

    def get(self, key: ProbeKey) -> Update | None:
        """The latest result for key, with the run of the container it was found on; None if there is none."""
        return self._results.get(key)

    def set(self, key: ProbeKey, container_id: str, result: Result) -> None:
        """Record a result; publish it when it differs from the latest one (or is about another run)."""
        update = Update(key, container_id, result)
        if self._results.get(key) == update:
            return  # as upstream, only changes are published: every probe past a threshold sets again
        self._results[key] = update
        channel = self._updates.get(key.pod_uid)
        if channel is not None:
            channel.put_nowait(update)

    def remove(self, pod_uid: str, container: str) -> None:
        """Forget a stopped container's results (its next run starts with none)."""
        for kind in KINDS:
            self._results.pop(ProbeKey(pod_uid, container, kind), None)

    def updates(self, pod_uid: str) -> asyncio.Queue[Update]:
        """The pod's channel of changes, opened on first use (upstream's Updates(), one per pod here: each pod
        worker serialises what happens to its pod, so it consumes its own pod's results, not the node's)."""
        channel = self._updates.get(pod_uid)
        if channel is None:
            channel = self._updates[pod_uid] = asyncio.Queue()
        return channel

    def remove_pod(self, pod_uid: str) -> None:
        """The pod's worker is gone: close its channel and forget its results."""
        self._updates.pop(pod_uid, None)
        for key in [k for k in self._results if k.pod_uid == pod_uid]:
            del self._results[key]
