"""Authorization: what a request asks (upstream's authorizer.Attributes), the authorizers kube-apiserver's
`--authorization-mode` names (AlwaysAllow, AlwaysDeny, RBAC) chained in order, and the 403 a refusal is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import structlog

from apiserver.authn import AUTHENTICATED_GROUP, UserInfo
from kubemu.api import errors
from kubemu.pb import rbac_pb2

log = structlog.get_logger()

SUPERUSER_GROUP = "system:masters"
"""Upstream's user.SystemPrivilegedGroup: kube-apiserver allows its members everything before any mode is asked."""

ANONYMOUS = UserInfo("system:anonymous", "", ("system:unauthenticated",))
"""Who a request without credentials is (upstream's anonymous authenticator)."""

MODES = ("AlwaysAllow", "AlwaysDeny", "RBAC")
"""The modes kubemu has of kube-apiserver's --authorization-mode (Node and Webhook need what kubemu has not)."""

Decision = Literal["allow", "deny", "no-opinion"]


@dataclass(frozen=True)
class Attributes:
    """What a request asks to do (authorizer.AttributesRecord, filled as RequestInfoFactory derives it)."""

    user: UserInfo
    verb: str
    """get, list, watch, create, update, patch, delete, deletecollection; the lower-cased HTTP method for a
    non-resource request."""
    resource_request: bool = True
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""
    """The URL path of a non-resource request (`/healthz`, `/metrics`)."""


class Authorizer(Protocol):
    def authorize(self, a: Attributes) -> tuple[Decision, str]:
        """The decision and the reason for it (upstream's reason string; "" when there is nothing to say)."""
        ...

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Any], list[str]]:
        """The PolicyRules `user` has in `namespace` (RulesFor upstream, for SelfSubjectRulesReview), and the
        errors met finding them."""
        ...


class AlwaysAllow:
    def authorize(self, a: Attributes) -> tuple[Decision, str]:
        return "allow", ""

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Any], list[str]]:
        return [rbac_pb2.PolicyRule(verbs=["*"], api_groups=["*"], resources=["*"]),
                rbac_pb2.PolicyRule(verbs=["*"], non_resource_urls=["*"])], []


class AlwaysDeny:
    def authorize(self, a: Attributes) -> tuple[Decision, str]:
        return "no-opinion", "Everything is forbidden."

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Any], list[str]]:
        return [], []


class Union:
    """Upstream's union authorizer behind the privileged-group one: system:masters may do anything; then each mode
    in the order given until one allows or denies; no opinion from all of them is a refusal."""

    def __init__(self, authorizers: Sequence[Authorizer], anonymous_allowed: bool = False) -> None:
        self.authorizers = tuple(authorizers)
        self.anonymous_allowed = anonymous_allowed
        """A request without credentials is served as system:anonymous (upstream's --anonymous-auth, which it turns
        off under AlwaysAllow) rather than refused with 401."""
        self.allows_everything = bool(self.authorizers) and isinstance(self.authorizers[0], AlwaysAllow)
        """The first mode allows every request: the faces need not work out what a request asks."""

    def authorize(self, a: Attributes) -> tuple[Decision, str]:
        if SUPERUSER_GROUP in a.user.groups:
            return "allow", ""
        reasons: list[str] = []
        for authorizer in self.authorizers:
            decision, reason = authorizer.authorize(a)
            if decision != "no-opinion":
                return decision, reason
            if reason:
                reasons.append(reason)
        return "no-opinion", "\n".join(reasons)

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Any], list[str]]:
        rules: list[Any] = []
        errs: list[str] = []
        for authorizer in self.authorizers:
            more, more_errs = authorizer.rules_for(user, namespace)
            rules.extend(more)
            errs.extend(more_errs)
        return rules, errs

    def allows(self, a: Attributes) -> bool:
        return self.authorize(a)[0] == "allow"

    def check(self, a: Attributes) -> None:
        """Raise the 403 the request gets unless it is allowed."""
        decision, reason = self.authorize(a)
        if decision != "allow":
            log.debug("request.forbidden", component="apiserver", user=a.user.name, verb=a.verb,
                      resource=a.resource or a.path, namespace=a.namespace, name=a.name, reason=reason)
            raise forbidden(a, reason)


def parse_modes(text: str) -> tuple[str, ...]:
    """--authorization-mode: comma-separated, each known and given once (upstream's validation words)."""
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    if not modes:
        raise ValueError("at least one authorization-mode must be passed")
    for m in modes:
        if m not in MODES:
            raise ValueError(f"authorization-mode {m!r} is not a valid mode")
    if len(set(modes)) != len(modes):
        raise ValueError(f"authorization-mode {text!r} has mode specified more than once")
    return modes


def forbidden_message(a: Attributes) -> str:
    """responsewriters.forbiddenMessage: who may not do what, where."""
    if not a.resource_request:
        return f'User "{a.user.name}" cannot {a.verb} path "{a.path}"'
    resource = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    where = f'in the namespace "{a.namespace}"' if a.namespace else "at the cluster scope"
    return f'User "{a.user.name}" cannot {a.verb} resource "{resource}" in API group "{a.api_group}" {where}'


def forbidden(a: Attributes, reason: str = "") -> errors.Forbidden:
    """errors.NewForbidden of the request's resource and name: `pods "x" is forbidden: User ...`; a non-resource
    request's is `forbidden: User ... cannot get path "/metrics"`."""
    why = forbidden_message(a) + (f": {reason}" if reason else "")
    if not a.resource_request:
        return errors.Forbidden(f"forbidden: {why}", details=errors.StatusDetails())
    resource = errors.qualified(a.resource, a.api_group)
    about = f'{resource} "{a.name}"' if a.name else resource
    return errors.Forbidden(f"{about} is forbidden: {why}",
                            details=errors.StatusDetails(name=a.name, group=a.api_group, kind=a.resource))


def impersonated(name: str, groups: list[str]) -> UserInfo:
    """The user an Impersonate-User (and Impersonate-Group) request acts as, once it may: a service account's
    groups when none are asked for, and system:authenticated for anyone but system:anonymous (upstream's
    impersonation filter)."""
    if name == "system:anonymous":
        return UserInfo(name, "", (*groups, "system:unauthenticated") if "system:unauthenticated" not in groups
                        else tuple(groups))
    if not groups and name.startswith("system:serviceaccount:"):
        ns = name.split(":")[2]
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
    return UserInfo(name, "", tuple(groups) if AUTHENTICATED_GROUP in groups else (*groups, AUTHENTICATED_GROUP))
