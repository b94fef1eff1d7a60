"""Ingress, IngressClass and NetworkPolicy through real processes: real kubectl applies the Kubernetes
documentation's examples (tests/manifests/docs/service/networking) to a real apiserver, and `kubectl get`,
`kubectl describe` and `kubemu describe` print them as they print them from kube-apiserver 1.35
(../shared/k8s-peer, where every expected text below was taken, ages aside). A bad Ingress is refused naming its
fields; the DefaultIngressClass plugin fills in the default class.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration import test_rest
from tests.support import REPO, ApiServer, run_cli, unique

pytestmark = pytest.mark.integration

kubectl = test_rest.kubectl
"""The fixture: real kubectl on the REST face of the session's apiserver."""

EXAMPLES = REPO / "tests" / "manifests" / "docs" / "service" / "networking"
NAMESPACED = [
    "minimal-ingress.yaml",
    "ingress-resource-backend.yaml",
    "ingress-wildcard-host.yaml",
    "name-virtual-host-ingress.yaml",
    "simple-fanout-example.yaml",
    "tls-example-ingress.yaml",
    "network-policy-default-deny-ingress.yaml",
    "network-policy-allow-all-ingress.yaml",
    "network-policy-default-deny-all.yaml",
    "network-policy-allow-all-egress.yaml",
    "networkpolicy-multiport-egress.yaml",
    "networkpolicy.yaml",
]


def _without_namespace(path: Path) -> str:
    """The example, minus the `namespace: default` two of them name (the test applies them to its own)."""
    return re.sub(r"(?m)^  namespace: default\n", "", path.read_text())


def _ages(text: str) -> str:
    """A table with its AGE cells (the last column) replaced by `<age>`, and its columns' widths kept."""
    return re.sub(r"(?m) \d+s$", " <age>", text)


@pytest.fixture
def applied(kubectl: Any, namespace: str, tmp_path: Path) -> Iterator[str]:
    for name in NAMESPACED:
        (tmp_path / name).write_text(_without_namespace(EXAMPLES / name))
    out = kubectl("apply", "-n", namespace, "-f", str(tmp_path)).stdout
    created = sorted(out.splitlines())
    assert created == sorted([
        "ingress.networking.k8s.io/minimal-ingress created",
        "ingress.networking.k8s.io/ingress-resource-backend created",
        "ingress.networking.k8s.io/ingress-wildcard-host created",
        "ingress.networking.k8s.io/name-virtual-host-ingress created",
        "ingress.networking.k8s.io/simple-fanout-example created",
        "ingress.networking.k8s.io/tls-example-ingress created",
        "networkpolicy.networking.k8s.io/default-deny-ingress created",
        "networkpolicy.networking.k8s.io/allow-all-ingress created",
        "networkpolicy.networking.k8s.io/default-deny-all created",
        "networkpolicy.networking.k8s.io/allow-all-egress created",
        "networkpolicy.networking.k8s.io/multi-port-egress created",
        "networkpolicy.networking.k8s.io/test-network-policy created",
    ])
    yield namespace


def test_kubectl_get_prints_the_docs_examples_as_upstream(kubectl: Any, applied: str) -> None:
    ing = kubectl("get", "ingress", "-n", applied).stdout
    assert _ages(ing) == (
        "NAME                        CLASS           HOSTS                     ADDRESS   PORTS     AGE\n"
        "ingress-resource-backend    <none>          *                                   80        <age>\n"
        "ingress-wildcard-host       <none>          foo.bar.com,*.foo.com               80        <age>\n"
        "minimal-ingress             nginx-example   *                                   80        <age>\n"
        "name-virtual-host-ingress   <none>          foo.bar.com,bar.foo.com             80        <age>\n"
        "simple-fanout-example       <none>          foo.bar.com                         80        <age>\n"
        "tls-example-ingress         <none>          https-example.foo.com               80, 443   <age>\n"
    )
    netpol = kubectl("get", "netpol", "-n", applied).stdout
    assert _ages(netpol) == (
        "NAME                   POD-SELECTOR   AGE\n"
        "allow-all-egress       <none>         <age>\n"
        "allow-all-ingress      <none>         <age>\n"
        "default-deny-all       <none>         <age>\n"
        "default-deny-ingress   <none>         <age>\n"
        "multi-port-egress      role=db        <age>\n"
        "test-network-policy    role=db        <age>\n"
    )
    # Defaulted as networking/v1 defaults them: the port's protocol, and Egress for a policy with egress rules.
    deny_all = kubectl("get", "netpol", "allow-all-ingress", "-n", applied, "-o",
                       "jsonpath={.spec.policyTypes}").stdout
    assert deny_all == '["Ingress"]'


