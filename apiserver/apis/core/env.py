"""Validation of a container's environment beyond fieldRef/resourceFieldRef: key references and envFrom.

Ports validateConfigMapKeySelector, validateSecretKeySelector and ValidateEnvFrom of
pkg/apis/core/validation/validation.go.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from apiserver.apis.core.validation import (
    _RELAXED_ENV_MSG,
)
from apiserver.validation import (
    FieldError,
    _child,
    invalid,
    name_is_dns_subdomain,
    required,
)
from kubemu.api import names
from kubemu.pb import core_pb2

_CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_MAP_KEY_RE = re.compile(_CONFIG_MAP_KEY_FMT)
_CONFIG_MAP_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"


def is_config_map_key(value: str) -> list[str]:
    """IsConfigMapKey (apimachinery util/validation): a file name in a volume, so no `.` or `..` prefix."""
    errs: list[str] = []
    if names.byte_len(value) > 253:
        errs.append(names.max_len_error(253))
    if not _CONFIG_MAP_KEY_RE.fullmatch(value):
        errs.append(names.regex_error(_CONFIG_MAP_KEY_MSG, _CONFIG_MAP_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def relaxed_env_var_name_errors(value: str) -> list[str]:
    """IsRelaxedEnvVarName: printable ASCII other than '=' (RelaxedEnvironmentVariableValidation, GA)."""
    errs: list[str] = []
    if not value:
        errs.append("environment variable name must be non-empty")
    if any(ord(c) > 126 or ord(c) < 32 or c == "=" for c in value):
        errs.append(_RELAXED_ENV_MSG)
    return errs


def _key_selector(sel: core_pb2.ConfigMapKeySelector | core_pb2.SecretKeySelector, path: str) -> list[FieldError]:
    """validateConfigMapKeySelector / validateSecretKeySelector: both check the name as a secret name."""
    errs = [invalid(_child(path, "name"), sel.name, m) for m in name_is_dns_subdomain(sel.name, False)]
    kp = _child(path, "key")
    if not sel.key:
        errs.append(required(kp))
    else:
        errs += [invalid(kp, sel.key, m) for m in is_config_map_key(sel.key)]
    return errs


def _file_key_selector(sel: core_pb2.FileKeySelector, path: str) -> list[FieldError]:
    """validateFileKeySelector (EnvFiles): a key, a relative path and the emptyDir volume holding the file."""
    from apiserver.apis.core.volumes import local_non_reserved_path

    errs: list[FieldError] = []
    if not sel.key:
        errs.append(required(_child(path, "key")))
    else:
        errs += [invalid(_child(path, "key"), sel.key, m) for m in relaxed_env_var_name_errors(sel.key)]
    if not sel.path:
        errs.append(required(_child(path, "path")))
    else:
        errs += local_non_reserved_path(sel.path, _child(path, "path"))
    vp = _child(path, "volumeName")
    if not sel.volume_name:
        errs.append(required(vp))
    else:
        errs += [invalid(vp, sel.volume_name, m) for m in names.validate_dns1123_label(sel.volume_name)]
    return errs


def key_ref_sources(src: core_pb2.EnvVarSource) -> int:
    """How many of the key references (configMapKeyRef, secretKeyRef, fileKeyRef) are set."""
    return sum(int(src.HasField(f)) for f in ("config_map_key_ref", "secret_key_ref", "file_key_ref"))


def validate_key_refs(src: core_pb2.EnvVarSource, path: str) -> list[FieldError]:
    """The key-reference part of validateEnvVarValueFrom; `path` is the env var's `valueFrom`."""
    errs: list[FieldError] = []
    if src.HasField("config_map_key_ref"):
        errs += _key_selector(src.config_map_key_ref, _child(path, "configMapKeyRef"))
    if src.HasField("secret_key_ref"):
        errs += _key_selector(src.secret_key_ref, _child(path, "secretKeyRef"))
    if src.HasField("file_key_ref"):
        errs += _file_key_selector(src.file_key_ref, _child(path, "fileKeyRef"))
    return errs


def validate_env_from(sources: Sequence[core_pb2.EnvFromSource], path: str) -> list[FieldError]:
    """ValidateEnvFrom: a valid prefix and exactly one of configMapRef/secretRef per entry."""
    errs: list[FieldError] = []
    for i, ev in enumerate(sources):
        p = f"{path}[{i}]"
        if ev.prefix:
            errs += [invalid(_child(p, "prefix"), ev.prefix, m) for m in relaxed_env_var_name_errors(ev.prefix)]
        count = 0
        for fld, json_name in (("config_map_ref", "configMapRef"), ("secret_ref", "secretRef")):
            if not ev.HasField(fld):  # type: ignore[arg-type]
                continue
            count += 1
            ref, rp = getattr(ev, fld), _child(p, json_name, "name")
            if not ref.name:
                errs.append(required(rp))
            else:
                # ValidateConfigMapName / ValidateSecretName are called with prefix=true here.
                errs += [invalid(rp, ref.name, m) for m in name_is_dns_subdomain(ref.name, True)]
        # Upstream reports these two on the list, not on the entry.
        if count == 0:
            errs.append(invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif count > 1:
            errs.append(invalid(path, "", "may not have more than one field specified at a time"))
    return errs
