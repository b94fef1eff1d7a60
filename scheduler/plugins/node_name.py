"""NodeName (pkg/scheduler/framework/plugins/nodename/node_name.go, v1.32): a pod that already names its
node in spec.nodeName fits only that node."""

from __future__ import annotations

from kubemu.pb import core_pb2
from scheduler.framework import OK, NodeInfo, Snapshot, Status, unschedulable

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"


def fits(pod: core_pb2.Pod, node: NodeInfo) -> bool:
    """nodename.Fits: an empty spec.nodeName fits every node."""
    return not pod.spec.node_name or pod.spec.node_name == node.name


class NodeName:
    """Filter only."""

    name = NAME

    def filter(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> Status:
        if fits(pod, node):
            return OK
        # Unresolvable: evicting pods from this node can never change its name, so preemption skips it.
        return unschedulable(NAME, ERR_REASON, unresolvable=True)


node_name = NodeName()
