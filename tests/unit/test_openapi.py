"""The API's schema at run time (kubemu.api.openapi) and `kubemu explain`, checked against what the schema file
says and what kubectl explain prints for the same fields (kubectl v1.32 against the v1.35 peer)."""

from __future__ import annotations

import pytest

from kubemu.api import kinds, openapi
from kubemu.cli.common import CliError
from kubemu.cli.explain import explain

pytestmark = pytest.mark.unit


def test_every_served_kind_has_its_definition() -> None:
    for info in kinds.all_kinds():
        name = openapi.definition_of(info)
        assert name.endswith(f".{info.api_version.rpartition('/')[2]}.{info.kind}"), (info.kind, name)


def test_a_fields_type_enum_default_and_list_metadata() -> None:
    pod = kinds.by_kind("Pod")
    containers = openapi.field(pod, "spec.containers")
    assert containers.type_name == "[]Container"
    assert containers.required
    assert (containers.list_type, containers.list_map_keys) == ("map", ("name",))
    assert (containers.patch_strategy, containers.patch_merge_key) == ("merge", "name")
    policy = openapi.field(pod, "spec.containers.imagePullPolicy")
    assert policy.enum == ("Always", "IfNotPresent", "Never")
    assert openapi.field(pod, "spec.containers.ports.protocol").default == "TCP"
    assert openapi.field(pod, "spec.nodeSelector").type_name == "map[string]string"
    assert openapi.field(pod, "spec.containers.resources.limits").type_name == "map[string]Quantity"
    assert openapi.field(pod, "spec.containers.livenessProbe.httpGet.port").type_name == "IntOrString"
    assert openapi.field(pod, "metadata.creationTimestamp").type_name == "string"
    assert openapi.field(kinds.by_kind("Deployment"), "spec.strategy.type").enum == ("Recreate", "RollingUpdate")


def test_a_field_that_does_not_exist() -> None:
    with pytest.raises(openapi.FieldNotFound, match='field "foo" does not exist'):
        openapi.field(kinds.by_kind("Pod"), "spec.foo")


def test_explain_prints_kubectls_headings_types_and_required_marks() -> None:
    text = explain("pod.spec.containers.livenessProbe")
    assert text.startswith("KIND:       Pod\nVERSION:    v1\n\nFIELD: livenessProbe <Probe>\n\nFIELDS:\n")
    assert "  exec\t<ExecAction>\n" in text and "  failureThreshold\t<integer>\n" in text
    assert "  name\t<string> -required-\n" in explain("pods.spec.containers")
    policy = explain("po.spec.containers.imagePullPolicy")
    assert "FIELD: imagePullPolicy <string>\nENUM:\n    Always\n    IfNotPresent\n    Never\n" in policy
    assert explain("deployments").startswith("KIND:       Deployment\nGROUP:      apps\nVERSION:    v1\n")


def test_explain_refuses_what_does_not_exist() -> None:
    with pytest.raises(CliError, match='error: field "foo" does not exist'):
        explain("pod.spec.foo")
    with pytest.raises(CliError, match='the server doesn\'t have a resource type "nope"'):
        explain("nope")
