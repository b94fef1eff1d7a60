"""The RBAC authorizer (plugin/pkg/auth/authorizer/rbac): the rules of the Roles and ClusterRoles bound to a user,
through RoleBindings in the request's namespace and ClusterRoleBindings everywhere, matched against the request;
read from an in-memory copy of the four kinds that the watch hub keeps current."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import structlog

from apiserver.authn import UserInfo
from apiserver.authz import Attributes, Decision
from apiserver.registry import Registry
from apiserver.watch import WatchHub, make_filter
from kubemu.api import kinds

log = structlog.get_logger()

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
KINDS = ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


class PolicyCache:
    """The stored Roles, ClusterRoles and their bindings, listed once and then kept current from the watch hub
    (as upstream's RBAC authorizer reads its informers' listers)."""

    def __init__(self, registry: Registry, hub: WatchHub) -> None:
        self.registry = registry
        self.hub = hub
        self.objects: dict[str, dict[tuple[str, str], Any]] = {k: {} for k in KINDS}
        self._tasks: list[asyncio.Task[None]] = []
        self.log = log.bind(component="apiserver")

    async def start(self) -> None:
        for kind in KINDS:
            await self._resync(kind)

    async def _sync(self, kind: str) -> None:
        flt = make_filter(kind, "", "", "")
        sub, _ = self.hub.subscribe(kind, flt)
        try:
            items, rev = await self.registry.list(kind, "", flt)
        except BaseException:
            self.hub.unsubscribe(sub)
            raise
        self.objects[kind] = {(o.metadata.namespace, o.metadata.name): o for o in items}
        self._tasks.append(asyncio.create_task(self._follow(kind, sub, rev), name=f"rbac-{kind}"))

    async def _follow(self, kind: str, sub: Any, rev: int) -> None:
        info = kinds.by_kind(kind)
        try:
            while True:
                batch = await sub.queue.get()
                if batch is None:  # fell behind: list again, as a reflector does
                    self.hub.unsubscribe(sub)
                    await self._resync(kind)
                    return
                objects = self.objects[kind]
                for etype, ev in batch:
                    if ev.revision <= rev:
                        continue
                    obj = self.registry.decode(info, ev.data, ev.revision)
                    key = (obj.metadata.namespace, obj.metadata.name)
                    if etype == "DELETED":
                        objects.pop(key, None)
                    else:
                        objects[key] = obj
        finally:
            self.hub.unsubscribe(sub)

    async def _resync(self, kind: str) -> None:
        backoff = 0.2
        while True:
            try:
                await self._sync(kind)
                self.log.info("rbac.listed", kind=kind, objects=len(self.objects[kind]))
                return
            except Exception as e:  # the store may be down for a while (chaos): keep the last policy and retry
                self.log.warning("rbac.list_failed", kind=kind, error=str(e), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def cluster_role_bindings(self) -> Iterator[Any]:
        return iter(list(self.objects["ClusterRoleBinding"].values()))

    def role_bindings(self, namespace: str) -> Iterator[Any]:
        return iter([b for (ns, _), b in list(self.objects["RoleBinding"].items()) if ns == namespace])

    def role(self, namespace: str, name: str) -> Any | None:
        return self.objects["Role"].get((namespace, name))

    def cluster_role(self, name: str) -> Any | None:
        return self.objects["ClusterRole"].get(("", name))


@dataclass(frozen=True)
class Request:
    """What a rule is matched against (the parts of Attributes RuleAllows reads)."""

    verb: str
    resource_request: bool
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""


def applies_to(user: UserInfo, subject: Any, namespace: str) -> bool:
    """appliesToUser: a User subject by name, a Group by membership, a ServiceAccount by its user name (its
    namespace defaulting to the binding's)."""
    if subject.kind == "User":
        return bool(user.name == subject.name)
    if subject.kind == "Group":
        return subject.name in user.groups
    if subject.kind == "ServiceAccount":
        sa_namespace = subject.namespace or namespace
        return bool(sa_namespace) and user.name == f"{SERVICE_ACCOUNT_PREFIX}{sa_namespace}:{subject.name}"
    return False


def _has(values: Any, value: str) -> bool:
    return bool("*" in values or value in values)


def rule_allows(r: Request, rule: Any) -> bool:
    """RuleAllows: verbs, API groups, resources (`*`, `pods/log`, `*/scale`), resource names; or the non-resource
    URLs, a trailing `*` matching any path with that prefix."""
    if not _has(rule.verbs, r.verb):
        return False
    if not r.resource_request:
        return any(u == "*" or u == r.path or (u.endswith("*") and r.path.startswith(u[:-1]))
                   for u in rule.non_resource_urls)
    combined = f"{r.resource}/{r.subresource}" if r.subresource else r.resource
    if not _has(rule.api_groups, r.api_group):
        return False
    if not any(res == "*" or res == combined or (r.subresource and res == f"*/{r.subresource}")
               for res in rule.resources):
        return False
    return not rule.resource_names or r.name in rule.resource_names


class RBACAuthorizer:
    def __init__(self, cache: PolicyCache) -> None:
        self.cache = cache

    def visit(self, user: UserInfo, namespace: str) -> Iterator[tuple[str, Any | None, str]]:
        """VisitRulesFor: (where it comes from, rule, "") for every rule bound to `user` cluster-wide and in
        `namespace`, and ("", None, error) for what was met on the way (a binding to a role that does not exist)."""
        for binding in self.cache.cluster_role_bindings():
            subject = next((s for s in binding.subjects if applies_to(user, s, "")), None)
            if subject is None:
                continue
            ref = binding.role_ref
            source = f'ClusterRoleBinding "{binding.metadata.name}" of {ref.kind} "{ref.name}" to ' \
                     f"{_describe(subject, '')}"
            yield from self._role_rules(source, ref, "")
        if namespace:
            for binding in self.cache.role_bindings(namespace):
                subject = next((s for s in binding.subjects if applies_to(user, s, namespace)), None)
                if subject is None:
                    continue
                ref = binding.role_ref
                source = f'RoleBinding "{binding.metadata.name}/{namespace}" of {ref.kind} "{ref.name}" to ' \
                         f"{_describe(subject, namespace)}"
                yield from self._role_rules(source, ref, namespace)

    def _role_rules(self, source: str, ref: Any, namespace: str) -> Iterator[tuple[str, Any | None, str]]:
        if ref.kind == "Role":
            role = self.cache.role(namespace, ref.name)
            if role is None:
                yield "", None, f'role.rbac.authorization.k8s.io "{ref.name}" not found'
                return
        elif ref.kind == "ClusterRole":
            role = self.cache.cluster_role(ref.name)
            if role is None:
                yield "", None, f'clusterrole.rbac.authorization.k8s.io "{ref.name}" not found'
                return
        else:
            yield "", None, f"unsupported role reference kind: {ref.kind!r}"
            return
        for rule in role.rules:
            yield source, rule, ""

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Any], list[str]]:
        """The rules bound to `user` in `namespace` (and cluster-wide), and the errors met finding them."""
        rules: list[Any] = []
        errs: list[str] = []
        for _, rule, err in self.visit(user, namespace):
            if rule is not None:
                rules.append(rule)
            else:
                errs.append(err)
        return rules, errs

    def authorize(self, a: Attributes) -> tuple[Decision, str]:
        r = Request(a.verb, a.resource_request, a.api_group, a.resource, a.subresource, a.name, a.path)
        errs: list[str] = []
        for source, rule, err in self.visit(a.user, a.namespace):
            if rule is None:
                errs.append(err)
            elif rule_allows(r, rule):
                return "allow", f"RBAC: allowed by {source}"
        reason = ""
        if errs:
            reason = "RBAC: " + (errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]")
        return "no-opinion", reason


def _describe(subject: Any, namespace: str) -> str:
    """describeSubject: `User "alice"`, `ServiceAccount "x/default"` (name, then namespace, as upstream)."""
    if subject.kind == "ServiceAccount":
        return f'{subject.kind} "{subject.name}/{subject.namespace or namespace}"'
    return f'{subject.kind} "{subject.name}"'
