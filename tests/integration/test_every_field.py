"""Every field of every served kind round-trips through a real apiserver: created (or status-updated), read back,
and equal to what was sent, apart from server-owned metadata and upstream defaulting.

The objects are built from the descriptors and the 1.35 schema, so a field added to the schema later and not
covered here fails `test_variants_cover_every_field`, naming it.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from apiserver.apis import install
from apiserver.apis.batch.defaulting import default_job_selector
from kubemu.api import kinds
from kubemu.api.serialization import fill_message, to_dict
from kubemu.client.client import Client
from kubemu.pb import core_pb2
from tests.support import unique

SCHEMA = Path(__file__).resolve().parents[2] / "kubemu" / "api" / "schema" / "kubernetes.json"

# Metadata the server owns (or clears on create, as BeforeCreate does upstream): never compared or required.
SERVER_OWNED = {
    "metadata.uid",
    "metadata.resourceVersion",
    "metadata.creationTimestamp",
    "metadata.generation",
    "metadata.managedFields",
    "metadata.selfLink",
    "metadata.deletionTimestamp",
    "metadata.deletionGracePeriodSeconds",
}
# Fields no create can carry, with why: coverage does not require them.
VOLUME_SOURCES = [f.name for f in core_pb2.Volume.DESCRIPTOR.fields if f.message_type is not None]
_TEMPLATE_KINDS = ("ReplicationController", "ReplicaSet", "Deployment", "DaemonSet", "Job")
_CLAIM_TEMPLATE_META = [
    f"volumes.ephemeral.volumeClaimTemplate.metadata.{f.json_name}"
    for f in core_pb2.Pod.DESCRIPTOR.fields_by_name["metadata"].message_type.fields
    if f.name not in ("labels", "annotations")
]
# Fields of the pod spec no create can carry, relative to the spec, with upstream's reason.
_POD_SPEC_UNREACHABLE = [
    # "ephemeral containers not allowed in pod template" / "cannot be set on create": only the
    # ephemeralcontainers subresource sets them.
    "ephemeralContainers",
    # "must not be set for readinessProbes".
    "containers.readinessProbe.terminationGracePeriodSeconds",
    "initContainers.readinessProbe.terminationGracePeriodSeconds",
    # "may not be set for non-init containers".
    "containers.restartPolicy",
    # "claims cannot be set for Resources at pod-level".
    "resources.claims",
    # ValidateTemplateObjectMeta: only labels and annotations "cannot be set" otherwise.
    *_CLAIM_TEMPLATE_META,
]
UNREACHABLE: dict[str, set[str]] = {
    "Pod": {f"spec.{p}" for p in _POD_SPEC_UNREACHABLE},
    **{k: {f"spec.template.spec.{p}" for p in _POD_SPEC_UNREACHABLE} for k in _TEMPLATE_KINDS},
}
for _k in _TEMPLATE_KINDS[:4]:
    # "activeDeadlineSeconds in ReplicaSet is not Supported" (and the same for the other controllers).
    UNREACHABLE[_k].add("spec.template.spec.activeDeadlineSeconds")

# Sibling fields of which one message may set only one: (message name) -> groups of proto field names. Item i
# of a repeated field (or variant i of the object) takes member i % len of each group.
EXCLUSIVE: dict[str, list[list[str]]] = {
    "Volume": [VOLUME_SOURCES],
    "VolumeProjection": [
        ["cluster_trust_bundle", "config_map", "downward_api", "pod_certificate", "secret", "service_account_token"]
    ],
    "EnvVar": [["value", "value_from"]],
    "EnvVarSource": [["field_ref", "resource_field_ref", "config_map_key_ref", "secret_key_ref", "file_key_ref"]],
    "EnvFromSource": [["config_map_ref", "secret_ref"]],
    "Probe": [["exec", "http_get", "tcp_socket", "grpc"]],
    "LifecycleHandler": [["exec", "http_get", "sleep", "tcp_socket"]],
    "ContainerState": [["running", "terminated", "waiting"]],
    "DownwardAPIVolumeFile": [["field_ref", "resource_field_ref"]],
    "FlockerVolumeSource": [["dataset_name", "dataset_uuid"]],
    "FCVolumeSource": [["target_wwns", "wwids"]],
    "ClusterTrustBundleProjection": [["name", "signer_name"], ["name", "label_selector"]],
    "PodResourceClaim": [["resource_claim_name", "resource_claim_template_name"]],
    "PersistentVolumeClaimSpec": [["data_source", "data_source_ref"]],
    "PodFailurePolicyRule": [["on_exit_codes", "on_pod_conditions"]],
    "SuccessPolicyRule": [["succeeded_count", "succeeded_indexes"]],
}


@functools.cache
def schema_definitions() -> dict[str, dict[str, Any]]:
    """Schema definitions by their short name (the proto message name)."""
    defs: dict[str, dict[str, Any]] = json.loads(SCHEMA.read_text())["definitions"]
    out: dict[str, dict[str, Any]] = {}
    for full, d in defs.items():
        out.setdefault(full.rsplit(".", 1)[-1], d)
    return out


def schema_enum(msg: Descriptor, fd: FieldDescriptor) -> list[str]:
    d = schema_definitions().get(msg.name, {})
    prop = d.get("properties", {}).get(fd.json_name, {})
    items = prop.get("items", {})
    return list(prop.get("enum") or items.get("enum") or [])


def _repeated(fd: FieldDescriptor) -> bool:
    return bool(fd.is_repeated)


def _is_map(fd: FieldDescriptor) -> bool:
    return fd.message_type is not None and fd.message_type.GetOptions().map_entry


def _leafy(desc: Descriptor) -> bool:
    """Messages filled as a value, not walked: times and int-or-strings."""
    return desc.name in ("Time", "MicroTime", "IntOrString", "FieldsV1")


# ---- field paths --------------------------------------------------------------------------------------------


def field_paths(desc: Descriptor, prefix: str = "", stack: tuple[str, ...] = ()) -> set[str]:
    """Every field path of a message, json names dotted, list items not indexed."""
    out: set[str] = set()
    for fd in desc.fields:
        p = f"{prefix}.{fd.json_name}" if prefix else fd.json_name
        out.add(p)
        mt = fd.message_type
        if mt is not None and not _is_map(fd) and not _leafy(mt) and mt.full_name not in stack:
            out |= field_paths(mt, p, (*stack, mt.full_name))
    return out


def set_paths(msg: Message, prefix: str = "") -> set[str]:
    """The field paths a message instance sets."""
    out: set[str] = set()
    for fd, value in msg.ListFields():
        p = f"{prefix}.{fd.json_name}" if prefix else fd.json_name
        out.add(p)
        if fd.message_type is None or _is_map(fd) or _leafy(fd.message_type):
            continue
        for item in value if _repeated(fd) else [value]:
            out |= set_paths(item, p)
    return out


# ---- the filler ---------------------------------------------------------------------------------------------


@functools.cache
def width(desc: Descriptor, stack: tuple[str, ...] = ()) -> int:
    """How many items a list of `desc` needs so that every member of every exclusive group below is used once."""
    if desc.full_name in stack or _leafy(desc):
        return 1
    stack = (*stack, desc.full_name)
    groups = EXCLUSIVE.get(desc.name, [])
    grouped = {n for g in groups for n in g}
    best = 1
    for fd in desc.fields:
        if fd.message_type is not None and not _repeated(fd) and fd.name not in grouped:
            best = max(best, width(fd.message_type, stack))
    for g in groups:
        inner = max(
            (width(desc.fields_by_name[n].message_type, stack) for n in g if desc.fields_by_name[n].message_type),
            default=1,
        )
        best = max(best, len(g) * inner)
    return best


Override = Any  # a value, or a callable (idx) -> value; dict values fill messages through fill_message


def _lookup(overrides: dict[str, Override], path: str) -> tuple[bool, Any]:
    """An override by exact path, else by the longest matching dotted suffix (`*.name`)."""
    if path in overrides:
        return True, overrides[path]
    parts = path.split(".")
    for i in range(len(parts)):
        key = "*." + ".".join(parts[i:])
        if key in overrides:
            return True, overrides[key]
    return False, None


class Filler:
    """Sets every field of a message to a valid value: schema enums, per-path overrides, exclusive groups spread
    over list items, conflicting paths spread over variants."""

    def __init__(
        self, overrides: dict[str, Override], conflicts: list[list[tuple[str, ...]]], variant: int, skip: set[str]
    ):
        self.overrides = overrides
        self.skip = skip
        self.conflicts = conflicts
        self.variant = variant

    def omitted(self, path: str) -> bool:
        for group in self.conflicts:
            keep = self.variant % len(group)
            for i, member in enumerate(group):
                if i != keep and any(path == p or path.startswith(p + ".") for p in member):
                    return True
        return False

    def fill(self, msg: Message, path: str, idx: int, stack: tuple[str, ...] = ()) -> None:
        desc = msg.DESCRIPTOR
        stack = (*stack, desc.full_name)
        groups = EXCLUSIVE.get(desc.name, [])
        for fd in desc.fields:
            p = f"{path}.{fd.json_name}" if path else fd.json_name
            if p in SERVER_OWNED or p in self.skip or self.omitted(p):
                continue
            child_idx = idx
            skip = False
            for g in groups:
                if fd.name in g:
                    if g[idx % len(g)] != fd.name:
                        skip = True
                    child_idx = idx // len(g)
            if skip:
                continue
            found, value = _lookup(self.overrides, p)
            if found:
                if callable(value):
                    value = value(child_idx)
                if value is None:
                    continue
                self.assign(msg, fd, value, p)
                continue
            mt = fd.message_type
            if mt is not None and mt.full_name in stack:
                continue  # a recursive type: one level is enough
            if _is_map(fd):
                vfd = fd.message_type.fields_by_name["value"]
                if vfd.type == FieldDescriptor.TYPE_BYTES:
                    getattr(msg, fd.name).update({"key": b"value"})
                elif vfd.message_type is not None:  # ExtraValue: a list of strings
                    getattr(msg, fd.name)["key"].items.append("value")
                else:
                    getattr(msg, fd.name).update({"key": "value"})
            elif mt is not None and _leafy(mt):
                self.assign(msg, fd, _leaf_value(mt.name), p)
            elif mt is not None and _repeated(fd):
                for i in range(width(mt)):
                    self.fill(getattr(msg, fd.name).add(), p, i, stack)
            elif mt is not None:
                child = getattr(msg, fd.name)
                child.SetInParent()
                self.fill(child, p, child_idx, stack)
            else:
                scalar = self.scalar(desc, fd, child_idx)
                if _repeated(fd):
                    getattr(msg, fd.name).append(scalar)
                else:
                    setattr(msg, fd.name, scalar)

    @staticmethod
    def scalar(desc: Descriptor, fd: FieldDescriptor, idx: int) -> Any:
        enum = [e for e in schema_enum(desc, fd) if e]
        if fd.type == FieldDescriptor.TYPE_STRING:
            return enum[0] if enum else "x"
        if fd.type == FieldDescriptor.TYPE_BOOL:
            return True
        if fd.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            return 1.0
        if fd.type == FieldDescriptor.TYPE_BYTES:
            return b"{}"
        return 1

    @staticmethod
    def assign(msg: Message, fd: FieldDescriptor, value: Any, path: str) -> None:
        if _is_map(fd):
            getattr(msg, fd.name).update(value)
        elif fd.message_type is not None and _repeated(fd):
            for item in value:
                fill_message(getattr(msg, fd.name).add(), item, path)
        elif fd.message_type is not None:
            fill_message(getattr(msg, fd.name), value, path)
        elif _repeated(fd):
            getattr(msg, fd.name).extend(value)
        else:
            try:
                setattr(msg, fd.name, value)
            except TypeError as e:
                raise TypeError(f"{path}: {e}") from None


def _leaf_value(name: str) -> Any:
    if name in ("Time", "MicroTime"):
        return "2024-01-02T03:04:05Z"
    if name == "FieldsV1":
        return {}
    return 1


# ---- what validation needs ------------------------------------------------------------------------------------

LABELS = {"app": "every", "tier": "field"}
POD_NAME = "every-pod"


def _core_overrides() -> dict[str, Override]:
    """Per-path values for the pod spec and what nests in it, as dotted suffixes."""
    return {
        # metadata
        "*.labels": dict(LABELS),
        "*.annotations": {"example.com/note": "every field"},
        "*.finalizers": ["example.com/keep"],
        "*.ownerReferences": [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": "owner",
                "uid": "u-1",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
        "*.metadata.generateName": "every-",
        # containers
        "*.containers.name": lambda i: f"c{i}",
        "*.initContainers.name": lambda i: f"i{i}",
        "*.containers.image": "busybox:1.36",
        "*.initContainers.image": "busybox:1.36",
        "*.restartPolicy": None,
        "*.initContainers.restartPolicy": "Always",
        "*.imagePullPolicy": "IfNotPresent",
        "*.terminationMessagePolicy": "File",
        "*.ports": lambda i: [
            {"name": f"p{i}", "containerPort": 8080 + i, "hostPort": 8080 + i, "protocol": "TCP", "hostIP": "10.0.0.1"}
        ],
        "*.env.name": lambda i: f"E{i}",
        "*.env.value": "v",
        "*.fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"},
        "*.env.valueFrom.resourceFieldRef": {"containerName": "c0", "resource": "limits.cpu", "divisor": "1m"},
        "*.resourceFieldRef": {"containerName": "c0", "resource": "limits.memory", "divisor": "1Mi"},
        "*.configMapKeyRef": {"name": "cm", "key": "k", "optional": True},
        "*.secretKeyRef": {"name": "sec", "key": "k", "optional": True},
        "*.fileKeyRef": {"key": "K", "path": "env.txt", "volumeName": "v0", "optional": True},
        "*.envFrom.prefix": "P_",
        "*.configMapRef": {"name": "cm", "optional": True},
        "*.envFrom.secretRef": {"name": "sec", "optional": True},
        "*.containers.resources": {
            "limits": {"cpu": "1", "memory": "1Gi"},
            "requests": {"cpu": "500m", "memory": "512Mi"},
            "claims": [{"name": "gpu", "request": "r"}],
        },
        "*.initContainers.resources": {
            "limits": {"cpu": "1", "memory": "1Gi"},
            "requests": {"cpu": "500m", "memory": "512Mi"},
            "claims": [{"name": "gpu", "request": "r"}],
        },
        "spec.resources": {"limits": {"cpu": "8", "memory": "8Gi"}, "requests": {"cpu": "4", "memory": "4Gi"}},
        "spec.template.spec.resources": {
            "limits": {"cpu": "8", "memory": "8Gi"},
            "requests": {"cpu": "4", "memory": "4Gi"},
        },
        "*.resizePolicy": [
            {"resourceName": "cpu", "restartPolicy": "NotRequired"},
            {"resourceName": "memory", "restartPolicy": "RestartContainer"},
        ],
        "*.volumeMounts": lambda i: [
            {
                "name": "v0",
                "mountPath": f"/m{i}",
                "readOnly": True,
                "subPath": "sub",
                "mountPropagation": "None",
                "recursiveReadOnly": "Enabled",
            },
            {"name": "v1", "mountPath": f"/n{i}", "subPathExpr": "$(E0)"},
        ],
        "*.volumeDevices": [{"name": f"v{VOLUME_SOURCES.index('persistent_volume_claim')}", "devicePath": "/dev/xvda"}],
        "*.workingDir": "/work",
        "*.terminationMessagePath": "/dev/termination-log",
        "*.command": ["sh", "-c"],
        "*.args": ["true"],
        # probes and handlers
        "*.successThreshold": 1,
        "*.readinessProbe.terminationGracePeriodSeconds": None,
        "*.terminationGracePeriodSeconds": 30,
        "*.exec": {"command": ["true"]},
        "*.httpGet": {
            "path": "/healthz",
            "port": 8080,
            "host": "localhost",
            "scheme": "HTTP",
            "httpHeaders": [{"name": "X-Probe", "value": "1"}],
        },
        "*.tcpSocket": {"port": "p0", "host": "localhost"},
        "*.grpc": {"port": 9090, "service": "health"},
        "*.sleep": {"seconds": 5},
        "*.stopSignal": "SIGTERM",
        "*.restartPolicyRules": [{"action": "Restart", "exitCodes": {"operator": "In", "values": [42]}}],
        # security
        "*.securityContext.runAsUser": 1000,
        "*.securityContext.runAsGroup": 1000,
        "*.securityContext.fsGroup": 1000,
        "*.securityContext.supplementalGroups": [1000],
        "*.capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
        "*.securityContext.privileged": False,
        "*.securityContext.allowPrivilegeEscalation": True,
        "*.procMount": "Default",
        "*.seccompProfile.type": "Localhost",
        "*.seccompProfile.localhostProfile": "profiles/audit.json",
        "*.appArmorProfile.type": "Localhost",
        "*.appArmorProfile.localhostProfile": "k8s-apparmor-example",
        "*.windowsOptions": {
            "gmsaCredentialSpecName": "gmsa",
            "gmsaCredentialSpec": "{}",
            "hostProcess": False,
            "runAsUserName": "ContainerUser",
        },
        "*.sysctls": [{"name": "kernel.shm_rmid_forced", "value": "0"}],
        "*.fsGroupChangePolicy": "OnRootMismatch",
        "*.supplementalGroupsPolicy": "Merge",
        "*.seLinuxChangePolicy": "MountOption",
        "*.seLinuxOptions": {"user": "u", "role": "r", "type": "t", "level": "s0:c1"},
        # pod spec
        "*.template.spec.restartPolicy": "Always",
        "spec.restartPolicy": "Always",
        "*.dnsPolicy": "None",
        "*.dnsConfig": {
            "nameservers": ["1.1.1.1"],
            "searches": ["svc.cluster.local"],
            "options": [{"name": "ndots", "value": "2"}],
        },
        "*.hostAliases": [{"ip": "10.0.0.9", "hostnames": ["db.local"]}],
        "*.imagePullSecrets": [{"name": "pull"}],
        "*.readinessGates": [{"conditionType": "example.com/ready"}],
        "*.os": {"name": "linux"},
        "*.resourceClaims": [
            {"name": "gpu", "resourceClaimName": "gpu-claim"},
            {"name": "other", "resourceClaimTemplateName": "tmpl"},
        ],
        "*.spec.resourceClaims.resourceClaimName": None,
        "*.schedulingGates": [{"name": "example.com/gate"}],
        "*.nodeName": "node-1",
        "*.hostNetwork": True,
        "*.hostPID": True,
        "*.hostIPC": True,
        "*.hostUsers": True,
        "*.shareProcessNamespace": True,
        "*.activeDeadlineSeconds": 600,
        "*.serviceAccountName": "default",
        "*.serviceAccount": "default",
        "*.schedulerName": "default-scheduler",
        "*.priorityClassName": "high",
        "*.priority": 100,
        "*.preemptionPolicy": "Never",
        "*.runtimeClassName": "runc",
        "*.overhead": {"cpu": "10m"},
        "*.nodeSelector": {"kubernetes.io/os": "linux"},
        "*.hostname": "host",
        "*.subdomain": "sub",
        "*.hostnameOverride": "host-override",
        "*.tolerations": [
            {"key": "k", "operator": "Equal", "value": "v", "effect": "NoExecute", "tolerationSeconds": 30},
            # DefaultTolerationSeconds adds these to a pod that lacks them.
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
        ],
        "*.topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "minDomains": 1,
                "labelSelector": {
                    "matchLabels": {"app": "every"},
                    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["field"]}],
                },
                "matchLabelKeys": ["pod-template-hash"],
                "nodeAffinityPolicy": "Honor",
                "nodeTaintsPolicy": "Ignore",
            }
        ],
        "*.affinity": _affinity(),
        # volumes: item i takes source i of Volume's group
        "*.volumes.name": lambda i: f"v{i}",
        "*.emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"},
        "*.hostPath": {"path": "/var/data", "type": "DirectoryOrCreate"},
        "*.gitRepo": {"repository": "https://example.com/r.git", "revision": "main", "directory": "r"},
        "*.partition": 1,
        "*.gcePersistentDisk.pdName": "pd",
        "*.awsElasticBlockStore.volumeID": "vol-1",
        "*.secret.secretName": "sec",
        "*.secret.defaultMode": 0o644,
        "*.secret.items": [{"key": "k", "path": "p", "mode": 0o600}],
        "*.nfs": {"server": "nfs.local", "path": "/exports", "readOnly": True},
        "*.iscsi": {
            "targetPortal": "10.0.0.1:3260",
            "iqn": "iqn.2001-04.com.example:storage",
            "lun": 1,
            "iscsiInterface": "default",
            "fsType": "ext4",
            "readOnly": True,
            "portals": ["10.0.0.2:3260"],
            "chapAuthDiscovery": True,
            "chapAuthSession": True,
            "secretRef": {"name": "chap"},
            "initiatorName": "iqn.2001-04.com.example:node",
        },
        "*.glusterfs": {"endpoints": "glusterfs", "path": "vol", "readOnly": True},
        "*.flocker.datasetName": "ds",
        "*.flocker.datasetUUID": "uuid",
        "*.persistentVolumeClaim": {"claimName": "claim", "readOnly": True},
        "*.rbd.monitors": ["10.0.0.1:6789"],
        "*.rbd.image": "img",
        "*.cinder.volumeID": "vol",
        "*.cephfs.monitors": ["10.0.0.1:6789"],
        "*.quobyte": {
            "registry": "reg:7861",
            "volume": "vol",
            "readOnly": True,
            "user": "u",
            "group": "g",
            "tenant": "t",
        },
        "*.downwardAPI.defaultMode": 0o644,
        "*.downwardAPI.items.path": lambda i: f"f{i}",
        "*.downwardAPI.items.mode": 0o600,
        "*.fc.targetWWNs": ["500a0982991b8dc5"],
        "*.fc.lun": 0,
        "*.fc.wwids": ["3600508b400105e210000900000490000"],
        "*.flexVolume.driver": "example.com/flex",
        "*.flexVolume.options": {"opt": "1"},
        "*.volumes.configMap": {
            "name": "cm",
            "defaultMode": 0o644,
            "optional": True,
            "items": [{"key": "k", "path": "p", "mode": 0o600}],
        },
        "*.azureFile": {"secretName": "az", "shareName": "share", "readOnly": True},
        "*.vsphereVolume.volumePath": "[ds] vol.vmdk",
        "*.photonPersistentDisk.pdID": "pd",
        "*.portworxVolume.volumeID": "vol",
        "*.azureDisk": {
            "diskName": "d",
            "diskURI": "https://acct.blob.core.windows.net/c/d.vhd",
            "cachingMode": "ReadWrite",
            "fsType": "ext4",
            "readOnly": True,
            "kind": "Shared",
        },
        "*.storageos.volumeName": "vol",
        "*.storageos.volumeNamespace": "ns",
        "*.scaleIO.gateway": "https://gw",
        "*.scaleIO.system": "sys",
        "*.scaleIO.volumeName": "vol",
        "*.csi.driver": "csi.example.com",
        "*.csi.nodePublishSecretRef": {"name": "csi-secret"},
        "*.csi.volumeAttributes": {"size": "1"},
        "*.volumeClaimTemplate.metadata": {"labels": {"app": "every"}, "annotations": {"a": "b"}},
        "*.accessModes": ["ReadWriteOnce"],
        "*.volumeClaimTemplate.spec.resources": {"requests": {"storage": "1Gi"}, "limits": {"storage": "2Gi"}},
        "*.volumeClaimTemplate.spec.selector": {
            "matchLabels": {"app": "every"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["field"]}],
        },
        "*.storageClassName": "standard",
        "*.volumeAttributesClassName": "gold",
        "*.volumeMode": "Filesystem",
        "*.volumeClaimTemplate.spec.volumeName": "pv-1",
        "*.dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "src"},
        "*.dataSourceRef": {
            "apiGroup": "snapshot.storage.k8s.io",
            "kind": "VolumeSnapshot",
            "name": "snap",
            "namespace": "other",
        },
        "*.volumes.image": {"reference": "registry.example.com/data:1", "pullPolicy": "IfNotPresent"},
        "*.projected.defaultMode": 0o644,
        "*.projected.sources": [
            {"secret": {"name": "sec", "optional": True, "items": [{"key": "k", "path": "s", "mode": 0o600}]}},
            {"configMap": {"name": "cm", "optional": True, "items": [{"key": "k", "path": "c", "mode": 0o600}]}},
            {
                "downwardAPI": {
                    "items": [
                        {"path": "d", "mode": 0o600, "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
                        {
                            "path": "r",
                            "resourceFieldRef": {"containerName": "c0", "resource": "limits.cpu", "divisor": "1m"},
                        },
                    ]
                }
            },
            {"serviceAccountToken": {"audience": "api", "expirationSeconds": 3600, "path": "token"}},
            {"clusterTrustBundle": {"name": "example.com:signer:bundle", "path": "ctb1", "optional": True}},
            {
                "clusterTrustBundle": {
                    "signerName": "example.com/signer",
                    "path": "ctb2",
                    "optional": True,
                    "labelSelector": {
                        "matchLabels": {"a": "b"},
                        "matchExpressions": [{"key": "a", "operator": "In", "values": ["b"]}],
                    },
                }
            },
            {
                "podCertificate": {
                    "signerName": "example.com/signer",
                    "keyType": "ED25519",
                    "maxExpirationSeconds": 3600,
                    "credentialBundlePath": "cred.pem",
                    "keyPath": "key.pem",
                    "certificateChainPath": "chain.pem",
                }
            },
        ],
        "*.readOnly": True,
        "*.fsType": "ext4",
        "*.secretRef": {"name": "sec"},
    }


def _affinity() -> dict[str, Any]:
    sel = {"matchLabels": {"app": "every"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["f"]}]}
    term = {
        "labelSelector": sel,
        "namespaceSelector": sel,
        "namespaces": ["default"],
        "topologyKey": "kubernetes.io/hostname",
        "matchLabelKeys": ["k"],
        "mismatchLabelKeys": ["m"],
    }
    node_term = {
        "matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}],
        "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}],
    }
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [node_term]},
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": node_term}],
        },
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [term],
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": term}],
        },
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [term],
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": term}],
        },
    }


# Paths that may not all be set in one object: variant v keeps member v % len of each group.
CONFLICTS: list[list[tuple[str, ...]]] = [
    # "ShareProcessNamespace and HostPID cannot both be enabled".
    [
        ("spec.hostPID", "spec.template.spec.hostPID"),
        ("spec.shareProcessNamespace", "spec.template.spec.shareProcessNamespace"),
    ],
    # "may not be specified when 'hostIPC' is true" (an IPC sysctl).
    [
        ("spec.hostIPC", "spec.template.spec.hostIPC"),
        ("spec.securityContext.sysctls", "spec.template.spec.securityContext.sysctls"),
    ],
    # ValidatePodCreate: nodeName "cannot be set until all schedulingGates have been cleared".
    [("spec.nodeName",), ("spec.schedulingGates",)],
    # validateLinux: windows options cannot be set for a linux pod.
    [
        ("spec.os", "spec.template.spec.os"),
        (
            *(
                f"{root}.{c}.securityContext.windowsOptions"
                for root in ("spec", "spec.template.spec")
                for c in ("containers", "initContainers")
            ),
            "spec.securityContext.windowsOptions",
            "spec.template.spec.securityContext.windowsOptions",
        ),
    ],
]


def _variants(info: kinds.KindInfo) -> Iterator[Message]:
    n = max((len(g) for g in CONFLICTS), default=1) * width(info.message.DESCRIPTOR)
    pod_bearing = info.kind == "Pod" or info.kind in _TEMPLATE_KINDS
    overrides = {**(_core_overrides() if pod_bearing else {}), **KIND_OVERRIDES.get(info.kind, {})}
    for v in range(n):
        obj = info.message()
        Filler(overrides, CONFLICTS, v, {"status", *UNREACHABLE.get(info.kind, ())}).fill(obj, "", v)
        yield obj


def _status_object(info: kinds.KindInfo) -> Message:
    overrides = {**KIND_OVERRIDES.get(info.kind, {}), **STATUS_OVERRIDES}
    obj = info.message()
    others = {f.json_name for f in info.message.DESCRIPTOR.fields if f.name != "status"}
    Filler(overrides, [], 0, others).fill(obj, "", 0)
    return obj


def _meta(kind: str) -> dict[str, Override]:
    return {"metadata.name": lambda i: f"every-{kind.lower()}-{i}", "metadata.namespace": "NS"}


_SELECTOR = {"matchLabels": dict(LABELS), "matchExpressions": [{"key": "tier", "operator": "In", "values": ["field"]}]}
KIND_OVERRIDES: dict[str, dict[str, Override]] = {
    "Namespace": {
        "metadata.name": lambda i: f"every-ns-{i}",
        "metadata.namespace": None,
        "spec.finalizers": ["kubernetes"],
    },
    "Node": {
        "metadata.name": lambda i: f"every-node-{i}",
        "metadata.namespace": None,
        "spec.podCIDR": "10.244.0.0/24",
        "spec.podCIDRs": ["10.244.0.0/24"],
        "spec.providerID": "kubemu://node",
        "spec.configSource": {
            "configMap": {
                "name": "cfg",
                "namespace": "kube-system",
                "kubeletConfigKey": "kubelet",
                # Only a node update refuses these ("uid must not be set in spec"); a create keeps them.
                "uid": "u-1",
                "resourceVersion": "1",
            }
        },
        "spec.taints": [{"key": "k", "value": "v", "effect": "NoSchedule", "timeAdded": "2024-01-02T03:04:05Z"}],
    },
    "Pod": {**_meta("Pod")},
    "Event": {
        **_meta("Event"),
        "involvedObject": {
            "kind": "Pod",
            "namespace": "NS",
            "name": "p",
            "uid": "u",
            "apiVersion": "v1",
            "resourceVersion": "1",
            "fieldPath": "spec",
        },
        "reportingComponent": "example.com/every",
        "reportingInstance": "i",
        "action": "Act",
        "reason": "R",
        "message": "m",
        "type": "Normal",
        "eventTime": "2024-01-02T03:04:05.000001Z",
        "series": {"count": 2, "lastObservedTime": "2024-01-02T03:04:05.000001Z"},
    },
    "ReplicationController": {
        **_meta("RC"),
        "spec.selector": dict(LABELS),
        "spec.template.spec.activeDeadlineSeconds": None,
    },
    "ReplicaSet": {**_meta("RS"), "spec.selector": _SELECTOR, "spec.template.spec.activeDeadlineSeconds": None},
    "Deployment": {
        **_meta("Deploy"),
        "spec.selector": _SELECTOR,
        "spec.template.spec.activeDeadlineSeconds": None,
        "spec.strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}},
        "spec.progressDeadlineSeconds": 600,
        "spec.minReadySeconds": 5,
    },
    "DaemonSet": {
        **_meta("DS"),
        "spec.selector": _SELECTOR,
        "spec.template.spec.activeDeadlineSeconds": None,
        "spec.updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
    },
    "Job": {
        **_meta("Job"),
        "spec.selector": _SELECTOR,
        "spec.manualSelector": True,
        "spec.template.spec.restartPolicy": "Never",
        "spec.completionMode": "Indexed",
        "spec.completions": 4,
        "spec.parallelism": 2,
        "spec.backoffLimitPerIndex": 1,
        "spec.maxFailedIndexes": 2,
        "spec.podReplacementPolicy": "Failed",
        "spec.managedBy": "kubernetes.io/job-controller",
        "spec.suspend": True,
        "spec.podFailurePolicy": {
            "rules": [
                {"action": "FailIndex", "onExitCodes": {"containerName": "c0", "operator": "In", "values": [42]}},
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
            ]
        },
        "spec.successPolicy": {"rules": [{"succeededIndexes": "0-2", "succeededCount": 1}]},
        "*.resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}],
    },
    "Lease": {
        **_meta("Lease"),
        "spec.holderIdentity": "me",
        "spec.leaseDurationSeconds": 15,
        "spec.acquireTime": "2024-01-02T03:04:05.000001Z",
        "spec.renewTime": "2024-01-02T03:04:05.000001Z",
        "spec.leaseTransitions": 1,
        "spec.strategy": "OldestEmulationVersion",
        "spec.preferredHolder": "you",
    },
}
STATUS_OVERRIDES: dict[str, Override] = {}


def _served() -> list[kinds.KindInfo]:
    return list(kinds.all_kinds())


def _namespaced(obj: Message, info: kinds.KindInfo, namespace: str) -> Message:
    text = json.dumps(to_dict(obj)).replace('"NS"', json.dumps(namespace))
    out = info.message()
    fill_message(out, {k: v for k, v in json.loads(text).items() if k not in ("apiVersion", "kind")})
    return out


def _comparable(obj: Message) -> dict[str, Any]:
    d = to_dict(obj)
    for key in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink"):
        d.get("metadata", {}).pop(key, None)
    d.pop("status", None)
    return d


def _changed(sent: Any, got: Any, path: str = "") -> list[str]:
    """The paths where `got` differs from `sent`, keys `sent` lacks excepted (defaulting may add those)."""
    if isinstance(sent, dict) and isinstance(got, dict):
        return [p for k, v in sent.items() for p in _changed(v, got.get(k), f"{path}.{k}")]
    if isinstance(sent, list) and isinstance(got, list) and len(sent) == len(got):
        return [p for i, (a, b) in enumerate(zip(sent, got, strict=True)) for p in _changed(a, b, f"{path}[{i}]")]
    return [] if sent == got else [path]


# ---- the tests ------------------------------------------------------------------------------------------------


def missing_paths(kind: str) -> list[str]:
    """The field paths of `kind` that no variant (nor the status object) sets."""
    info = kinds.by_kind(kind)
    wanted = field_paths(info.message.DESCRIPTOR)
    wanted = {p for p in wanted if not any(p == s or p.startswith(s + ".") for s in SERVER_OWNED)}
    wanted -= {p for p in wanted for u in UNREACHABLE.get(kind, ()) if p == u or p.startswith(u + ".")}
    if not info.namespaced:
        wanted.discard("metadata.namespace")  # "not allowed on this type"
    covered: set[str] = set()
    for obj in _variants(info):
        covered |= set_paths(obj)
    if "status" in info.message.DESCRIPTOR.fields_by_name:
        covered |= {p for p in set_paths(_status_object(info)) if p.startswith("status")}
    return sorted(wanted - covered)


@pytest.mark.parametrize("kind", [k.kind for k in kinds.all_kinds()])
def test_variants_cover_every_field(kind: str) -> None:
    missing = missing_paths(kind)
    assert not missing, f"{kind}: no variant sets {missing}"


def test_coverage_names_a_field_no_variant_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker on a doctored input: with hostAliases never filled, it must name them."""
    monkeypatch.setitem(KIND_OVERRIDES, "Pod", {**KIND_OVERRIDES["Pod"], "*.hostAliases": None})
    assert "spec.hostAliases" in missing_paths("Pod")


