"""ServiceAccount tokens without a cluster: the issuer's claims, the validator's refusals, TokenRequest's checks,
the admission plugin's volume, the kubelet's renewal times, the key pair in the PKI, and the describer."""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any

import jwt
import pytest

from apiserver import errors
from apiserver import serviceaccount as sa
from apiserver.admission import serviceaccount as plugin
from kubelet.token import Source, TokenError, TokenManager, token_sources
from kubemu import pki
from kubemu.api.serialization import from_dict, set_time
from kubemu.cli import printers
from kubemu.pb import authentication_pb2, core_pb2

pytestmark = pytest.mark.unit

ISSUER = "https://kubernetes.default.svc.cluster.local"
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> pki.Pki:
    return pki.ensure(tmp_path_factory.mktemp("pki"), ["127.0.0.1"])


def obj(kind: str, name: str, uid: str, ns: str = "ns", **extra: Any) -> Any:
    meta = {"name": name, "uid": uid, **({"namespace": ns} if kind != "Node" else {})}
    return from_dict({"apiVersion": "v1", "kind": kind, "metadata": meta, **extra})


class World:
    """What the validator and TokenRequest look up, by (kind, namespace, name)."""

    def __init__(self, *objects: Any) -> None:
        self.objects = {(type(o).__name__, o.metadata.namespace, o.metadata.name): o for o in objects}

    async def find(self, kind: str, ns: str, name: str) -> Any:
        return self.objects.get((kind, ns, name))

    async def get(self, kind: str, ns: str, name: str) -> Any:
        found = await self.find(kind, ns, name)
        if found is None:
            raise errors.NotFound(f'{kind.lower()}s "{name}" not found')
        return found


def issuer(keys: pki.Pki, **kw: Any) -> sa.Issuer:
    return sa.Issuer(ISSUER, sa.load_signing_key(keys.sa_key_file), (ISSUER,), clock=lambda: NOW, **kw)


def validator(keys: pki.Pki, world: World, now: float = NOW) -> sa.Validator:
    return sa.Validator((ISSUER,), sa.load_public_keys(keys.sa_pub_file), (ISSUER,), world.find, clock=lambda: now)


def test_the_key_pair_is_made_once_secret_and_matching(keys: pki.Pki, tmp_path: Path) -> None:
    assert stat.S_IMODE(keys.sa_key_file.stat().st_mode) == 0o600
    before = keys.sa_key_file.read_bytes()
    assert pki.ensure(keys.folder, ["127.0.0.1"]).sa_key_file.read_bytes() == before
    other = pki.ensure(tmp_path, ["127.0.0.1"])
    other.sa_pub_file.write_bytes(keys.sa_pub_file.read_bytes())  # halves of two pairs: made again
    pki.ensure(tmp_path, ["127.0.0.1"])
    assert sa.load_signing_key(other.sa_key_file).public_key() == sa.load_public_keys(other.sa_pub_file)[0]


def test_claims_are_upstreams(keys: pki.Pki) -> None:
    issued = issuer(keys).issue("ns", sa.Ref("default", "u1"), sa.Binding(pod=sa.Ref("p", "u2"),
                                                                            node=sa.Ref("n", "u3")), 900, ["a"])
    header = jwt.get_unverified_header(issued.token)
    assert header["alg"] == "RS256" and header["kid"] == sa.key_id(sa.load_public_keys(keys.sa_pub_file)[0])
    c = jwt.decode(issued.token, options={"verify_signature": False})
    assert c["iss"] == ISSUER and c["aud"] == ["a"] and c["sub"] == "system:serviceaccount:ns:default"
    assert (c["iat"], c["nbf"], c["exp"]) == (NOW, NOW, NOW + 900) and c["jti"]
    assert c["kubernetes.io"] == {"namespace": "ns", "serviceaccount": {"name": "default", "uid": "u1"},
                                  "pod": {"name": "p", "uid": "u2"}, "node": {"name": "n", "uid": "u3"}}


def test_the_kubelets_default_token_is_extended_to_a_year_and_capped_by_the_maximum(keys: pki.Pki) -> None:
    pod = sa.Binding(pod=sa.Ref("p", "u2"))
    issued = issuer(keys).issue("ns", sa.Ref("d", "u"), pod, 3607, [ISSUER])
    c = jwt.decode(issued.token, options={"verify_signature": False})
    assert c["exp"] - c["iat"] == 365 * 24 * 3600 and c["kubernetes.io"]["warnafter"] == NOW + 3607
    assert issued.expiration_seconds == 3607  # what the status reports: the kubelet renews it hourly
    other_audience = issuer(keys).issue("ns", sa.Ref("d", "u"), pod, 3607, ["vault"])
    assert "warnafter" not in jwt.decode(other_audience.token, options={"verify_signature": False})["kubernetes.io"]
    capped = issuer(keys, max_expiration=7200).issue("ns", sa.Ref("d", "u"), sa.Binding(), 90000, [ISSUER])
    assert capped.expiration_seconds == 7200 and capped.expiration == NOW + 7200


