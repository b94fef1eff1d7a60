"""The RBAC pieces that need no processes: rule matching as upstream's RuleAllows, request attributes as
RequestInfoFactory derives them, the 403 words, ClusterRole aggregation over the bootstrap policy, and kubectl's
describe layout of roles (each compared with kube-apiserver and kubectl 1.35)."""

from __future__ import annotations

import pytest

from apiserver.apis.rbac import bootstrap
from apiserver.authn import UserInfo
from apiserver.authz import ANONYMOUS, AlwaysAllow, AlwaysDeny, Attributes, Union, forbidden, parse_modes
from apiserver.authz.escalation import compact, compact_string, missing_rights
from apiserver.authz.rbac import Request, applies_to, rule_allows
from apiserver.rest.requestinfo import attributes
from controllers.clusterroleaggregation import aggregated_rules
from kubemu.cli import printers
from kubemu.pb import rbac_pb2

pytestmark = pytest.mark.unit

SA = UserInfo("system:serviceaccount:default:x", "", ("system:serviceaccounts", "system:authenticated"))


def rule(**kw: list[str]) -> rbac_pb2.PolicyRule:
    return rbac_pb2.PolicyRule(**kw)


@pytest.mark.parametrize(("r", "allowed"), [
    (Request("get", True, "", "pods"), True),
    (Request("get", True, "", "pods", "log"), False),
    (Request("delete", True, "", "pods"), False),
    (Request("get", True, "apps", "pods"), False),
])
def test_a_rule_matches_verb_group_and_resource(r: Request, allowed: bool) -> None:
    assert rule_allows(r, rule(verbs=["get", "list"], api_groups=[""], resources=["pods"])) is allowed


def test_stars_subresources_and_names() -> None:
    star = rule(verbs=["*"], api_groups=["*"], resources=["*"])
    assert rule_allows(Request("deletecollection", True, "apps", "deployments", "scale"), star)
    any_scale = rule(verbs=["get"], api_groups=["apps"], resources=["*/scale"])
    assert rule_allows(Request("get", True, "apps", "deployments", "scale"), any_scale)
    assert not rule_allows(Request("get", True, "apps", "deployments"), any_scale)
    log = rule(verbs=["get"], api_groups=[""], resources=["pods/log"], resource_names=["web"])
    assert rule_allows(Request("get", True, "", "pods", "log", "web"), log)
    assert not rule_allows(Request("get", True, "", "pods", "log", "db"), log)
    assert not rule_allows(Request("list", True, "", "pods", "log"), log)


def test_non_resource_urls_with_a_star_suffix() -> None:
    urls = rule(verbs=["get"], non_resource_urls=["/healthz", "/apis/*"])
    assert rule_allows(Request("get", False, path="/healthz"), urls)
    assert rule_allows(Request("get", False, path="/apis/apps/v1"), urls)
    assert not rule_allows(Request("get", False, path="/apis"), urls)
    assert not rule_allows(Request("post", False, path="/healthz"), urls)
    assert not rule_allows(Request("get", True, "", "pods"), urls)


def test_subjects() -> None:
    sa = rbac_pb2.Subject(kind="ServiceAccount", name="x")
    assert applies_to(SA, sa, "default") and not applies_to(SA, sa, "other") and not applies_to(SA, sa, "")
    assert applies_to(SA, rbac_pb2.Subject(kind="Group", name="system:serviceaccounts"), "")
    assert not applies_to(SA, rbac_pb2.Subject(kind="User", name="x"), "")


@pytest.mark.parametrize(("method", "path", "query", "want"), [
    ("GET", "/api/v1/namespaces/default/pods", {}, ("list", "default", "", "pods", "", "")),
    ("GET", "/api/v1/pods", {"watch": "true"}, ("watch", "", "", "pods", "", "")),
    ("GET", "/api/v1/namespaces/default/pods", {"fieldSelector": "metadata.name=web"},
     ("list", "default", "", "pods", "", "web")),
    ("GET", "/api/v1/namespaces/default/pods/web/log", {}, ("get", "default", "", "pods", "log", "web")),
    ("DELETE", "/apis/apps/v1/namespaces/ns/deployments", {}, ("deletecollection", "ns", "apps", "deployments", "",
                                                               "")),
    ("PATCH", "/apis/apps/v1/namespaces/ns/deployments/d/scale", {}, ("patch", "ns", "apps", "deployments", "scale",
                                                                      "d")),
    ("GET", "/api/v1/namespaces/kube-system", {}, ("get", "kube-system", "", "namespaces", "", "kube-system")),
    ("PUT", "/api/v1/namespaces/ns/finalize", {}, ("update", "ns", "", "namespaces", "finalize", "ns")),
    ("POST", "/api/v1/namespaces", {}, ("create", "", "", "namespaces", "", "")),
])
def test_request_attributes(method: str, path: str, query: dict[str, str],
                            want: tuple[str, str, str, str, str, str]) -> None:
    a = attributes(SA, method, path, query)
    assert a.resource_request
    assert (a.verb, a.namespace, a.api_group, a.resource, a.subresource, a.name) == want


@pytest.mark.parametrize("path", ["/metrics", "/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/version"])
def test_non_resource_requests(path: str) -> None:
    a = attributes(SA, "GET", path, {})
    assert (a.resource_request, a.verb, a.path) == (False, "get", path)


