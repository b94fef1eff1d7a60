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
# A PersistentVolumeSpec inlines its PersistentVolumeSource: "may not specify more than 1 volume type".
PV_SOURCES = [
    f.name
    for f in core_pb2.PersistentVolumeSpec.DESCRIPTOR.fields
    if f.message_type is not None and f.name not in ("capacity", "claim_ref", "node_affinity")
]
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
    # Write-only: the v1 conversion merges stringData into data, so no read ever returns it.
    "Secret": {"stringData"},
    # "namespaced rules cannot apply to non-resource URLs".
    "Role": {"rules.nonResourceURLs"},
    # cleanSecretReferences: PrepareForCreate keeps only the name of each secret reference.
    "ServiceAccount": {
        f"secrets.{f}" for f in ("kind", "namespace", "uid", "apiVersion", "resourceVersion", "fieldPath")
    },
    # dropTopologyOnV1: a v1 write wipes deprecatedTopology (only v1beta1 kept it).
    "EndpointSlice": {"endpoints.deprecatedTopology"},
    # Dropped unless the CrossNamespaceVolumeDataSource feature gate (alpha, off by default) is on.
    "PersistentVolumeClaim": {"spec.dataSourceRef.namespace"},
    # Dropped while the MutableCSINodeAllocatableCount gate is off (beta, off by default in the 1.35 peer).
    "CSIDriver": {"spec.nodeAllocatableUpdatePeriodSeconds"},
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
    "PersistentVolumeSpec": [PV_SOURCES],
    # "cannot set both resource and service backends"; a port is named or numbered.
    "IngressBackend": [["resource", "service"]],
    "ServiceBackendPort": [["name", "number"]],
    # "may not specify more than 1 peer type" when one is an ipBlock.
    "NetworkPolicyPeer": [["ip_block", "pod_selector"], ["ip_block", "namespace_selector"]],
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


def _metadata_overrides() -> dict[str, Override]:
    """Per-path values for the metadata of every kind (and of pod templates), as dotted suffixes."""
    return {
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
    }


