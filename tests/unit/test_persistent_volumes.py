"""The kubelet's node disk: a claim's volume and a hostPath are trees of the node, shared by the pods that mount
them and outliving each; a pod whose claim is not bound waits (showing ContainerCreating), or gives up when told."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubelet.persistent_volumes import VolumeManager
from kubelet.runtime.fs import Volume
from kubemu.api.serialization import from_dict
from kubemu.client import errors
from kubemu.pb import core_pb2
from tests.support import until

pytestmark = pytest.mark.unit


def pod(name: str, **source: Any) -> core_pb2.Pod:
    return from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"},  # type: ignore
                      "spec": {"containers": [{"name": "c", "image": "busybox",
                                               "volumeMounts": [{"name": "d", "mountPath": "/d", "subPath": "sub"}]}],
                               "volumes": [{"name": "d", **source}]}})


class Api:
    def __init__(self) -> None:
        self.claims: dict[str, Any] = {}
        self.volumes: dict[str, Any] = {}

    async def claim(self, name: str, namespace: str) -> Any:
        if name not in self.claims:
            raise errors.NotFound(f'persistentvolumeclaims "{name}" not found')
        return self.claims[name]

    async def volume(self, name: str) -> Any:
        return self.volumes[name]

    def bind(self, claim: str, pv: str, **source: Any) -> None:
        self.claims[claim] = from_dict({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                        "metadata": {"name": claim, "namespace": "ns"},
                                        "spec": {"volumeName": pv}, "status": {"phase": "Bound"}})
        self.volumes[pv] = from_dict({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
                                      "spec": source})


async def mounted(vm: VolumeManager, p: core_pb2.Pod) -> dict[str, Volume]:
    volumes = {v.name: Volume(v.name) for v in p.spec.volumes}
    assert await vm.mount_until(p, volumes, asyncio.Event(), lambda: False, lambda: None)
    return volumes


async def test_a_claims_files_outlive_the_pod_and_a_host_path_is_the_nodes() -> None:
    api = Api()
    api.bind("data", "pv1", csi={"driver": "x", "volumeHandle": "h"})
    vm = VolumeManager(api.claim, api.volume, retry=0.01)
    first = await mounted(vm, pod("a", persistentVolumeClaim={"claimName": "data"}))
    assert first["d"].fs.is_dir("/sub")  # the subPath made in the volume
    first["d"].fs.write("/f", b"kept")
    second = await mounted(vm, pod("b", persistentVolumeClaim={"claimName": "data"}))
    assert second["d"].fs.read("/f") == b"kept"
    api.bind("other", "pv2", hostPath={"path": "/srv/x/"})
    by_claim = await mounted(vm, pod("c", persistentVolumeClaim={"claimName": "other"}))
    inline = await mounted(vm, pod("d", hostPath={"path": "/srv/x"}))
    assert by_claim["d"].fs is inline["d"].fs  # a hostPath volume is the node's folder, however it is named


async def test_a_pod_waits_for_its_claim_and_can_give_up() -> None:
    api = Api()
    vm = VolumeManager(api.claim, api.volume, retry=0.01)
    p = pod("a", persistentVolumeClaim={"claimName": "late"})
    volumes = {"d": Volume("d")}
    told: list[bool] = []
    wake = asyncio.Event()
    waiting = asyncio.create_task(vm.mount_until(p, volumes, wake, lambda: False, lambda: told.append(True)))
    await until(lambda: told, 5)
    assert told == [True] and not waiting.done()
    api.bind("late", "pv1", hostPath={"path": "/mnt/late"})
    assert await asyncio.wait_for(waiting, 5)
    stopped = asyncio.Event()
    p2 = pod("b", persistentVolumeClaim={"claimName": "never"})
    giving_up = asyncio.create_task(vm.mount_until(p2, {"d": Volume("d")}, stopped, lambda: True, lambda: None))
    stopped.set()
    assert await asyncio.wait_for(giving_up, 5) is False
