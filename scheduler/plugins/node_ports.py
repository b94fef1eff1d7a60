"""NodePorts (pkg/scheduler/framework/plugins/nodeports/node_ports.go, v1.32): a pod's host ports must not
collide with host ports already taken on the node."""

from __future__ import annotations

from collections.abc import Iterable

from kubemu.pb import core_pb2
from scheduler.framework import OK, NodeInfo, Snapshot, Status, unschedulable

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"
DEFAULT_BIND_ALL_HOST_IP = "0.0.0.0"


def host_ports(pod: core_pb2.Pod) -> list[core_pb2.ContainerPort]:
    """getContainerPorts: the app containers' ports with a hostPort. v1.32 ignores init containers, sidecars
    too (kubernetes/kubernetes#132040 added sidecars later, back to 1.33), as NodeInfo.used_ports does."""
    return [p for c in pod.spec.containers for p in c.ports if p.host_port > 0]


def check_conflict(used: Iterable[tuple[str, str, int]], ip: str, protocol: str, port: int) -> bool:
    """HostPortInfo.CheckConflict. Empty hostIP means 0.0.0.0 and empty protocol TCP. 0.0.0.0 binds every
    address, so it conflicts with the same protocol/port on any IP; a specific IP conflicts with itself
    and with 0.0.0.0."""
    if port <= 0:
        return False
    ip = ip or DEFAULT_BIND_ALL_HOST_IP
    protocol = protocol or "TCP"
    for used_ip, used_protocol, used_port in used:
        if (used_protocol, used_port) != (protocol, port):
            continue
        if ip == DEFAULT_BIND_ALL_HOST_IP or used_ip in (DEFAULT_BIND_ALL_HOST_IP, ip):
            return True
    return False


def fits(pod: core_pb2.Pod, node: NodeInfo) -> bool:
    return not any(check_conflict(node.used_ports, p.host_ip, p.protocol, p.host_port) for p in host_ports(pod))


class NodePorts:
    """Filter only."""

    name = NAME

    def skip_filter(self, pod: core_pb2.Pod, snapshot: Snapshot) -> bool:
        """PreFilter's Skip: the pod asks for no host port."""
        return not any(port.host_port for c in pod.spec.containers for port in c.ports)

    def filter(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> Status:
        if fits(pod, node):
            return OK
        # Plain Unschedulable (not Unresolvable): evicting the pod holding the port frees it, so preemption
        # may help here.
        return unschedulable(NAME, ERR_REASON)


node_ports = NodePorts()