def _core_overrides() -> dict[str, Override]:
    """Per-path values for the pod spec and what nests in it, as dotted suffixes."""
    return {
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
    # An ExternalName Service is a DNS name: no cluster IPs, node ports, families or load balancer ("may not be
    # set when `type` is 'ExternalName'"); the other variant is a LoadBalancer Service, which may set them all.
    [
        tuple(
            f"spec.{f}"
            for f in (
                "clusterIP",
                "clusterIPs",
                "ipFamilies",
                "ipFamilyPolicy",
                "ports.nodePort",
                "allocateLoadBalancerNodePorts",
                "externalTrafficPolicy",
                "internalTrafficPolicy",
                "healthCheckNodePort",
                "loadBalancerClass",
                "loadBalancerIP",
                "loadBalancerSourceRanges",
            )
        ),
        ("spec.externalName",),
    ],
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
    overrides = {
        **_metadata_overrides(),
        **(_core_overrides() if pod_bearing else {}),
        **KIND_OVERRIDES.get(info.kind, {}),
    }
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
_POD_REF = {
    "kind": "Pod",
    "namespace": "NS",
    "name": "web-0",
    "uid": "u-5",
    "apiVersion": "v1",
    "resourceVersion": "1",
    "fieldPath": "spec",
}
_SECRET_REF = {"name": "sec", "namespace": "NS"}
_CONDITIONS = [
    {
        "type": "Ready",
        "status": "True",
        "observedGeneration": 1,
        "lastTransitionTime": "2024-01-02T03:04:05Z",
        "reason": "Ready",
        "message": "ready",
    }
]
_SUBJECTS = [
    {"kind": "ServiceAccount", "name": "default", "namespace": "NS"},
    {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"},
    {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"},
]
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
    "ConfigMap": {
        **_meta("ConfigMap"),
        # "duplicate of key present in binaryData": the two maps share one key space.
        "data": {"config.yaml": "a: 1"},
        "binaryData": {"blob.bin": b"\x00\x01"},
        "immutable": True,
    },
    "Secret": {
        **_meta("Secret"),
        "type": "Opaque",
        "data": {"password": b"s3cr3t"},
        "immutable": True,
    },
    "ServiceAccount": {
        **_meta("SA"),
        "secrets": [{"name": "sa-token"}],
        "imagePullSecrets": [{"name": "pull"}],
        "automountServiceAccountToken": False,
    },
    "Service": {
        **_meta("Svc"),
        "spec.type": lambda v: ("LoadBalancer", "ExternalName")[v % 2],
        "spec.externalName": "db.example.com",
        "spec.clusterIP": "10.96.200.10",
        "spec.clusterIPs": ["10.96.200.10"],
        "spec.ipFamilies": ["IPv4"],
        "spec.ipFamilyPolicy": "SingleStack",
        "spec.ports": [
            {
                "name": "http",
                "protocol": "TCP",
                "appProtocol": "http",
                "port": 80,
                "targetPort": 8080,
                "nodePort": 30080,
            }
        ],
        "spec.selector": dict(LABELS),
        "spec.externalIPs": ["192.0.2.10"],
        "spec.sessionAffinity": "ClientIP",
        "spec.sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}},
        "spec.loadBalancerIP": "192.0.2.20",
        "spec.loadBalancerSourceRanges": ["192.0.2.0/24"],
        "spec.loadBalancerClass": "example.com/lb",
        "spec.externalTrafficPolicy": "Local",
        "spec.healthCheckNodePort": 30999,
        "spec.allocateLoadBalancerNodePorts": True,
        "spec.internalTrafficPolicy": "Cluster",
        "spec.publishNotReadyAddresses": True,
        "spec.trafficDistribution": "PreferClose",
        "status.loadBalancer": {
            "ingress": [
                {
                    "ip": "192.0.2.30",
                    "hostname": "lb.example.com",
                    "ipMode": "VIP",
                    "ports": [{"port": 80, "protocol": "TCP", "error": "ExampleError"}],
                }
            ]
        },
        "status.conditions": _CONDITIONS,
    },
    "Endpoints": {
        **_meta("Endpoints"),
        "subsets": [
            {
                "addresses": [{"ip": "10.1.0.1", "hostname": "web-0", "nodeName": "node-1", "targetRef": _POD_REF}],
                "notReadyAddresses": [
                    {"ip": "10.1.0.2", "hostname": "web-1", "nodeName": "node-1", "targetRef": _POD_REF}
                ],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"}],
            }
        ],
    },
    "PersistentVolume": {
        **_meta("PV"),
        "metadata.namespace": None,
        # StorageObjectInUseProtection adds its finalizer to what lacks it.
        "metadata.finalizers": ["example.com/keep", "kubernetes.io/pv-protection"],
        "spec.capacity": {"storage": "1Gi"},
        "spec.accessModes": ["ReadWriteOnce"],
        "spec.claimRef": {
            "kind": "PersistentVolumeClaim",
            "namespace": "NS",
            "name": "claim",
            "uid": "u-3",
            "apiVersion": "v1",
            "resourceVersion": "1",
            "fieldPath": "spec",
        },
        "spec.persistentVolumeReclaimPolicy": "Retain",
        "spec.storageClassName": "standard",
        "spec.volumeMode": "Filesystem",
        # "has to be specified when using volumeAttributesClassName": only a CSI volume has a class.
        "spec.volumeAttributesClassName": lambda v: "gold" if PV_SOURCES[v % len(PV_SOURCES)] == "csi" else None,
        "spec.mountOptions": ["hard"],
        "spec.nodeAffinity": {
            "required": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a"]}],
                        "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}],
                    }
                ]
            }
        },
        # item v % len(PV_SOURCES) of the sources
        "spec.awsElasticBlockStore": {"volumeID": "vol-1", "fsType": "ext4", "partition": 1, "readOnly": True},
        "spec.azureDisk": {
            "diskName": "d",
            "diskURI": "https://acct.blob.core.windows.net/c/d.vhd",
            "cachingMode": "ReadWrite",
            "fsType": "ext4",
            "readOnly": True,
            "kind": "Shared",
        },
        "spec.azureFile": {"secretName": "az", "shareName": "share", "readOnly": True, "secretNamespace": "NS"},
        "spec.cephfs": {
            "monitors": ["10.0.0.1:6789"],
            "path": "/",
            "user": "admin",
            "secretFile": "/etc/ceph/secret",
            "secretRef": _SECRET_REF,
            "readOnly": True,
        },
        "spec.cinder": {"volumeID": "vol", "fsType": "ext4", "readOnly": True, "secretRef": _SECRET_REF},
        "spec.csi": {
            "driver": "csi.example.com",
            "volumeHandle": "h-1",
            "readOnly": True,
            "fsType": "ext4",
            "volumeAttributes": {"size": "1"},
            "controllerPublishSecretRef": _SECRET_REF,
            "nodeStageSecretRef": _SECRET_REF,
            "nodePublishSecretRef": _SECRET_REF,
            "controllerExpandSecretRef": _SECRET_REF,
            "nodeExpandSecretRef": _SECRET_REF,
        },
        "spec.fc.targetWWNs": ["500a0982991b8dc5"],
        "spec.fc.lun": 0,
        "spec.fc.wwids": ["3600508b400105e210000900000490000"],
        "spec.fc.fsType": "ext4",
        "spec.fc.readOnly": True,
        "spec.flexVolume": {
            "driver": "example.com/flex",
            "fsType": "ext4",
            "secretRef": _SECRET_REF,
            "readOnly": True,
            "options": {"opt": "1"},
        },
        "spec.flocker.datasetName": "ds",
        "spec.flocker.datasetUUID": "uuid",
        "spec.gcePersistentDisk": {"pdName": "pd", "fsType": "ext4", "partition": 1, "readOnly": True},
        "spec.glusterfs": {"endpoints": "glusterfs", "path": "vol", "readOnly": True, "endpointsNamespace": "NS"},
        "spec.hostPath": {"path": "/var/data", "type": "DirectoryOrCreate"},
        "spec.iscsi": {
            "targetPortal": "10.0.0.1:3260",
            "iqn": "iqn.2001-04.com.example:storage",
            "lun": 1,
            "iscsiInterface": "default",
            "fsType": "ext4",
            "readOnly": True,
            "portals": ["10.0.0.2:3260"],
            "chapAuthDiscovery": True,
            "chapAuthSession": True,
            "secretRef": _SECRET_REF,
            "initiatorName": "iqn.2001-04.com.example:node",
        },
        "spec.local": {"path": "/mnt/disks/ssd1", "fsType": "ext4"},
        "spec.nfs": {"server": "nfs.local", "path": "/exports", "readOnly": True},
        "spec.photonPersistentDisk": {"pdID": "pd", "fsType": "ext4"},
        "spec.portworxVolume": {"volumeID": "vol", "fsType": "ext4", "readOnly": True},
        "spec.quobyte": {
            "registry": "reg:7861",
            "volume": "vol",
            "readOnly": True,
            "user": "u",
            "group": "g",
            "tenant": "t",
        },
        "spec.rbd": {
            "monitors": ["10.0.0.1:6789"],
            "image": "img",
            "fsType": "ext4",
            "pool": "rbd",
            "user": "admin",
            "keyring": "/etc/ceph/keyring",
            "secretRef": _SECRET_REF,
            "readOnly": True,
        },
        "spec.scaleIO": {
            "gateway": "https://gw",
            "system": "sys",
            "secretRef": _SECRET_REF,
            "sslEnabled": True,
            "protectionDomain": "pd",
            "storagePool": "sp",
            "storageMode": "ThinProvisioned",
            "volumeName": "vol",
            "fsType": "xfs",
            "readOnly": True,
        },
        "spec.storageos": {
            "volumeName": "vol",
            "volumeNamespace": "ns",
            "fsType": "ext4",
            "readOnly": True,
            "secretRef": {
                "kind": "Secret",
                "namespace": "NS",
                "name": "sec",
                "uid": "u-4",
                "apiVersion": "v1",
                "resourceVersion": "1",
                "fieldPath": "data",
            },
        },
        "spec.vsphereVolume": {
            "volumePath": "[ds] vol.vmdk",
            "fsType": "ext4",
            "storagePolicyName": "gold",
            "storagePolicyID": "p-1",
        },
        "status": {
            "phase": "Bound",
            "message": "bound",
            "reason": "Bound",
            "lastPhaseTransitionTime": "2024-01-02T03:04:05Z",
        },
    },
    "PersistentVolumeClaim": {
        **_meta("PVC"),
        "metadata.finalizers": ["example.com/keep", "kubernetes.io/pvc-protection"],
        "spec.accessModes": ["ReadWriteOnce"],
        "spec.selector": _SELECTOR,
        "spec.resources": {"requests": {"storage": "1Gi"}, "limits": {"storage": "2Gi"}},
        "spec.volumeName": "pv-1",
        "spec.storageClassName": "standard",
        "spec.volumeMode": "Filesystem",
        "spec.volumeAttributesClassName": "gold",
        "spec.dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "src"},
        "spec.dataSourceRef": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"},
        "status": {
            "phase": "Bound",
            "accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": "1Gi"},
            "conditions": [
                {
                    "type": "Resizing",
                    "status": "True",
                    "lastProbeTime": "2024-01-02T03:04:05Z",
                    "lastTransitionTime": "2024-01-02T03:04:05Z",
                    "reason": "Resizing",
                    "message": "resizing",
                }
            ],
            "allocatedResources": {"storage": "2Gi"},
            "allocatedResourceStatuses": {"storage": "ControllerResizeInProgress"},
            "currentVolumeAttributesClassName": "gold",
            "modifyVolumeStatus": {"targetVolumeAttributesClassName": "silver", "status": "InProgress"},
        },
    },
    "LimitRange": {
        **_meta("LimitRange"),
        "spec.limits": [
            {
                "type": "Container",
                "max": {"cpu": "2", "memory": "2Gi"},
                "min": {"cpu": "100m", "memory": "64Mi"},
                "default": {"cpu": "1", "memory": "1Gi"},
                "defaultRequest": {"cpu": "500m", "memory": "512Mi"},
                "maxLimitRequestRatio": {"cpu": "4"},
            }
        ],
    },
    "ResourceQuota": {
        **_meta("Quota"),
        "spec.hard": {"pods": "10", "requests.cpu": "4", "requests.memory": "8Gi"},
        "spec.scopes": ["NotTerminating"],
        "spec.scopeSelector": {
            "matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]
        },
        "status": {
            "hard": {"pods": "10", "requests.cpu": "4", "requests.memory": "8Gi"},
            "used": {"pods": "1", "requests.cpu": "500m", "requests.memory": "512Mi"},
        },
    },
    "EndpointSlice": {
        **_meta("Slice"),
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": ["10.1.0.1"],
                "conditions": {"ready": True, "serving": True, "terminating": False},
                "hostname": "web-0",
                "targetRef": _POD_REF,
                "nodeName": "node-1",
                "zone": "a",
                "hints": {"forZones": [{"name": "a"}], "forNodes": [{"name": "node-1"}]},
            }
        ],
        "ports": [{"name": "http", "protocol": "TCP", "port": 8080, "appProtocol": "http"}],
    },
    "Ingress": {
        **_meta("Ingress"),
        "spec.ingressClassName": "example",
        "*.resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "static"},
        "*.service.name": "web",
        "*.service.port.name": "http",
        "*.service.port.number": 80,
        "spec.rules.host": lambda i: ("foo.example.com", "*.example.com")[i % 2],
        "spec.rules.http.paths.path": lambda i: f"/p{i}",
        "spec.rules.http.paths.pathType": lambda i: ("Exact", "Prefix", "ImplementationSpecific")[i % 3],
        "spec.tls": [{"hosts": ["foo.example.com"], "secretName": "tls"}],
        "status.loadBalancer": {
            "ingress": [
                {
                    "ip": "192.0.2.30",
                    "hostname": "lb.example.com",
                    "ports": [{"port": 443, "protocol": "TCP", "error": "ExampleError"}],
                }
            ]
        },
    },
    "IngressClass": {
        **_meta("IngressClass"),
        "metadata.namespace": None,
        "spec.controller": "example.com/ingress-controller",
        # "`parameters.scope` is set to 'Namespace'" needs a namespace; 'Cluster' forbids one.
        "spec.parameters": {
            "apiGroup": "k8s.example.com",
            "kind": "IngressParameters",
            "name": "params",
            "scope": "Namespace",
            "namespace": "NS",
        },
    },
    "NetworkPolicy": {
        **_meta("NetPol"),
        "*.podSelector": _SELECTOR,
        "*.namespaceSelector": _SELECTOR,
        "*.ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.1.0/24"]},
        "*.ports": [{"protocol": "TCP", "port": 8000, "endPort": 8080}],
        "spec.policyTypes": ["Ingress", "Egress"],
    },
    "IPAddress": {
        **_meta("IPAddress"),
        "metadata.name": lambda v: f"192.0.2.{v + 1}",
        # An IPAddress is named by its IP (variant_name); so is the prefix a generateName would take.
        "metadata.generateName": "192.0.2.200",
        "metadata.namespace": None,
        "spec.parentRef": {
            "group": "gateway.networking.k8s.io",
            "resource": "gateways",
            "namespace": "NS",
            "name": "web",
        },
    },
    "ServiceCIDR": {
        **_meta("ServiceCIDR"),
        "metadata.namespace": None,
        "spec.cidrs": ["10.250.0.0/24", "fd00:10:250::/112"],
        "status.conditions": _CONDITIONS,
    },
    "Role": {
        **_meta("Role"),
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"], "resourceNames": ["web"]}],
    },
    "ClusterRole": {
        **_meta("ClusterRole"),
        "metadata.namespace": None,
        # An aggregated ClusterRole's rules are the aggregation controller's: one variant has rules, one selectors.
        "rules": lambda v: (
            [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"], "resourceNames": ["web"]},
                {"nonResourceURLs": ["/healthz"], "verbs": ["get"]},
            ],
            None,
        )[v % 2],
        "aggregationRule": lambda v: (None, {"clusterRoleSelectors": [_SELECTOR]})[v % 2],
    },
    "RoleBinding": {
        **_meta("RoleBinding"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        "subjects": _SUBJECTS,
    },
    "ClusterRoleBinding": {
        **_meta("ClusterRoleBinding"),
        "metadata.namespace": None,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "reader"},
        "subjects": _SUBJECTS,
    },
    "PriorityClass": {
        **_meta("PriorityClass"),
        "metadata.namespace": None,
        "value": 1000,
        # "Only one default can exist": one variant is the default, and the test deletes it (without the
        # finalizer that would keep it) lest every later pod of the session take its priority.
        "globalDefault": lambda v: (True, None)[v % 2],
        "metadata.finalizers": lambda v: (None, ["example.com/keep"])[v % 2],
        "description": "every field",
        "preemptionPolicy": "Never",
    },
    "StorageClass": {
        **_meta("StorageClass"),
        "metadata.namespace": None,
        "provisioner": "example.com/csi",
        "parameters": {"type": "ssd"},
        "reclaimPolicy": "Retain",
        "mountOptions": ["hard"],
        "allowVolumeExpansion": True,
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowedTopologies": [
            {"matchLabelExpressions": [{"key": "topology.kubernetes.io/zone", "values": ["a", "b"]}]}
        ],
    },
    "CSINode": {
        **_meta("CSINode"),
        "metadata.namespace": None,
        "spec.drivers": [
            {
                "name": "csi.example.com",
                "nodeID": "node-1",
                "topologyKeys": ["topology.kubernetes.io/zone"],
                "allocatable": {"count": 10},
            }
        ],
    },
    "CSIDriver": {
        **_meta("CSIDriver"),
        "metadata.namespace": None,
        "spec.attachRequired": True,
        "spec.podInfoOnMount": True,
        "spec.volumeLifecycleModes": ["Persistent", "Ephemeral"],
        "spec.storageCapacity": True,
        "spec.fsGroupPolicy": "File",
        "spec.tokenRequests": [{"audience": "api", "expirationSeconds": 600}],
        "spec.requiresRepublish": True,
        "spec.seLinuxMount": True,
        "spec.nodeAllocatableUpdatePeriodSeconds": 60,
    },
}
STATUS_OVERRIDES: dict[str, Override] = {}


NAMED_BY_VALUE = {"IPAddress"}
"""Kinds whose name is a value of the object (an IPAddress is named by its IP): a variant keeps its own name."""


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
        if kind not in NAMED_BY_VALUE:
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
        if kind == "PriorityClass" and got.global_default:  # type: ignore[attr-defined]
            # A default class would give every later pod of the session its priority.
            await rc.delete(obj.metadata.name)