async def test_a_valid_token_is_its_service_account(keys: pki.Pki) -> None:
    world = World(obj("ServiceAccount", "default", "u1"), obj("Pod", "p", "u2"), obj("Node", "n", "u3"))
    token = issuer(keys).issue("ns", sa.Ref("default", "u1"), sa.Binding(pod=sa.Ref("p", "u2"),
                                                                           node=sa.Ref("n", "u3")), 900, [ISSUER])
    user = await validator(keys, world).validate(token.token)
    assert user.name == "system:serviceaccount:ns:default" and user.uid == "u1"
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:ns")
    assert user.extra[sa.POD_NAME] == ("p",) and user.extra[sa.NODE_UID] == ("u3",)
    assert user.extra[sa.CREDENTIAL_ID][0].startswith("JTI=")


@pytest.mark.parametrize("case", ["sa-gone", "sa-recreated", "pod-gone", "pod-recreated", "expired", "audience",
                                  "issuer", "key", "garbage"])
async def test_tokens_are_refused(keys: pki.Pki, tmp_path: Path, case: str) -> None:
    account = obj("ServiceAccount", "default", "other-uid" if case == "sa-recreated" else "u1")
    pod = obj("Pod", "p", "other-uid" if case == "pod-recreated" else "u2")
    world = World(*([] if case == "sa-gone" else [account]), *([] if case == "pod-gone" else [pod]))
    signer = issuer(keys)
    if case == "issuer":
        signer = sa.Issuer("https://elsewhere", signer.key, (ISSUER,), clock=lambda: NOW)
    if case == "key":
        signer = issuer(pki.ensure(tmp_path, ["127.0.0.1"]))
    token = signer.issue("ns", sa.Ref("default", "u1"), sa.Binding(pod=sa.Ref("p", "u2")), 900,
                         ["vault"] if case == "audience" else [ISSUER]).token
    if case == "garbage":
        token = token[:-4] + "AAAA"
    v = validator(keys, world, NOW + 901 if case == "expired" else NOW)
    with pytest.raises(sa.TokenInvalid):
        await v.validate(token)


async def test_token_request_checks_as_upstream(keys: pki.Pki) -> None:
    world = World(obj("ServiceAccount", "default", "u1"), obj("ServiceAccount", "other", "u9"),
                  obj("Pod", "p", "u2", spec={"serviceAccountName": "default", "containers": []}))

    async def refusal(name: str, spec: dict[str, Any]) -> str:
        req = authentication_pb2.TokenRequest()
        req.spec.CopyFrom(_spec(spec))
        with pytest.raises(errors.StatusError) as e:
            await sa.create_token(issuer(keys), world.get, "ns", name, req, NOW)
        return e.value.message

    assert await refusal("default", {"expirationSeconds": 60}) == (
        'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 60: may not '
        "specify a duration less than 10 minutes")
    assert await refusal("other", {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p"}}) == (
        'cannot bind token for serviceaccount "other" to pod running with different serviceaccount name.')
    assert await refusal("default", {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p",
                                                        "uid": "xx"}}) == (
        'Operation cannot be fulfilled on Pod "p": the UID in the bound object reference (xx) does not match the '
        "UID in record. The object might have been deleted and then recreated")
    assert await refusal("default", {"boundObjectRef": {"kind": "Deployment", "apiVersion": "apps/v1",
                                                        "name": "d"}}) == (
        "cannot bind token to object of type apps/v1, Kind=Deployment")
    req = authentication_pb2.TokenRequest()
    out = await sa.create_token(issuer(keys), world.get, "ns", "default", req, NOW)
    assert list(out.spec.audiences) == [ISSUER] and out.spec.expiration_seconds == 3600
    assert out.metadata.uid == "u1" and out.status.expiration_timestamp.seconds == NOW + 3600


def _spec(spec: dict[str, Any]) -> authentication_pb2.TokenRequestSpec:
    from kubemu.api.serialization import fill_message

    out = authentication_pb2.TokenRequestSpec()
    fill_message(out, spec)
    return out


def pod(**spec: Any) -> core_pb2.Pod:
    return from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"},
                      "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "x"}], **spec}})


