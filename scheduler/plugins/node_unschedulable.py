"""NodeUnschedulable (pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go, v1.32): a
cordoned node (spec.unschedulable) takes only pods that tolerate node.kubernetes.io/unschedulable:NoSchedule."""

from __future__ import annotations

from kubemu.pb import core_pb2
from scheduler.framework import OK, NodeInfo, Snapshot, Status, tolerates, unschedulable

NAME = "NodeUnschedulable"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"

# The taint the plugin checks tolerations against: key and effect only, so an Equal toleration must have an
# empty value to match, as upstream builds v1.Taint{Key, Effect} without a value.
_UNSCHEDULABLE_TAINT = core_pb2.Taint(key=TAINT_NODE_UNSCHEDULABLE, effect="NoSchedule")


class NodeUnschedulable:
    """Filter only."""

    name = NAME

    def filter(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> Status:
        if not node.node.spec.unschedulable:
            return OK
        # A pod tolerating the unschedulable taint also tolerates spec.unschedulable (DaemonSet pods get
        # this toleration, which is how they land on cordoned nodes).
        if tolerates(pod.spec.tolerations, _UNSCHEDULABLE_TAINT):
            return OK
        return unschedulable(NAME, ERR_REASON_UNSCHEDULABLE, unresolvable=True)


node_unschedulable = NodeUnschedulable()
