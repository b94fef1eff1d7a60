"""RBAC's escalation check (pkg/registry/rbac/*/policybased and pkg/registry/rbac/validation upstream): a Role or
ClusterRole may only be written by someone who holds every permission it grants (or may `escalate` it), a binding
only by someone who holds every permission of the role it names (or may `bind` that role); system:masters may
always. The user is the request's, which each face sets in REQUEST_USER before it calls the registry."""

from __future__ import annotations

import contextvars
from typing import Any

from apiserver.authn import UserInfo
from apiserver.authz import SUPERUSER_GROUP, Attributes, Union
from apiserver.authz.rbac import RBACAuthorizer
from kubemu.api import errors, kinds
from kubemu.api.labels import go_quote
from kubemu.pb import rbac_pb2

REQUEST_USER: contextvars.ContextVar[UserInfo | None] = contextvars.ContextVar("request_user", default=None)
"""Who the request being served is from; None inside the apiserver itself (its bootstrap policy)."""

GROUP = "rbac.authorization.k8s.io"
_ROLES = frozenset({"Role", "ClusterRole"})
_BINDINGS = frozenset({"RoleBinding", "ClusterRoleBinding"})


def breakdown(rule: Any) -> list[rbac_pb2.PolicyRule]:
    """BreakdownRule: one rule per group, resource, name and verb; one per non-resource URL and verb."""
    out: list[rbac_pb2.PolicyRule] = []
    for group in rule.api_groups:
        for resource in rule.resources:
            for name in rule.resource_names or [None]:
                for verb in rule.verbs:
                    out.append(rbac_pb2.PolicyRule(api_groups=[group], resources=[resource], verbs=[verb],
                                                   resource_names=[] if name is None else [name]))
    for url in rule.non_resource_urls:
        for verb in rule.verbs:
            out.append(rbac_pb2.PolicyRule(non_resource_urls=[url], verbs=[verb]))
    return out


def _has_all(values: Any, wanted: Any) -> bool:
    return all(w in values for w in wanted)


def _resources_cover(owner: Any, wanted: Any) -> bool:
    if "*" in owner or _has_all(owner, wanted):
        return True
    for path in wanted:
        if path in owner:
            continue
        if "/" not in path or f"*/{path.split('/', 1)[1]}" not in owner:
            return False
    return True


def _urls_cover(owner: Any, wanted: Any) -> bool:
    return all(any(o == w or (o.endswith("*") and w.startswith(o[:-1])) for o in owner) for w in wanted)


def rule_covers(owner: Any, sub: Any) -> bool:
    """ruleCovers: the owner's rule grants everything the (broken down) sub-rule does."""
    names = (not owner.resource_names) or (bool(sub.resource_names) and _has_all(owner.resource_names,
                                                                                  sub.resource_names))
    return (("*" in owner.verbs or _has_all(owner.verbs, sub.verbs))
            and ("*" in owner.api_groups or _has_all(owner.api_groups, sub.api_groups))
            and _resources_cover(owner.resources, sub.resources)
            and _urls_cover(owner.non_resource_urls, sub.non_resource_urls) and names)


def missing_rights(owner_rules: list[Any], rules: Any) -> list[rbac_pb2.PolicyRule]:
    """Covers: the broken-down rules of `rules` that no owner rule covers."""
    return [sub for rule in rules for sub in breakdown(rule) if not any(rule_covers(o, sub) for o in owner_rules)]


def compact_string(rule: Any) -> str:
    """CompactString: `{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}`, empty fields left out."""
    parts = []
    for label, values in (("APIGroups", rule.api_groups), ("Resources", rule.resources),
                          ("NonResourceURLs", rule.non_resource_urls), ("ResourceNames", rule.resource_names),
                          ("Verbs", rule.verbs)):
        if values:
            parts.append(f"{label}:[{' '.join(go_quote(v) for v in values)}]")
    return "{" + ", ".join(parts) + "}"


def compact(rules: list[rbac_pb2.PolicyRule]) -> list[rbac_pb2.PolicyRule]:
    """CompactRules: the verbs of rules on one group, resource and name (at most one) put together."""
    out: list[rbac_pb2.PolicyRule] = []
    simple: dict[tuple[str, str, bool, str], rbac_pb2.PolicyRule] = {}
    for rule in rules:
        if rule.non_resource_urls or len(rule.api_groups) != 1 or len(rule.resources) != 1 or \
                len(rule.resource_names) > 1:
            out.append(rule)
            continue
        key = (rule.api_groups[0], rule.resources[0], bool(rule.resource_names),
               rule.resource_names[0] if rule.resource_names else "")
        if key in simple:
            simple[key].verbs.extend(rule.verbs)
        else:
            simple[key] = rbac_pb2.PolicyRule()
            simple[key].CopyFrom(rule)
    return out + list(simple.values())


class EscalationCheck:
    """Registry.write_check for the four RBAC kinds."""

    def __init__(self, authorizer: Union, rbac: RBACAuthorizer) -> None:
        self.authorizer = authorizer
        self.rbac = rbac

    def __call__(self, obj: Any) -> None:
        kind = obj.DESCRIPTOR.name
        if kind not in _ROLES and kind not in _BINDINGS:
            return
        user = REQUEST_USER.get()
        if user is None or SUPERUSER_GROUP in user.groups:
            return
        info = kinds.by_kind(kind)
        namespace = obj.metadata.namespace if info.namespaced else ""
        if kind in _ROLES:
            escalate = Attributes(user, "escalate", namespace=namespace, api_group=GROUP, api_version="*",
                                  resource=info.plural)
            if self.authorizer.allows(escalate):
                return
            rules = list(obj.rules)
        else:
            ref = obj.role_ref
            if ref.kind in _ROLES:
                plural = kinds.by_kind(ref.kind).plural
                bind = Attributes(user, "bind", namespace=namespace, api_group=GROUP, resource=plural, name=ref.name)
                if self.authorizer.allows(bind):
                    return
            found = self.rbac.cache.role(namespace, ref.name) if ref.kind == "Role" else \
                self.rbac.cache.cluster_role(ref.name) if ref.kind == "ClusterRole" else None
            if found is None:
                # Upstream's role getter names the binding's resource in its NotFound.
                raise errors.new_not_found(info.plural, GROUP, ref.name)
            rules = list(found.rules)
        owner_rules, errs = self.rbac.rules_for(user, namespace)
        missing = missing_rights(owner_rules, rules)
        if not missing:
            return
        described = sorted({compact_string(r) for r in compact(missing)})
        groups = "[" + " ".join(go_quote(g) for g in user.groups) + "]"
        why = (f"user {go_quote(user.name)} (groups={groups}) is attempting to grant RBAC permissions not currently "
               f"held:\n" + "\n".join(described))
        if errs:
            why += f"; resolution errors: [{' '.join(errs)}]"
        raise errors.Forbidden(f'{info.plural}.{GROUP} "{obj.metadata.name}" is forbidden: {why}',
                               details=errors.StatusDetails(name=obj.metadata.name, group=GROUP, kind=info.plural))
