"""Discovery documents from the kind registry (KindInfo): /api (APIVersions), /apis (APIGroupList), /api/v1 and
/apis/<g>/<v> (APIResourceList), and the aggregated form (apidiscovery.k8s.io/v2 APIGroupDiscoveryList)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubemu.api import kinds

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
"""The content type of the aggregated form, which clients check before they read it as such."""

_SUBRESOURCES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    # subresource: (group, version, kind ("" = the parent's), verbs), as kube-apiserver 1.35 lists them.
    "status": ("", "", "", ("get", "patch", "update")),
    "scale": ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
    "binding": ("", "", "Binding", ("create",)),
    "eviction": ("policy", "v1", "Eviction", ("create",)),
    "log": ("", "", "", ("get",)),
    "exec": ("", "", "PodExecOptions", ("create", "get")),
    "attach": ("", "", "PodAttachOptions", ("create", "get")),
    "portforward": ("", "", "PodPortForwardOptions", ("create", "get")),
    "proxy": ("", "", "PodProxyOptions", ("create", "delete", "get", "patch", "update")),
    "finalize": ("", "", "", ("update",)),
    "token": ("authentication.k8s.io", "v1", "TokenRequest", ("create",)),
}


def _sub(info: kinds.KindInfo, sub: str) -> tuple[str, str, str, tuple[str, ...]]:
    group, version, kind, verbs = _SUBRESOURCES.get(sub, ("", "", "", ("get",)))
    return group, version, kind or info.kind, verbs


def group_versions() -> dict[str, list[str]]:
    """group ("" for core) -> its versions, groups in kube-apiserver's order (kinds.GROUP_ORDER), versions in the
    order the kinds were registered."""
    out: dict[str, list[str]] = {}
    for info in sorted(kinds.all_kinds(), key=kinds.discovery_order):
        versions = out.setdefault(info.group, [])
        if info.version not in versions:
            versions.append(info.version)
    return out


def kinds_of(group: str, version: str) -> list[kinds.KindInfo]:
    """The kinds of a group version, by resource name as kube-apiserver lists them (`kubectl get all` keeps it)."""
    return sorted((k for k in kinds.all_kinds() if k.group == group and k.version == version), key=lambda k: k.plural)


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": group_versions().get("", []),
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group(name: str, versions: Iterable[str]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def api_group_list() -> dict[str, Any]:
    groups = [_group(g, vs) for g, vs in group_versions().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str) -> dict[str, Any] | None:
    versions = group_versions().get(group)
    if not group or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(group, versions)}


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    infos = kinds_of(group, version)
    if not infos:
        return None
    resources: list[dict[str, Any]] = []
    for info in infos:
        r: dict[str, Any] = {"name": info.plural, "singularName": info.singular, "namespaced": info.namespaced,
                             "kind": info.kind, "verbs": list(info.verbs)}
        if info.short_names:
            r["shortNames"] = list(info.short_names)
        if info.categories:
            r["categories"] = list(info.categories)
        resources.append(r)
        for sub in info.subresources:
            sg, sv, skind, verbs = _sub(info, sub)
            s: dict[str, Any] = {"name": f"{info.plural}/{sub}", "singularName": "", "namespaced": info.namespaced}
            if sg:
                s.update(group=sg, version=sv)
            s.update(kind=skind, verbs=list(verbs))
            resources.append(s)
    gv = f"{group}/{version}" if group else version
    out: dict[str, Any] = {"kind": "APIResourceList"}
    if group:  # /api/v1's list carries no apiVersion, /apis/<g>/<v>'s does (as upstream)
        out["apiVersion"] = "v1"
    out.update(groupVersion=gv, resources=resources)
    return out


def _discovery_resource(info: kinds.KindInfo) -> dict[str, Any]:
    r: dict[str, Any] = {
        "resource": info.plural,
        # Upstream leaves the response kind's group and version empty for the resource itself.
        "responseKind": {"group": "", "version": "", "kind": info.kind},
        "scope": "Namespaced" if info.namespaced else "Cluster",
        "singularResource": info.singular,
        "verbs": list(info.verbs),
    }
    if info.short_names:
        r["shortNames"] = list(info.short_names)
    if info.categories:
        r["categories"] = list(info.categories)
    if info.subresources:
        subs = []
        for sub in info.subresources:
            sg, sv, skind, verbs = _sub(info, sub)
            subs.append({"subresource": sub, "responseKind": {"group": sg, "version": sv, "kind": skind},
                         "verbs": list(verbs)})
        r["subresources"] = subs
    return r


def aggregated(core: bool) -> dict[str, Any]:
    """The APIGroupDiscoveryList of /api (`core`: the legacy group alone) or of /apis (every named group)."""
    items = []
    for group, versions in group_versions().items():
        if bool(group) == core:
            continue
        item: dict[str, Any] = {"metadata": {"name": group} if group else {}, "versions": [
            {"version": v, "resources": [_discovery_resource(i) for i in kinds_of(group, v)], "freshness": "Current"}
            for v in versions]}
        items.append(item)
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}
