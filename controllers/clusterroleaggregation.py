"""The ClusterRole aggregation controller: a ClusterRole with an aggregationRule holds the union of the rules of
the ClusterRoles its selectors match, in name order, kept current as those change
(pkg/controller/clusterroleaggregation upstream)."""

from __future__ import annotations

from typing import Any

import structlog

from controllers.workqueue import RateLimitingQueue, run_workers
from kubemu.api import labels
from kubemu.client.client import Client
from kubemu.client.informer import Informer
from kubemu.pb import rbac_pb2

log = structlog.get_logger()


def aggregated_rules(role: rbac_pb2.ClusterRole, roles: list[rbac_pb2.ClusterRole]) -> list[rbac_pb2.PolicyRule]:
    """The rules `role` aggregates from `roles`: selector by selector, the matching roles (but itself) by name,
    each rule once."""
    out: list[rbac_pb2.PolicyRule] = []
    ordered = sorted(roles, key=lambda r: r.metadata.name)
    for sel in role.aggregation_rule.cluster_role_selectors:
        try:
            selector = labels.from_label_selector(sel)
        except labels.SelectorError:
            continue  # validation refuses such a selector; one stored before that selects nothing
        for other in ordered:
            if other.metadata.name == role.metadata.name or not selector.matches(dict(other.metadata.labels)):
                continue
            for rule in other.rules:
                if rule not in out:
                    out.append(rule)
    return out


class ClusterRoleAggregationController:
    def __init__(self, client: Client, cluster_roles: Informer[rbac_pb2.ClusterRole]) -> None:
        self.client = client
        self.cluster_roles = cluster_roles
        self.queue = RateLimitingQueue(name="clusterrole-aggregator")
        self.log = log.bind(component="controllers", controller="clusterrole-aggregation")
        cluster_roles.add_handler(self._changed, lambda o, n: self._changed(n), self._changed)

    def _changed(self, _role: Any) -> None:
        # Any ClusterRole's labels or rules may change what any aggregated one holds: look at all of them.
        for role in self.cluster_roles.store.list():
            if role.HasField("aggregation_rule"):
                self.queue.add(role.metadata.name)

    async def run(self) -> None:
        await run_workers(self.queue, self.sync, 1,
                          on_error=lambda k, e: self.log.warning("sync.failed", object=k, error=str(e)))

    async def sync(self, key: str) -> None:
        role = self.cluster_roles.store.get(key)
        if role is None or not role.HasField("aggregation_rule"):
            return
        rules = aggregated_rules(role, self.cluster_roles.store.list())
        if list(role.rules) == rules:
            return
        updated = rbac_pb2.ClusterRole()
        updated.CopyFrom(role)
        del updated.rules[:]
        updated.rules.extend(rules)
        await self.client.resource("ClusterRole").update(updated)
        self.log.info("clusterrole.aggregated", object=key, rules=len(rules))