def test_describe_prints_them_as_kubectl(kubectl: Any, apiserver: ApiServer, applied: str) -> None:
    """kubectl's own describer on kubemu's objects, and `kubemu describe`, both print what kubectl printed for the
    same examples from kube-apiserver 1.35."""
    ingress = kubectl("describe", "ingress", "name-virtual-host-ingress", "-n", applied).stdout
    expected_ingress = (
        "Name:             name-virtual-host-ingress\n"
        "Labels:           <none>\n"
        f"Namespace:        {applied}\n"
        "Address:          \n"
        "Ingress Class:    <none>\n"
        "Default backend:  <default>\n"
        "Rules:\n"
        "  Host         Path  Backends\n"
        "  ----         ----  --------\n"
        "  foo.bar.com  \n"
        "               /   service1:80 (<error: services \"service1\" not found>)\n"
        "  bar.foo.com  \n"
        "               /   service2:80 (<error: services \"service2\" not found>)\n"
        "Annotations:   <none>\n"
        "Events:        <none>\n"
    )
    assert ingress == expected_ingress
    ours = run_cli("-n", applied, "describe", "ingress", "name-virtual-host-ingress", server=apiserver.address)
    assert ours.stdout == expected_ingress, ours.stderr

    policy = kubectl("describe", "netpol", "test-network-policy", "-n", applied).stdout
    created = re.search(r"Created on:   (.*)\n", policy)
    assert created is not None
    expected_policy = (
        "Name:         test-network-policy\n"
        f"Namespace:    {applied}\n"
        f"Created on:   {created.group(1)}\n"
        "Labels:       <none>\n"
        "Annotations:  <none>\n"
        "Spec:\n"
        "  PodSelector:     role=db\n"
        "  Allowing ingress traffic:\n"
        "    To Port: 6379/TCP\n"
        "    From:\n"
        "      IPBlock:\n"
        "        CIDR: 172.17.0.0/16\n"
        "        Except: 172.17.1.0/24\n"
        "    From:\n"
        "      NamespaceSelector: project=myproject\n"
        "    From:\n"
        "      PodSelector: role=frontend\n"
        "  Allowing egress traffic:\n"
        "    To Port: 5978/TCP\n"
        "    To:\n"
        "      IPBlock:\n"
        "        CIDR: 10.0.0.0/24\n"
        "        Except: \n"
        "  Policy Types: Ingress, Egress\n"
    )
    assert policy == expected_policy
    ours = run_cli("-n", applied, "describe", "netpol", "test-network-policy", server=apiserver.address)
    assert ours.stdout == expected_policy, ours.stderr


def test_a_bad_ingress_is_refused_naming_its_fields(kubectl: Any, namespace: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: bad-ingress\nspec:\n  rules:\n"
        "  - host: \"*.*.example.com\"\n    http:\n      paths:\n      - path: /testpath\n        backend:\n"
        "          service:\n            name: test\n            port:\n              number: 80\n"
    )
    r = kubectl("apply", "-n", namespace, "-f", str(bad), check=False)
    assert r.returncode == 1
    assert r.stderr == (
        'The Ingress "bad-ingress" is invalid: \n'
        "* spec.rules[0].host: Invalid value: \"*.*.example.com\": a wildcard DNS-1123 subdomain must start with "
        "'*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or "
        "'.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is "
        "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')\n"
        "* spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified\n"
    )
    assert "No resources found" in kubectl("get", "ingress", "-n", namespace).stderr


