"""The Kubernetes documentation's example manifests (tests/manifests/docs/, from kubernetes/website
content/en/examples) created with dry run through a real apiserver: each is accepted, or refused as REFUSED says.

Every document of a kind kubemu serves is decoded (`from_dict`) and created with `dry_run=True`. A dry-run create
in kubemu validates and returns before the store is touched, but the NamespaceLifecycle admission plugin still asks
for the namespace a document names, so the test creates those first, as the pages do. Documents of kinds kubemu does
not serve yet (Service, ConfigMap, ...) are counted and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubemu.api import kinds
from kubemu.api.serialization import DecodeError, from_dict
from kubemu.client import errors
from kubemu.client.client import Client
from tests.support import REPO

pytestmark = pytest.mark.integration

CORPUS = REPO / "tests" / "manifests" / "docs"


@dataclass(frozen=True)
class Refusal:
    reason: str
    """Why the document is refused: what its page says, or `KUBEMU BUG: ...` where upstream accepts it."""
    message: str
    """The exact error, as `str()` of the exception (a decode error, or the apiserver's Status message)."""


# Documents refused, keyed by the file's path under tests/manifests/docs and, in a file of several documents,
# `#<index>` of the document (0-based, counting every document of the file). Every document of a served kind
# not listed here must be accepted; every entry here must still be refused with exactly this message.
REFUSED: dict[str, Refusal] = {
    'secret/serviceaccount/mysecretname.yaml': Refusal(
        'its annotations are a list, not a map; kubectl refuses the file too (json: cannot unmarshal array into Go '
        'struct field ObjectMeta.metadata.annotations of type map[string]string)',
        'metadata.annotations: expected object, got array',
    ),
    'secret/tls-auth-secret.yaml': Refusal(
        'a template: its page says to replace the placeholders with base64 data first; kube-apiserver 1.35 '
        'refuses it as written with the same words',
        'data[tls.crt]: illegal base64 data at input byte 7',
    ),
    'application/job/job-tmpl.yaml': Refusal(
        'a template: its page (Parallel Processing using Expansions) expands $ITEM with sed before '
        'applying',
        'Job "process-item-$ITEM" is invalid: [metadata.name: Invalid value: "process-item-$ITEM": a '
        "lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
        "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'), "
        'spec.template.labels: Invalid value: "process-item-$ITEM": a valid label must be an empty '
        "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation "
        "is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')]",
    ),
    'controllers/job-pod-failure-policy-example.yaml': Refusal(
        'KUBEMU BUG: upstream defaults podFailurePolicy onPodConditions[].status to True '
        '(SetDefaults_PodFailurePolicyOnPodConditionsPattern) and accepts it',
        'Job "job-pod-failure-policy-example" is invalid: '
        'spec.podFailurePolicy.rules[1].onPodConditions[0].status: Required value: valid values: '
        '["False" "True" "Unknown"]',
    ),
    'controllers/job-pod-failure-policy-ignore.yaml': Refusal(
        'KUBEMU BUG: upstream defaults podFailurePolicy onPodConditions[].status to True '
        '(SetDefaults_PodFailurePolicyOnPodConditionsPattern) and accepts it',
        'Job "job-pod-failure-policy-ignore" is invalid: '
        'spec.podFailurePolicy.rules[0].onPodConditions[0].status: Required value: valid values: '
        '["False" "True" "Unknown"]',
    ),
    'controllers/job-success-policy-example.yaml': Refusal(
        'a fragment the page shows, not applied: no name and no restartPolicy (upstream refuses it too)',
        'Job "" is invalid: [metadata.name: Required value: name or generateName is required, '
        'metadata.name: Invalid value: "": will not able to create pod with invalid DNS label: -9, '
        'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", '
        '"Never"]',
    ),
    'pods/emptydir-volume-mode.yaml': Refusal(
        "emptyDir.mode is not in Kubernetes 1.35's API (its page documents a newer release); upstream "
        '1.35 refuses the unknown field too',
        'unknown field "spec.volumes[0].emptyDir.mode"',
    ),
    'pods/image-volumes-subpath.yaml': Refusal(
        'KUBEMU BUG: upstream accepts subPath/subPathExpr on image volumes since 1.33 (ImageVolume beta, '
        'KEP-4639)',
        'Pod "image-volume" is invalid: spec.containers[0].volumeMounts[0].subPath: Invalid value: '
        '"dir": not allowed in image volume sources',
    ),
    'pods/inject/envars-file-container.yaml': Refusal(
        "KUBEMU BUG: the YAML has the escape \\' in a double-quoted string, which PyYAML refuses and "
        "kubectl's YAML parser (go-yaml, libyaml's rules) reads",
        'YAML: while scanning a double-quoted scalar',
    ),
    'pods/inject/pod-multiple-secret-env-variable.yaml': Refusal(
        'the stored version indents with a tab, which YAML forbids (kubectl refuses it too)',
        'YAML: while scanning for the next token',
    ),
    'pods/inject/pod-single-secret-env-variable.yaml': Refusal(
        'the stored version has no apiVersion (kubectl refuses it too)',
        'apiVersion: Required value: apiVersion not set',
    ),
    'pods/pod-with-node-affinity.yaml': Refusal(
        'the stored version gives requiredDuringSchedulingIgnoredDuringExecution a list (upstream '
        'refuses it too)',
        'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution: expected object, got '
        'array',
    ),
    'pods/pod-with-numeric-toleration.yaml': Refusal(
        'operator Gt is alpha in 1.35 (TaintTolerationComparisonOperators, off by default): upstream '
        'refuses it the same way',
        'Pod "nginx-numeric-toleration" is invalid: spec.tolerations[0].operator: Unsupported value: '
        '"Gt": supported values: "Equal", "Exists"',
    ),
    'pods/probe/grpc-liveness.yaml': Refusal(
        "the stored version spells the field gRPC; it is grpc, and upstream's strict decoding refuses "
        'gRPC too',
        'unknown field "spec.containers[0].livenessProbe.gRPC"',
    ),
    'pods/resource/pod-level-pid-limit.yaml': Refusal(
        'a pod-level pids limit is not in Kubernetes 1.35 (its page documents a newer release)',
        'Pod "pid-demo" is invalid: [spec.resources.limits[pids]: Invalid value: "pids": must be a '
        'standard resource type or fully qualified, spec.resources.limits[pids]: Invalid value: "pids": '
        'must be a standard resource for containers]',
    ),
    'pods/restart-policy/restart-all-containers.yaml': Refusal(
        "restartPolicyRules[].onExit is not in Kubernetes 1.35's API (its page documents a newer release)",
        'unknown field "spec.initContainers[1].restartPolicyRules[0].onExit"',
    ),
    'pods/security/security-context-7.yaml': Refusal(
        "securityContext.cgroupOptions is not in Kubernetes 1.35's API (its page documents a newer "
        'release)',
        'unknown field "spec.containers[0].securityContext.cgroupOptions"',
    ),
    'service/networking/dual-stack-ipv6-svc.yaml': Refusal(
        "its page (IPv4/IPv6 dual-stack) shows the field that existed before 1.20; kube-apiserver 1.35 refuses it "
        "too: strict decoding error: unknown field \"spec.ipFamily\"",
        'unknown field "spec.ipFamily"',
    ),
}


def documents(path: Path) -> list[Any] | str:
    """The file's documents, or the YAML error's text when the file does not parse (kubectl refuses it too)."""
    try:
        return list(yaml.safe_load_all(path.read_text()))
    except yaml.YAMLError as e:
        return f"YAML: {str(e).splitlines()[0]}"


def key_of(rel: str, index: int, count: int) -> str:
    return rel if count == 1 else f"{rel}#{index}"


async def outcome(client: Client, doc: dict[str, Any]) -> str | None:
    """None when the dry-run create is accepted, else the error's text."""
    try:
        obj = from_dict(doc)
    except DecodeError as e:
        return str(e)
    try:
        await client.resource(doc["kind"]).create(obj, dry_run=True)
    except errors.StatusError as e:
        return str(e)
    return None


async def create_namespaces(client: Client, files: list[Path]) -> None:
    """The namespaces the documents are created in, which their pages create first."""
    names: set[str] = set()
    for path in files:
        docs = documents(path)
        if isinstance(docs, str):
            continue
        for doc in docs:
            if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict):
                namespace = doc["metadata"].get("namespace")
                if isinstance(namespace, str) and namespace:
                    names.add(namespace)
    for name in sorted(names):
        try:
            await client.namespaces.create(from_dict({"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": name}}))
        except errors.AlreadyExists:
            pass


