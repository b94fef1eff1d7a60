"""The ConfigMap and Secret strategies in process: upstream's rules and words (kube-apiserver 1.35 gave the same for
each case, ../shared/k8s-peer)."""

from __future__ import annotations

from typing import Any

import pytest

from apiserver.apis.core.configmap import STRATEGY as CONFIG_MAPS
from apiserver.apis.core.secret import STRATEGY as SECRETS
from kubemu.api.serialization import from_dict
from kubemu.config import ClusterConfig


def _secret(**fields: Any) -> Any:
    s = from_dict({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"}, **fields})
    SECRETS.default(s, ClusterConfig())
    return s


def _cm(**fields: Any) -> Any:
    return from_dict({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}, **fields})


@pytest.mark.parametrize(("fields", "errors"), [
    ({"type": "kubernetes.io/basic-auth", "stringData": {"password": ""}}, []),
    ({"type": "kubernetes.io/basic-auth"},
     ["data[username]: Required value", "data[password]: Required value"]),
    ({"type": "kubernetes.io/ssh-auth", "stringData": {"ssh-privatekey": ""}},
     ["data[ssh-privatekey]: Required value"]),
    ({"type": "kubernetes.io/dockercfg", "stringData": {".dockercfg": "[1]"}},
     ['data[.dockercfg]: Invalid value: "<secret contents redacted>": '
      "json: cannot unmarshal array into Go value of type map[string]interface {}"]),
    ({"type": "kubernetes.io/dockerconfigjson", "stringData": {".dockerconfigjson": '{"auths": {}}'}}, []),
    ({"type": "kubernetes.io/service-account-token",
      "metadata": {"name": "s", "namespace": "ns", "annotations": {"kubernetes.io/service-account.name": "sa"}}}, []),
    ({"type": "bootstrap.kubernetes.io/token"}, []),
    ({"type": "kubernetes.io/tls", "stringData": {"tls.crt": "c"}}, ["data[tls.key]: Required value"]),
    ({"stringData": {"..x": "1"}}, ['data[..x]: Invalid value: "..x": must not start with \'..\'']),
])
def test_secret_rules_per_type(fields: dict[str, Any], errors: list[str]) -> None:
    assert [str(e) for e in SECRETS.validate(_secret(**fields))] == errors


def test_secret_type_defaults_to_opaque_and_is_selectable() -> None:
    s = _secret()
    assert s.type == "Opaque" and SECRETS.selectable_fields(s) == {"type": "Opaque"}


def test_update_of_immutable_objects_reports_every_rule_at_once() -> None:
    old, new = _secret(immutable=True, stringData={"a": "1"}), _secret(type="x", stringData={"a": "2", "b c": "3"})
    new.metadata.resource_version = old.metadata.resource_version
    assert [str(e) for e in SECRETS.validate_update(new, old)] == [
        'type: Invalid value: "x": field is immutable',
        "immutable: Forbidden: field is immutable when `immutable` is set",
        "data: Forbidden: field is immutable when `immutable` is set",
        'data[b c]: Invalid value: "b c": a valid config key must consist of alphanumeric characters, \'-\', \'_\' '
        "or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
    ]
    old_cm, new_cm = _cm(immutable=True, binaryData={"b": "MQ=="}), _cm(immutable=True)
    assert [str(e) for e in CONFIG_MAPS.validate_update(new_cm, old_cm)] == [
        "binaryData: Forbidden: field is immutable when `immutable` is set"]
    mutable_old, mutable_new = _cm(data={"a": "1"}), _cm(data={"a": "2"}, immutable=True)
    assert CONFIG_MAPS.validate_update(mutable_new, mutable_old) == []


def test_size_counts_values_of_data_and_binary_data_together() -> None:
    half = "x" * (512 * 1024)
    assert CONFIG_MAPS.validate(_cm(data={"a": half}, binaryData={"b": "eA==" * 1})) == []
    too_big = _cm(data={"a": half, "b": half}, binaryData={"c": "eA=="})
    assert [str(e) for e in CONFIG_MAPS.validate(too_big)] == ["[]: Too long: may not be more than 1048576 bytes"]