def test_the_default_ingress_class_fills_in_a_classless_ingress(
    kubectl: Any, namespace: str, tmp_path: Path
) -> None:
    default = unique("default-class")
    other = unique("other-class")
    docs = []
    for file, name in (("default-ingressclass.yaml", default), ("external-lb.yaml", other)):
        doc = yaml.safe_load((EXAMPLES / file).read_text())
        doc["metadata"]["name"] = name  # cluster-scoped: a name of this test's own
        docs.append(doc)
    classes = tmp_path / "classes.yaml"
    classes.write_text(yaml.safe_dump_all(docs))
    try:
        kubectl("apply", "-f", str(classes))
        got = kubectl("get", "ingressclass", default, other).stdout
        assert [line.split()[:3] for line in got.splitlines()] == [
            ["NAME", "CONTROLLER", "PARAMETERS"],
            [default, "k8s.io/example-class", "<none>"],
            [other, "example.com/ingress-controller", "IngressParameters.k8s.example.com/external-lb"],
        ]
        ingress = tmp_path / "ingress.yaml"
        ingress.write_text((EXAMPLES / "name-virtual-host-ingress.yaml").read_text())
        kubectl("apply", "-n", namespace, "-f", str(ingress))
        cls = kubectl("get", "ingress", "name-virtual-host-ingress", "-n", namespace, "-o",
                      "jsonpath={.spec.ingressClassName}").stdout
        assert cls == default
        # A class named in the old annotation is left alone, and the client told the annotation is deprecated.
        legacy = ingress.read_text().replace("name: name-virtual-host-ingress",
                                             "name: legacy\n  annotations:\n    kubernetes.io/ingress.class: legacy")
        ingress.write_text(legacy)
        r = kubectl("apply", "-n", namespace, "-f", str(ingress))
        assert r.stderr == ('Warning: annotation "kubernetes.io/ingress.class" is deprecated, please use '
                            "'spec.ingressClassName' instead\n")
        assert kubectl("get", "ingress", "legacy", "-n", namespace, "-o",
                       "jsonpath={.spec.ingressClassName}").stdout == ""
        # The controller is immutable.
        r = kubectl("patch", "ingressclass", other, "--type=merge", "-p",
                    '{"spec":{"controller":"example.com/other"}}', check=False)
        assert r.stderr.strip() == (
            f'The IngressClass "{other}" is invalid: spec.controller: Invalid value: "example.com/other": '
            "field is immutable"
        )
    finally:
        kubectl("delete", "ingressclass", default, other, "--ignore-not-found")


def test_a_bad_load_balancer_status_is_refused(kubectl: Any, namespace: str, tmp_path: Path) -> None:
    """What an ingress controller writes to the status subresource is checked as ValidateIngressStatusUpdate does:
    IPs (leading zeros and all, a legacy field) and DNS names that are not IPs."""
    ingress = tmp_path / "ingress.yaml"
    ingress.write_text((EXAMPLES / "minimal-ingress.yaml").read_text())
    kubectl("apply", "-n", namespace, "-f", str(ingress))
    live = json.loads(kubectl("get", "ingress", "minimal-ingress", "-n", namespace, "-o", "json").stdout)
    live["status"] = {"loadBalancer": {"ingress": [
        {"ip": "x"}, {"hostname": "1.2.3.4"}, {"hostname": "Bad_Host", "ip": "010.1.2.3"},
        {"ip": "::1", "ports": [{"port": 0, "protocol": "ICMP", "error": "bad error!"}]},
    ]}}
    status = tmp_path / "status.json"
    status.write_text(json.dumps(live))
    r = kubectl("replace", "--subresource=status", "-f", str(status), check=False)
    assert r.returncode == 1
    assert r.stderr == (
        'The Ingress "minimal-ingress" is invalid: \n'
        '* status.loadBalancer.ingress[0].ip: Invalid value: "x": must be a valid IP address, (e.g. 10.9.8.7 or '
        "2001:db8::ffff)\n"
        '* status.loadBalancer.ingress[1].hostname: Invalid value: "1.2.3.4": must be a DNS name, not an IP address\n'
        '* status.loadBalancer.ingress[2].hostname: Invalid value: "Bad_Host": a lowercase RFC 1123 subdomain must '
        "consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
        "character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')\n"
    )
    live["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}, {"hostname": "lb.example.com"}]}}
    status.write_text(json.dumps(live))
    kubectl("replace", "--subresource=status", "-f", str(status))
    got = kubectl("get", "ingress", "-n", namespace).stdout.splitlines()[1].split()
    assert got[:4] == ["minimal-ingress", "nginx-example", "*", "192.0.2.10,lb.example.com"]
