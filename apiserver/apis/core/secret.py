"""The Secret strategy: `stringData` folded into `data` on every write, `type` defaulted to Opaque and immutable, the
keys each type requires, 1 MiB of data, and no change of contents once `immutable` is set, as ValidateSecret /
ValidateSecretUpdate (pkg/apis/core/validation), SetDefaults_Secret, Convert_v1_Secret_To_core_Secret and
pkg/registry/core/secret/strategy.go."""

from __future__ import annotations

from typing import Any

from apiserver.apis.core.configmap import IMMUTABLE_SET_MSG, MAX_SIZE, key_errors
from apiserver.apis.strategy import Strategy
from apiserver.rest.decode import parse_json
from apiserver.validation import (
    FieldError,
    _immutable,
    forbidden,
    invalid,
    name_is_dns_subdomain,
    required,
    too_long,
    validate_object_meta,
    validate_object_meta_update,
)
from kubemu.api import fields, kinds
from kubemu.api.patch.errors import json_kind
from kubemu.config import ClusterConfig

OPAQUE = "Opaque"
SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
SERVICE_ACCOUNT_NAME_KEY = "kubernetes.io/service-account.name"
DOCKERCFG, DOCKERCFG_KEY = "kubernetes.io/dockercfg", ".dockercfg"
DOCKER_CONFIG_JSON, DOCKER_CONFIG_JSON_KEY = "kubernetes.io/dockerconfigjson", ".dockerconfigjson"
BASIC_AUTH = "kubernetes.io/basic-auth"
SSH_AUTH, SSH_PRIVATE_KEY = "kubernetes.io/ssh-auth", "ssh-privatekey"
TLS, TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY = "kubernetes.io/tls", "tls.crt", "tls.key"
REDACTED = "<secret contents redacted>"


def fold_string_data(secret: Any) -> None:
    """stringData is write-only: each of its keys overwrites the same key of data, and it is never stored (the v1
    to internal conversion upstream, so create, update and patch all see it)."""
    for k, v in secret.string_data.items():
        secret.data[k] = v.encode()
    secret.ClearField("string_data")


def _json_object_error(raw: bytes) -> str | None:
    """Why json.Unmarshal into a map[string]interface{} fails on `raw`, in encoding/json's words; None if it
    does not."""
    try:
        value = parse_json(raw)
    except ValueError as e:
        return str(e)
    if value is None or isinstance(value, dict):
        return None
    return f"json: cannot unmarshal {json_kind(value)} into Go value of type map[string]interface {{}}"


def _type_errors(secret: Any) -> list[FieldError]:
    data, kind = secret.data, secret.type

    def key(k: str) -> str:
        return f"data[{k}]"

    if kind == SERVICE_ACCOUNT_TOKEN:
        # Only the name: the token controller contributes the uid annotation and data later.
        if not secret.metadata.annotations.get(SERVICE_ACCOUNT_NAME_KEY):
            return [required(f"metadata.annotations[{SERVICE_ACCOUNT_NAME_KEY}]")]
    elif kind in (DOCKERCFG, DOCKER_CONFIG_JSON):
        k = DOCKERCFG_KEY if kind == DOCKERCFG else DOCKER_CONFIG_JSON_KEY
        if k not in data:
            return [required(key(k))]
        why = _json_object_error(data[k])
        if why is not None:
            return [invalid(key(k), REDACTED, why)]
    elif kind == BASIC_AUTH:
        # Either may be empty, but one of them must be there.
        if "username" not in data and "password" not in data:
            return [required(key("username")), required(key("password"))]
    elif kind == SSH_AUTH:
        if not data.get(SSH_PRIVATE_KEY):
            return [required(key(SSH_PRIVATE_KEY))]
    elif kind == TLS:
        return [required(key(k)) for k in (TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY) if k not in data]
    return []


def validate_secret(secret: Any) -> list[FieldError]:
    errs = validate_object_meta(secret.metadata, True, name_is_dns_subdomain)
    errs += key_errors(secret.data, "data")
    if sum(len(v) for v in secret.data.values()) > MAX_SIZE:
        errs.append(too_long("data", MAX_SIZE))
    return errs + _type_errors(secret)


class SecretStrategy(Strategy):
    field_labels = fields.FieldLabels(fields.NAME_AND_NAMESPACE | {"type"}, {}, fields.not_supported)

    def default(self, obj: Any, config: ClusterConfig) -> None:
        fold_string_data(obj)
        if not obj.type:
            obj.type = OPAQUE

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_secret(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        errs = validate_object_meta_update(new.metadata, old.metadata)
        errs += _immutable(new.type, old.type, "type")
        if old.immutable:
            if not new.immutable:
                errs.append(forbidden("immutable", IMMUTABLE_SET_MSG))
            if dict(new.data) != dict(old.data):
                errs.append(forbidden("data", IMMUTABLE_SET_MSG))
        # Upstream reports these together with the create rules on the new object (the registry runs those alone
        # only when this finds nothing).
        return errs + validate_secret(new) if errs else errs

    def selectable_fields(self, obj: Any) -> dict[str, str]:
        return {"type": obj.type}


STRATEGY = SecretStrategy(kinds.by_kind("Secret"))
