"""ImageLocality (pkg/scheduler/framework/plugins/imagelocality/image_locality.go, v1.32): favour nodes that
already hold the pod's images, weighted by image size and discounted for images present on few nodes."""

from __future__ import annotations

from kubemu.pb import core_pb2
from scheduler.framework import MAX_NODE_SCORE, NodeInfo, Snapshot

NAME = "ImageLocality"
MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
"""Below this the score is 0: small images are cheap to pull anyway."""
MAX_CONTAINER_THRESHOLD = 1000 * MB
"""Per container; the sum saturates at this times the number of containers (score 100)."""


def normalized_image_name(name: str) -> str:
    """normalizedImageName: an image without a tag is `:latest` (a digest's ':' counts as a tag, as upstream);
    node status lists images with their tag, so the bare name would never match."""
    if name.rfind(":") <= name.rfind("/"):
        name += ":latest"
    return name


def scaled_image_score(size: int, num_nodes: int, total_num_nodes: int) -> int:
    """scaledImageScore: size times the share of nodes holding the image, truncated like Go's int64(float64).
    The spread factor fights "node heating": an image on one node of many barely counts."""
    spread = float(num_nodes) / float(total_num_nodes)
    return int(float(size) * spread)


def calculate_priority(sum_scores: int, num_containers: int) -> int:
    """calculatePriority: the sum clamped to [23MB, 1000MB * containers] and scaled linearly to 0..100."""
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    sum_scores = max(MIN_THRESHOLD, min(sum_scores, max_threshold))
    # Operands are non-negative here, so floor division equals Go's truncating division.
    return MAX_NODE_SCORE * (sum_scores - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


class ImageLocality:
    """Score only; scores are already 0..100, so normalize is the identity (ScoreExtensions() is nil)."""

    name = NAME
    normalize_is_identity = True

    def skip(self, pod: core_pb2.Pod, snapshot: Snapshot) -> bool:
        """No node of the snapshot holds any of the pod's images: every node would score 0. (Upstream has no
        PreScore here; leaving the plugin out then changes no total.)"""
        held = snapshot.image_num_nodes
        return not any(normalized_image_name(c.image) in held
                       for c in [*pod.spec.init_containers, *pod.spec.containers])

    def score(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> int:
        states = node.image_states
        if not states:
            return 0  # no image here: the sum is 0, which scores 0 whatever the pod
        containers = [*pod.spec.init_containers, *pod.spec.containers]
        if not containers:
            return 0  # validation requires a container; this only avoids a negative threshold span
        total = 0
        # Init containers count as well as app containers: all their images must be present before the pod runs.
        for c in containers:
            name = normalized_image_name(c.image)
            size = states.get(name)
            if size is None:
                continue
            # ImageStateSummary.NumNodes over the snapshot, counted once per snapshot; the size is this node's
            # own report (upstream keeps the size the cache saw first, which differs only if nodes disagree).
            num_nodes = snapshot.image_num_nodes.get(name, 0)
            # totalNumNodes is len(snapshot); the max only guards a node scored outside its snapshot.
            total_num_nodes = max(len(snapshot.nodes), num_nodes, 1)
            total += scaled_image_score(size, max(num_nodes, 1), total_num_nodes)
        return calculate_priority(total, len(containers))

    def normalize(self, pod: core_pb2.Pod, scores: dict[str, int], snapshot: Snapshot) -> dict[str, int]:
        return dict(scores)


image_locality = ImageLocality()