@pytest.mark.parametrize("kind", [k.kind for k in kinds.all_kinds()])
def test_variants_validate(kind: str) -> None:
    """The same check the apiserver makes, in process: a refusal here names the field quickly."""
    info = kinds.by_kind(kind)
    for i, obj in enumerate(_variants(info)):
        obj = _namespaced(obj, info, "default")
        if info.kind == "Job":
            obj.metadata.uid = "u-1"  # the registry sets it before validating
        install.default(obj)
        errs = install.validate(obj)
        assert not errs, f"{kind} variant {i}: " + "; ".join(map(str, errs))


@pytest.mark.integration
@pytest.mark.parametrize("kind", [k.kind for k in kinds.all_kinds()])
async def test_every_field_round_trips(client: Client, namespace: str, kind: str) -> None:
    info = kinds.by_kind(kind)
    rc = client.resource(kind)
    ns = namespace if info.namespaced else None
    variants = list(_variants(info))
    assert variants
    for i, variant in enumerate(variants):
        obj = _namespaced(variant, info, namespace)
        obj.metadata.name = unique(f"{kind.lower()}{i}")
        if not info.namespaced:
            obj.metadata.ClearField("namespace")
        created = await rc.create(obj)
        expected = copy.deepcopy(obj)
        expected.metadata.uid = created.metadata.uid
        install.default(expected)
        if kind == "Job":
            default_job_selector(expected, created.metadata.uid)
        got = await rc.get(obj.metadata.name, ns)
        # What was sent comes back unchanged; only what defaulting fills in is added.
        assert _comparable(got) == _comparable(expected), f"{kind} variant {i} changed on the way"
        changed = _changed(_comparable(obj), _comparable(got))
        assert not changed, f"{kind} variant {i} changed {changed}"
        if "status" in info.message.DESCRIPTOR.fields_by_name:
            status = _status_object(info)
            got.status.CopyFrom(_namespaced(status, info, namespace).status)  # type: ignore[attr-defined]
            await rc.update_status(got)
            again = await rc.get(obj.metadata.name, ns)
            assert to_dict(again)["status"] == to_dict(got)["status"], f"{kind} status changed on the way"
