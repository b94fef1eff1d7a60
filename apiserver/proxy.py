"""Logs, exec and port forwarding proxied to the kubelet that runs the pod, found through the Node's InternalIP and
status.daemonEndpoints.kubeletEndpoint.Port (as kube-apiserver reaches kubelets)."""

from __future__ import annotations

from typing import Any

import grpc

from apiserver import errors
from apiserver.registry import Registry
from kubemu.pb import api_pb2_grpc


class KubeletProxy:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.channels: dict[str, grpc.aio.Channel] = {}

    async def stub_for(self, namespace: str, name: str, container: str) -> tuple[api_pb2_grpc.KubeletStub, str]:
        """The stub of the pod's kubelet and the container to ask for (defaulted when the pod has one)."""
        pod = await self.registry.get("Pod", namespace or "default", name)
        names = [c.name for c in pod.spec.containers]
        if not container:
            if len(names) != 1:
                raise errors.BadRequest(
                    f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
                )
            container = names[0]
        elif container not in names and container not in [c.name for c in pod.spec.init_containers]:
            raise errors.BadRequest(f"container {container} is not valid for pod {name}")
        return await self.stub_of(pod), container

    async def stub_of(self, pod: Any) -> api_pb2_grpc.KubeletStub:
        """The stub of the kubelet the pod is bound to."""
        name = pod.metadata.name
        if not pod.spec.node_name:
            raise errors.BadRequest(f"pod {name} does not have a host assigned")
        node: Any = await self.registry.get("Node", "", pod.spec.node_name)
        port = node.status.daemon_endpoints.kubelet_endpoint.port
        host = next((a.address for a in node.status.addresses if a.type == "InternalIP"), "")
        if not port or not host:
            raise errors.Unavailable(f'node "{pod.spec.node_name}" has no kubelet endpoint')
        address = f"{host}:{port}"
        channel = self.channels.get(address)
        if channel is None:
            channel = self.channels[address] = grpc.aio.insecure_channel(address)
        return api_pb2_grpc.KubeletStub(channel)

    async def close(self) -> None:
        for ch in self.channels.values():
            await ch.close()