def test_forbidden_words() -> None:
    user = SA.name
    assert forbidden(Attributes(SA, "list", namespace="default", resource="pods")).message == (
        f'pods is forbidden: User "{user}" cannot list resource "pods" in API group "" in the namespace "default"')
    assert forbidden(Attributes(SA, "get", resource="nodes", name="n1")).message == (
        f'nodes "n1" is forbidden: User "{user}" cannot get resource "nodes" in API group "" at the cluster scope')
    e = forbidden(Attributes(SA, "get", api_group="apps", resource="deployments", subresource="scale", name="x",
                             namespace="default"))
    assert e.message == (f'deployments.apps "x" is forbidden: User "{user}" cannot get resource "deployments/scale" '
                         f'in API group "apps" in the namespace "default"')
    assert e.details is not None and e.details.to_dict() == {"name": "x", "group": "apps", "kind": "deployments"}
    assert forbidden(Attributes(SA, "get", resource_request=False, path="/metrics")).message == (
        f'forbidden: User "{user}" cannot get path "/metrics"')


def test_modes_in_order_and_the_superuser_group() -> None:
    a = Attributes(ANONYMOUS, "get", resource="nodes")
    assert Union([AlwaysDeny(), AlwaysAllow()]).authorize(a) == ("allow", "")
    assert Union([AlwaysDeny()]).authorize(a) == ("no-opinion", "Everything is forbidden.")
    assert forbidden(a, "Everything is forbidden.").message.endswith("at the cluster scope: Everything is forbidden.")
    masters = UserInfo("root", "", ("system:masters",))
    assert Union([AlwaysDeny()]).authorize(Attributes(masters, "delete", resource="nodes")) == ("allow", "")
    assert parse_modes("RBAC,AlwaysAllow") == ("RBAC", "AlwaysAllow")
    with pytest.raises(ValueError, match="authorization-mode 'Node' is not a valid mode"):
        parse_modes("RBAC,Node")


def test_aggregation_of_the_bootstrap_policy_gives_the_peers_rules() -> None:
    roles = list(bootstrap.objects("ClusterRole"))
    by_name = {r.metadata.name: r for r in roles}
    for name in ("admin", "edit", "view"):
        assert aggregated_rules(by_name[name], roles) == list(by_name[name].rules), name


def test_describe_lays_rules_out_as_kubectl() -> None:
    discovery = next(r for r in bootstrap.objects("ClusterRole") if r.metadata.name == "system:discovery")
    assert printers.describe(discovery, None, now=0) == (  # kubectl 1.35 against the peer
        "Name:         system:discovery\n"
        "Labels:       kubernetes.io/bootstrapping=rbac-defaults\n"
        "Annotations:  rbac.authorization.kubernetes.io/autoupdate: true\n"
        "PolicyRule:\n"
        "  Resources  Non-Resource URLs  Resource Names  Verbs\n"
        "  ---------  -----------------  --------------  -----\n"
        "             [/api/*]           []              [get]\n"
        "             [/api]             []              [get]\n"
        "             [/apis/*]          []              [get]\n"
        "             [/apis]            []              [get]\n"
        "             [/healthz]         []              [get]\n"
        "             [/livez]           []              [get]\n"
        "             [/openapi/*]       []              [get]\n"
        "             [/openapi]         []              [get]\n"
        "             [/readyz]          []              [get]\n"
        "             [/version/]        []              [get]\n"
        "             [/version]         []              [get]\n")
    role = rbac_pb2.Role(rules=[rule(api_groups=["", "apps"], resources=["pods", "deployments/scale"],
                                     resource_names=["a"], verbs=["get", "list"])])
    role.metadata.name = "r1"
    assert printers.describe(role, None, now=0).splitlines()[3:] == [
        "PolicyRule:",
        "  Resources               Non-Resource URLs  Resource Names  Verbs",
        "  ---------               -----------------  --------------  -----",
        "  deployments/scale       []                 [a]             [get list]",
        "  pods                    []                 [a]             [get list]",
        "  deployments.apps/scale  []                 [a]             [get list]",
        "  pods.apps               []                 [a]             [get list]",
    ]


def test_what_a_writer_holds_covers() -> None:
    owner = [rule(verbs=["get", "list"], api_groups=[""], resources=["pods", "*/log"]),
             rule(verbs=["*"], api_groups=["apps"], resources=["deployments"], resource_names=["web"]),
             rule(verbs=["get"], non_resource_urls=["/apis/*"])]
    assert missing_rights(owner, [rule(verbs=["get"], api_groups=[""], resources=["pods", "pods/log"])]) == []
    assert missing_rights(owner, [rule(verbs=["delete"], api_groups=["apps"], resources=["deployments"],
                                       resource_names=["web"])]) == []
    missing = missing_rights(owner, [rule(verbs=["get", "watch"], api_groups=["", "apps"], resources=["pods"]),
                                     rule(verbs=["get"], non_resource_urls=["/apis/apps", "/metrics"])])
    assert sorted(compact_string(r) for r in compact(missing)) == [
        '{APIGroups:[""], Resources:["pods"], Verbs:["watch"]}',
        '{APIGroups:["apps"], Resources:["pods"], Verbs:["get" "watch"]}',
        '{NonResourceURLs:["/metrics"], Verbs:["get"]}',
    ]
