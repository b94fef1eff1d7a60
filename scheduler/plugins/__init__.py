"""The plugin registry: filters in upstream's order and score plugins with upstream's default weights
(pkg/scheduler/apis/config/v1/default_plugins.go). Adding a plugin is one module and one line here."""

from __future__ import annotations

from scheduler.interface import FilterPlugin, ScorePlugin
from scheduler.plugins.balanced_allocation import balanced_allocation
from scheduler.plugins.image_locality import image_locality
from scheduler.plugins.inter_pod_affinity import inter_pod_affinity
from scheduler.plugins.node_affinity import node_affinity
from scheduler.plugins.node_name import node_name
from scheduler.plugins.node_ports import node_ports
from scheduler.plugins.node_resources_fit import node_resources_fit
from scheduler.plugins.node_unschedulable import node_unschedulable
from scheduler.plugins.pod_topology_spread import pod_topology_spread
from scheduler.plugins.taint_toleration import taint_toleration
from scheduler.plugins.volume_binding import volume_binding

FILTERS: tuple[FilterPlugin, ...] = (
    node_unschedulable,
    node_name,
    taint_toleration,
    node_affinity,
    node_ports,
    node_resources_fit,
    volume_binding,
    pod_topology_spread,
    inter_pod_affinity,
)

SCORES: tuple[tuple[ScorePlugin, int], ...] = (
    (taint_toleration, 3),
    (node_affinity, 2),
    (node_resources_fit, 1),
    (pod_topology_spread, 2),
    (inter_pod_affinity, 2),
    (balanced_allocation, 1),
    (image_locality, 1),
)

NODE_LOCAL: frozenset[object] = frozenset({
    node_unschedulable, node_name, taint_toleration, node_affinity, node_ports, node_resources_fit,
    balanced_allocation,
})
"""The plugins whose Filter and Score read only the pod's spec and the node info (their per-cycle state is
derived from the pod alone): their answers are kept per node and pod spec (NodeInfo.local_results)."""
