"""What an HTTP request asks, as upstream's RequestInfoFactory (apiserver/pkg/endpoints/request/requestinfo.go)
derives it for the authorizer: the verb, and for a resource request its API group, version, resource,
subresource, namespace and name."""

from __future__ import annotations

from collections.abc import Mapping

from apiserver.authn import UserInfo
from apiserver.authz import Attributes

_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_SPECIAL_VERBS = frozenset({"proxy", "watch"})
_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch",
                 "DELETE": "delete"}


def attributes(user: UserInfo, method: str, path: str, query: Mapping[str, str]) -> Attributes:
    """The Attributes of `method path?query` by `user`."""
    parts = [p for p in path.strip("/").split("/") if p]
    non_resource = Attributes(user, method.lower(), resource_request=False, path=path)
    if not parts or parts[0] not in ("api", "apis"):
        return non_resource
    prefix, parts = parts[0], parts[1:]
    group = ""
    if prefix == "apis":
        if len(parts) < 3:
            return non_resource
        group, parts = parts[0], parts[1:]
    elif len(parts) < 2:
        return non_resource  # /api, /api/v1: discovery
    version, parts = parts[0], parts[1:]
    verb = _METHOD_VERBS.get(method.upper(), "")
    if parts and parts[0] in _SPECIAL_VERBS:
        verb, parts = parts[0], parts[1:]  # the deprecated /watch/ and /proxy/ paths
    namespace = ""
    if parts and parts[0] == "namespaces" and len(parts) > 1:
        namespace = parts[1]
        if len(parts) > 2 and parts[2] not in _NAMESPACE_SUBRESOURCES:
            parts = parts[2:]
    resource = parts[0] if parts else ""
    name = parts[1] if len(parts) > 1 else ""
    subresource = parts[2] if len(parts) > 2 else ""
    if not name and verb == "get":
        verb = "watch" if query.get("watch") in ("true", "1") else "list"
    elif not name and verb == "delete":
        verb = "deletecollection"
    if verb in ("list", "watch") and not name:
        # A list or watch of one object by its name: authorized as that object (upstream's fieldSelector rule).
        for term in query.get("fieldSelector", "").split(","):
            key, _, value = term.partition("=")
            if key == "metadata.name" and value and not value.startswith("="):
                name = value
    return Attributes(user, verb, namespace=namespace, api_group=group, api_version=version, resource=resource,
                      subresource=subresource, name=name, path=path)