def test_the_volume_goes_in_every_container_without_something_at_its_path() -> None:
    p = pod(initContainers=[{"name": "i", "image": "x", "volumeMounts": [
        {"name": "mine", "mountPath": plugin.MOUNT_PATH}]}], volumes=[{"name": "mine", "emptyDir": {}}])
    plugin.mount_service_account_token(p)
    [_, volume] = p.spec.volumes
    assert volume.name.startswith("kube-api-access-") and len(volume.name) == len("kube-api-access-") + 5
    assert [m.name for m in p.spec.init_containers[0].volume_mounts] == ["mine"]
    assert all(c.volume_mounts[0].name == volume.name and c.volume_mounts[0].read_only for c in p.spec.containers)
    again = pod(volumes=[{"name": "kube-api-access-abcde", "emptyDir": {}}])
    plugin.mount_service_account_token(again)
    assert len(again.spec.volumes) == 1 and again.spec.containers[0].volume_mounts[0].name == "kube-api-access-abcde"


def test_automount_the_pod_wins_over_its_service_account() -> None:
    quiet = from_dict({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "q"},
                       "automountServiceAccountToken": False})
    assert not plugin.should_automount(quiet, pod())
    assert plugin.should_automount(quiet, pod(automountServiceAccountToken=True))
    assert not plugin.should_automount(core_pb2.ServiceAccount(), pod(automountServiceAccountToken=False))
    assert plugin.should_automount(core_pb2.ServiceAccount(), pod())


class FakeServiceAccounts:
    def __init__(self, now: list[float]) -> None:
        self.calls = 0
        self.fail = False
        self.now = now

    async def create_token(self, name: str, namespace: str | None, request: Any) -> Any:
        self.calls += 1
        if self.fail:
            raise RuntimeError('serviceaccounts "default" not found')
        out = authentication_pb2.TokenRequest()
        out.CopyFrom(request)
        out.status.token = f"token-{self.calls}"
        set_time(out.status.expiration_timestamp, self.now[0] + request.spec.expiration_seconds)
        return out


async def test_the_kubelet_renews_at_80_percent_and_keeps_a_live_token_when_renewal_fails() -> None:
    now = [NOW]
    api = FakeServiceAccounts(now)
    manager = TokenManager(api, lambda: now[0])  # type: ignore[arg-type]
    p = pod(serviceAccountName="default", volumes=[{"name": "v", "projected": {"sources": [
        {"serviceAccountToken": {"path": "sub/token", "expirationSeconds": 1000}}]}}])
    p.metadata.uid = "u"
    [source] = token_sources(p)
    assert source == Source("sub/token", "", 1000)

    async def token() -> str:
        return (await manager.token(p, source)).status.token

    assert await token() == "token-1"
    assert manager.next_refresh(p) == NOW + 800
    now[0] = NOW + 700
    assert await token() == "token-1" and api.calls == 1
    now[0] = NOW + 800
    assert await token() == "token-2"
    api.fail, now[0] = True, NOW + 800 + 850
    assert await token() == "token-2"  # due but failing: the old one still has 150 s
    now[0] = NOW + 800 + 1000
    with pytest.raises(TokenError, match=re.escape('failed to fetch token: serviceaccounts "default" not found')):
        await token()
    assert manager.next_refresh(p) is None  # the expired token is dropped


def test_describe_service_account_as_kubectl() -> None:
    account = from_dict({"apiVersion": "v1", "kind": "ServiceAccount",
                         "metadata": {"name": "s3", "namespace": "ns"},
                         "imagePullSecrets": [{"name": "Bad_Pull"}, {}]})
    assert printers.describe(account, [], now=NOW) == (
        "Name:                s3\n"
        "Namespace:           ns\n"
        "Labels:              <none>\n"
        "Annotations:         <none>\n"
        "Image pull secrets:  Bad_Pull\n"
        "                     \n"
        "Events:              <none>\n")
    bare = from_dict({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "d", "namespace": "ns"}})
    assert "Image pull secrets:  <none>\n" in printers.describe(bare, [], now=NOW)


async def test_the_union_authenticator_tries_the_token_file_then_service_accounts(keys: pki.Pki,
                                                                                  tmp_path: Path) -> None:
    from apiserver.authn import Authenticator, TokenAuthenticator

    world = World(obj("ServiceAccount", "default", "u1"))
    token = issuer(keys).issue("ns", sa.Ref("default", "u1"), sa.Binding(), 900, [ISSUER], now=NOW).token
    (tmp_path / "tokens.csv").write_text("abc,admin,1,system:masters\n")
    auth = Authenticator(TokenAuthenticator.from_file(tmp_path / "tokens.csv"), validator(keys, world))
    admin, account = await auth.authenticate("abc"), await auth.authenticate(token)
    assert admin is not None and admin.groups == ("system:masters", "system:authenticated")
    assert account is not None and account.name == "system:serviceaccount:ns:default"
    assert account.groups == ("system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated")
    assert await auth.authenticate("garbage") is None and auth.required
    assert not Authenticator(None, validator(keys, world)).required
