"""ServiceAccount tokens, as kube-apiserver's pkg/serviceaccount: the claims of a bound token, signed RS256 with
--service-account-signing-key-file, and their check when a request brings one back (signature, issuer, audience,
time, and that the ServiceAccount and the object the token is bound to still exist with the same uid)."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from apiserver import errors
from apiserver.validation import FieldError, invalid
from kubemu.api.serialization import set_time
from kubemu.pb import authentication_pb2

log = structlog.get_logger()

WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS = 60 * 60 + 7
"""The expirationSeconds the ServiceAccount admission plugin puts in the kube-api-access volume: a token asked for
with it (bound to a pod, for the apiserver's audiences) is made valid for a year, with a warnafter claim."""
EXPIRATION_EXTENSION_SECONDS = 24 * 365 * 60 * 60
DEFAULT_EXPIRATION_SECONDS = 3600
"""TokenRequestSpec's default expirationSeconds."""
MIN_EXPIRATION_SECONDS = 10 * 60
MAX_EXPIRATION_SECONDS = 1 << 32
"""ValidateTokenRequest's bounds."""
NBF_LEEWAY = 60
"""Seconds of clock skew a token's nbf and iat are allowed (upstream's jwt leeway)."""
POD_DELETION_GRACE = 60
"""A token bound to a pod stays valid this long after the pod's deletion starts, as upstream."""

SA_PREFIX = "system:serviceaccount:"
ALL_SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
GROUP_PREFIX = "system:serviceaccounts:"
CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
POD_NAME, POD_UID = "authentication.kubernetes.io/pod-name", "authentication.kubernetes.io/pod-uid"
NODE_NAME, NODE_UID = "authentication.kubernetes.io/node-name", "authentication.kubernetes.io/node-uid"


class KeyFileError(Exception):
    """A key file cannot be read or holds no usable key; the message names the file."""


def username(namespace: str, name: str) -> str:
    return f"{SA_PREFIX}{namespace}:{name}"


def groups(namespace: str) -> tuple[str, ...]:
    return (ALL_SERVICE_ACCOUNTS_GROUP, f"{GROUP_PREFIX}{namespace}")


def key_id(public: Any) -> str:
    """Upstream's keyIDFromPublicKey: the unpadded base64url SHA-256 of the key's PKIX DER form."""
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


def load_signing_key(path: str | Path) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as e:
        raise KeyFileError(f"failed to parse service-account-issuer-key-file: {path}: {e.strerror or e}") from None
    except (ValueError, TypeError) as e:
        raise KeyFileError(f"failed to parse service-account-issuer-key-file: {path}: {e}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyFileError(f"failed to parse service-account-issuer-key-file: {path}: not an RSA or ECDSA key")
    return key


def load_public_keys(path: str | Path) -> list[Any]:
    """Every public key of a PEM file (public keys, certificates or private keys, as upstream's keyutil reads)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise KeyFileError(f"failed to read service account key file {path}: {e.strerror or e}") from None
    keys: list[Any] = []
    for block in data.split(b"-----END ")[:-1]:
        start = block.find(b"-----BEGIN ")
        if start < 0:
            continue
        kind = block[start + 11:block.find(b"-----", start + 11)]
        pem = block[start:] + b"-----END " + kind + b"-----\n"
        try:
            if kind.endswith(b"PRIVATE KEY"):
                keys.append(serialization.load_pem_private_key(pem, password=None).public_key())
            elif kind == b"CERTIFICATE":
                keys.append(x509.load_pem_x509_certificate(pem).public_key())
            else:
                keys.append(serialization.load_pem_public_key(pem))
        except (ValueError, TypeError) as e:
            raise KeyFileError(f"failed to read service account key file {path}: {e}") from None
    if not keys:
        raise KeyFileError(f"failed to read service account key file {path}: data does not contain any valid "
                           "RSA or ECDSA public keys")
    return keys


def _algorithm(key: Any) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return {256: "ES256", 384: "ES384", 521: "ES512"}[key.curve.key_size]
    return "RS256"


@dataclass(frozen=True)
class Ref:
    """A name and uid of an object a token is bound to (or of its ServiceAccount)."""

    name: str
    uid: str


@dataclass(frozen=True)
class Binding:
    """What a token names besides its ServiceAccount: the pod (and its node) or the secret it is bound to."""

    pod: Ref | None = None
    node: Ref | None = None
    secret: Ref | None = None


@dataclass(frozen=True)
class Issued:
    token: str
    expiration: int
    """Unix seconds of the exp claim (a year off for an extended token)."""
    expiration_seconds: int
    """The lifetime asked for, capped at the maximum: what the TokenRequest's status reports, so that the kubelet
    renews an extended token as often as an ordinary one."""


@dataclass
class Issuer:
    """The token generator of one apiserver (upstream's JWTTokenGenerator with claims.go's Claims)."""

    issuer: str
    """The first --service-account-issuer: the iss of every token made."""
    key: Any
    audiences: tuple[str, ...]
    """--api-audiences (default: the issuers): a TokenRequest without audiences gets these."""
    max_expiration: int = 0
    """--service-account-max-token-expiration in seconds; 0 is none."""
    extend_expiration: bool = True
    """--service-account-extend-token-expiration."""
    clock: Callable[[], float] = time.time
    kid: str = field(init=False)

    def __post_init__(self) -> None:
        self.kid = key_id(self.key.public_key())

    def issue(self, namespace: str, sa: Ref, binding: Binding, expiration_seconds: int,
              audiences: Sequence[str], now: float | None = None) -> Issued:
        now = int(self.clock() if now is None else now)
        if self.max_expiration and expiration_seconds > self.max_expiration:
            expiration_seconds = self.max_expiration
        exp = now + expiration_seconds
        k8s: dict[str, Any] = {"namespace": namespace, "serviceaccount": {"name": sa.name, "uid": sa.uid}}
        for claim, ref in (("pod", binding.pod), ("secret", binding.secret), ("node", binding.node)):
            if ref is not None:
                k8s[claim] = {"name": ref.name, "uid": ref.uid}
        if (self.extend_expiration and binding.pod is not None
                and expiration_seconds == WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS
                and set(audiences) == set(self.audiences)):
            # The safe transition to bound tokens: the kubelet's default token lives a year, warned after an hour.
            k8s["warnafter"] = now + WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS
            exp = now + (min(self.max_expiration, EXPIRATION_EXTENSION_SECONDS) if self.max_expiration
                         else EXPIRATION_EXTENSION_SECONDS)
        claims = {"aud": list(audiences), "exp": exp, "iat": now, "iss": self.issuer, "jti": str(uuid.uuid4()),
                  "kubernetes.io": k8s, "nbf": now, "sub": username(namespace, sa.name)}
        token = jwt.encode(claims, self.key, algorithm=_algorithm(self.key), headers={"kid": self.kid})
        return Issued(token, exp, expiration_seconds)


@dataclass(frozen=True)
class ServiceAccountUser:
    """The user a valid ServiceAccount token stands for."""

    name: str
    uid: str
    groups: tuple[str, ...]
    extra: dict[str, tuple[str, ...]]


Getter = Callable[[str, str, str], Awaitable[Any]]
"""(kind, namespace, name) -> the stored object, or None when there is none."""


class TokenInvalid(Exception):
    """Why a token that looked like a ServiceAccount token was refused (logged; the client only sees 401)."""


@dataclass
class Validator:
    """Checks the tokens this cluster's issuer made (upstream's jwtTokenAuthenticator with the bound-token
    validator): signed by one of --service-account-key-file's keys, iss among --service-account-issuer, an
    audience among --api-audiences, in its time, and its ServiceAccount, pod, secret and node still there."""

    issuers: tuple[str, ...]
    keys: list[Any]
    audiences: tuple[str, ...]
    get: Getter
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self._by_kid = {key_id(k): k for k in self.keys}

    def looks_like(self, token: str) -> bool:
        """A JWT whose iss is one of ours: else the token is another authenticator's to judge."""
        if token.count(".") != 2:
            return False
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return False
        return isinstance(claims, dict) and claims.get("iss") in self.issuers

    async def validate(self, token: str) -> ServiceAccountUser:
        claims = self._verified(token)
        k8s = claims.get("kubernetes.io")
        if not isinstance(k8s, dict):
            raise TokenInvalid("token has no kubernetes.io claim (legacy tokens are not served)")
        namespace = k8s.get("namespace", "")
        sa_ref = _ref(k8s.get("serviceaccount"))
        if not namespace or sa_ref is None:
            raise TokenInvalid("namespace or serviceaccount claim missing")
        sa = await self.get("ServiceAccount", namespace, sa_ref.name)
        if sa is None:
            raise TokenInvalid(f"service account {namespace}/{sa_ref.name} has been deleted")
        if sa.metadata.uid != sa_ref.uid:
            raise TokenInvalid(f"service account UID ({sa_ref.uid}) does not match claim ({sa.metadata.uid})")
        if sa.metadata.HasField("deletion_timestamp"):
            raise TokenInvalid(f"service account {namespace}/{sa_ref.name} has been deleted")
        extra: dict[str, tuple[str, ...]] = {}
        if jti := claims.get("jti"):
            extra[CREDENTIAL_ID] = (f"JTI={jti}",)
        pod_ref = _ref(k8s.get("pod"))
        if pod_ref is not None:
            pod = await self.get("Pod", namespace, pod_ref.name)
            if pod is None or pod.metadata.uid != pod_ref.uid:
                raise TokenInvalid(f"pod {namespace}/{pod_ref.name} bound to the token has been deleted")
            if pod.metadata.HasField("deletion_timestamp") and \
                    pod.metadata.deletion_timestamp.seconds + POD_DELETION_GRACE < self.clock():
                raise TokenInvalid(f"pod {namespace}/{pod_ref.name} bound to the token has been deleted")
            extra[POD_NAME], extra[POD_UID] = (pod_ref.name,), (pod_ref.uid,)
        secret_ref = _ref(k8s.get("secret"))
        if secret_ref is not None:
            secret = await self.get("Secret", namespace, secret_ref.name)
            if secret is None or secret.metadata.uid != secret_ref.uid:
                raise TokenInvalid(f"secret {namespace}/{secret_ref.name} bound to the token has been deleted")
        node_ref = _ref(k8s.get("node"))
        if node_ref is not None:
            if pod_ref is None:  # a token bound to the node itself: the node must still be there
                node = await self.get("Node", "", node_ref.name)
                if node is None or node.metadata.uid != node_ref.uid:
                    raise TokenInvalid(f"node {node_ref.name} bound to the token has been deleted")
            extra[NODE_NAME], extra[NODE_UID] = (node_ref.name,), (node_ref.uid,)
        return ServiceAccountUser(username(namespace, sa_ref.name), sa_ref.uid, groups(namespace), extra)

    def _verified(self, token: str) -> dict[str, Any]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as e:
            raise TokenInvalid(str(e)) from None
        keys = [self._by_kid[kid]] if kid in self._by_kid else self.keys
        last: Exception | None = None
        for key in keys:
            try:
                claims: dict[str, Any] = jwt.decode(
                    token, key, algorithms=["RS256", "ES256", "ES384", "ES512"], issuer=list(self.issuers),
                    audience=list(self.audiences),
                    # exp and nbf are checked below with upstream's leeways (none for exp).
                    options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                             "require": ["exp", "iss", "sub"]})
            except jwt.InvalidSignatureError as e:
                last = e
                continue
            except jwt.PyJWTError as e:
                raise TokenInvalid(str(e)) from None
            now = self.clock()
            if now >= claims["exp"]:
                raise TokenInvalid("service account token has expired")
            if now + NBF_LEEWAY < claims.get("nbf", 0):
                raise TokenInvalid("service account token is not valid yet")
            return claims
        raise TokenInvalid(f"invalid signature: {last}")