async def test_docs_examples_are_accepted_or_refused_as_listed(client: Client) -> None:
    served = {info.kind for info in kinds.all_kinds()}
    files = sorted(p for p in CORPUS.rglob("*.yaml"))
    assert files, f"no manifests under {CORPUS}"
    accepted: list[str] = []
    refused: dict[str, str] = {}
    other_kinds: dict[str, int] = {}
    await create_namespaces(client, files)
    for path in files:
        rel = path.relative_to(CORPUS).as_posix()
        docs = documents(path)
        if isinstance(docs, str):
            refused[rel] = docs
            continue
        docs_of_files = [d for d in docs if d is not None]
        for index, doc in enumerate(docs_of_files):
            key = key_of(rel, index, len(docs_of_files))
            kind = doc.get("kind") if isinstance(doc, dict) else None
            if kind not in served:
                other_kinds[str(kind)] = other_kinds.get(str(kind), 0) + 1
                continue
            error = await outcome(client, doc)
            if error is None:
                accepted.append(key)
            else:
                refused[key] = error

    total = len(accepted) + len(refused)
    bugs = sum(1 for k in refused if k in REFUSED and REFUSED[k].reason.startswith("KUBEMU BUG"))
    print(f"\ndocs corpus: {len(files)} files, {total} documents of served kinds: {len(accepted)} accepted, "
          f"{len(refused)} refused as expected ({bugs} of them kubemu bugs); "
          f"{sum(other_kinds.values())} documents of other kinds skipped {dict(sorted(other_kinds.items()))}")

    unexpected = {k: m for k, m in refused.items() if k not in REFUSED}
    wrong = {k: (m, REFUSED[k].message) for k, m in refused.items() if k in REFUSED and REFUSED[k].message != m}
    stale = sorted(k for k in REFUSED if k not in refused)
    assert not unexpected, "refused, not in REFUSED:\n" + "\n".join(f"  {k}: {m}" for k, m in unexpected.items())
    assert not wrong, "refused with another message:\n" + "\n".join(
        f"  {k}: got {got!r}, expected {want!r}" for k, (got, want) in wrong.items())
    assert not stale, f"in REFUSED but accepted now (or gone from the corpus): {stale}"