def _ref(value: Any) -> Ref | None:
    if not isinstance(value, dict) or not value.get("name"):
        return None
    return Ref(str(value["name"]), str(value.get("uid", "")))


# ---- OIDC discovery -----------------------------------------------------------------------------------------------


def openid_configuration(issuer: str, jwks_uri: str, keys: Sequence[Any]) -> dict[str, Any]:
    """/.well-known/openid-configuration, as kube-apiserver's ServiceAccountIssuerDiscovery serves it."""
    algs = sorted({_algorithm(k) for k in keys})
    return {"issuer": issuer, "jwks_uri": jwks_uri, "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": algs}


def jwks(keys: Sequence[Any]) -> dict[str, Any]:
    """/openid/v1/jwks: the public keys tokens are checked with, as a JSON Web Key Set."""
    out = []
    for key in keys:
        if isinstance(key, ec.EllipticCurvePublicKey):
            fields = jwt.algorithms.ECAlgorithm.to_jwk(key, as_dict=True)
        else:
            fields = jwt.algorithms.RSAAlgorithm.to_jwk(key, as_dict=True)
        for extra in ("kty", "key_ops"):  # kty goes first, key_ops is not in upstream's set
            fields.pop(extra, None)
        out.append({"use": "sig", "kty": "EC" if isinstance(key, ec.EllipticCurvePublicKey) else "RSA",
                    "kid": key_id(key), "alg": _algorithm(key), **fields})
    return {"keys": out}


# ---- the serviceaccounts/token subresource ----------------------------------------------------------------------


def validate_token_request(req: Any) -> list[FieldError]:
    """ValidateTokenRequest: expirationSeconds between ten minutes and 2^32 seconds."""
    seconds = req.spec.expiration_seconds
    if seconds < MIN_EXPIRATION_SECONDS:
        return [invalid("spec.expirationSeconds", seconds, "may not specify a duration less than 10 minutes")]
    if seconds > MAX_EXPIRATION_SECONDS:
        return [invalid("spec.expirationSeconds", seconds, "may not specify a duration larger than 2^32 seconds")]
    return []


async def create_token(issuer: Issuer, get: Getter, namespace: str, name: str, req: Any, now: float) -> Any:
    """TokenREST.Create: a TokenRequest for ServiceAccount `name`, answered with a signed token in its status.
    `get` raises NotFound for an object that is not there."""
    out = authentication_pb2.TokenRequest()
    out.CopyFrom(req)
    spec = out.spec
    if not spec.HasField("expiration_seconds"):
        spec.expiration_seconds = DEFAULT_EXPIRATION_SECONDS
    errs = validate_token_request(out)
    if errs:
        causes = tuple(errors.Cause(e.type, e.body(), e.field) for e in errs)
        raise errors.new_invalid("TokenRequest", "authentication.k8s.io", "", causes)
    sa = await get("ServiceAccount", namespace, name)
    binding = Binding()
    if spec.HasField("bound_object_ref"):
        ref = spec.bound_object_ref
        group = ref.api_version.rpartition("/")[0] if "/" in ref.api_version else ""
        if group == "" and ref.kind == "Pod":
            pod = await get("Pod", namespace, ref.name)
            if pod.spec.service_account_name != name:
                raise errors.BadRequest(f'cannot bind token for serviceaccount "{name}" to pod running with '
                                        "different serviceaccount name.")
            uid, node = pod.metadata.uid, None
            if pod.spec.node_name:
                try:
                    found = await get("Node", "", pod.spec.node_name)
                    node = Ref(found.metadata.name, found.metadata.uid)
                except errors.NotFound:
                    node = None  # a pod of a node that is gone: its token names no node
            binding = Binding(pod=Ref(pod.metadata.name, uid), node=node)
        elif group == "" and ref.kind == "Secret":
            secret = await get("Secret", namespace, ref.name)
            uid = secret.metadata.uid
            binding = Binding(secret=Ref(secret.metadata.name, uid))
        elif group == "" and ref.kind == "Node":
            found = await get("Node", "", ref.name)
            uid = found.metadata.uid
            binding = Binding(node=Ref(found.metadata.name, uid))
        else:
            version = ref.api_version.rpartition("/")[2]
            gvk = f"{group}/{version}, Kind={ref.kind}"  # Go's GroupVersionKind.String()
            raise errors.BadRequest(f"cannot bind token to object of type {gvk}")
        if ref.uid and ref.uid != uid:
            raise errors.new_conflict(ref.kind, group, ref.name,
                                      f"the UID in the bound object reference ({ref.uid}) does not match the UID "
                                      "in record. The object might have been deleted and then recreated")
    if not spec.audiences:
        spec.audiences.extend(issuer.audiences)
    issued = issuer.issue(namespace, Ref(name, sa.metadata.uid), binding, spec.expiration_seconds,
                          list(spec.audiences), now)
    meta = out.metadata
    meta.name, meta.namespace, meta.uid = name, namespace, sa.metadata.uid
    set_time(meta.creation_timestamp, float(int(now)))
    spec.expiration_seconds = issued.expiration_seconds
    out.status.token = issued.token
    set_time(out.status.expiration_timestamp, float(int(now) + issued.expiration_seconds))
    log.info("token.issued", component="apiserver", serviceaccount=f"{namespace}/{name}",
             bound=(binding.pod or binding.secret or binding.node or Ref("", "")).name or None,
             expires=issued.expiration)
    return out
