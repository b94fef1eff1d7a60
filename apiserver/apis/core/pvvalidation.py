"""Validation and defaulting of PersistentVolumes and PersistentVolumeClaims: ValidatePersistentVolume(Spec|Update),
ValidatePersistentVolumeClaim(Update) and their SetDefaults (pkg/apis/core/validation, pkg/apis/core/v1/defaults.go).
A claim's spec rules are volumes.pvc_spec, shared with ephemeral volume templates."""

from __future__ import annotations

import difflib
import json
import posixpath
from collections.abc import Callable, Sequence
from typing import Any

from apiserver.apis.core import volumes
from apiserver.apis.core.validation import _parse, _validate_node_selector_term
from apiserver.validation import (
    IMMUTABLE_MSG,
    FieldError,
    GoValue,
    _child,
    forbidden,
    invalid,
    not_supported,
    required,
)
from kubemu.api import names
from kubemu.api.serialization import message_to_dict
from kubemu.pb import core_pb2

ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]
RECLAIM_POLICIES = ["Delete", "Recycle", "Retain"]
VOLUME_MODES = ["Block", "Filesystem"]
MORE_THAN_ONE = "may not specify more than 1 volume type"
PVC_SPEC_IMMUTABLE = "spec is immutable after creation except resources.requests and volumeAttributesClassName for " \
    "bound claims"
PV_SOURCE_IMMUTABLE = "spec.persistentvolumesource is immutable after creation"


# ---- defaults ---------------------------------------------------------------------------------------


def default_pv(pv: core_pb2.PersistentVolume) -> None:
    """SetDefaults_PersistentVolume (+ SetDefaults_HostPathVolumeSource)."""
    if not pv.status.phase:
        pv.status.phase = "Pending"
    if not pv.spec.persistent_volume_reclaim_policy:
        pv.spec.persistent_volume_reclaim_policy = "Retain"
    if not pv.spec.HasField("volume_mode"):
        pv.spec.volume_mode = "Filesystem"
    if pv.spec.HasField("host_path") and not pv.spec.host_path.HasField("type"):
        pv.spec.host_path.type = ""


def default_pvc(pvc: core_pb2.PersistentVolumeClaim) -> None:
    """SetDefaults_PersistentVolumeClaim(Spec)."""
    if not pvc.spec.HasField("volume_mode"):
        pvc.spec.volume_mode = "Filesystem"
    if not pvc.status.phase:
        pvc.status.phase = "Pending"


# ---- PersistentVolume -------------------------------------------------------------------------------


def _local(src: core_pb2.LocalVolumeSource, path: str) -> list[FieldError]:
    if not src.path:
        return [required(_child(path, "path"))]
    return volumes.path_no_backsteps(src.path, _child(path, "path"))


def _csi(src: core_pb2.CSIPersistentVolumeSource, path: str) -> list[FieldError]:
    errs = volumes.csi_driver_name(src.driver, _child(path, "driver"))
    if not src.volume_handle:
        errs.append(required(_child(path, "volumeHandle")))
    return errs


def _unchecked(src: Any, path: str) -> list[FieldError]:
    return []


_Check = Callable[[Any, str], list[FieldError]]
# (proto field, path of a second source, path of its own checks, checks), in ValidatePersistentVolumeSpec's order.
# The PV-only source types (glusterfs, rbd, cephfs, iscsi, cinder, flex, azureFile, scaleIO, storageos) are counted
# but their contents not checked: kubemu mounts none of them.
_PV_SOURCES: tuple[tuple[str, str, str, _Check], ...] = (
    ("host_path", "hostPath", "hostPath", volumes._host_path),
    ("gce_persistent_disk", "gcePersistentDisk", "persistentDisk", volumes._gce_pd),
    ("aws_elastic_block_store", "awsElasticBlockStore", "awsElasticBlockStore", volumes._aws_ebs),
    ("glusterfs", "glusterfs", "glusterfs", _unchecked),
    ("flocker", "flocker", "flocker", volumes._flocker),
    ("nfs", "nfs", "nfs", volumes._nfs),
    ("rbd", "rbd", "rbd", _unchecked),
    ("quobyte", "quobyte", "quobyte", volumes._quobyte),
    ("cephfs", "cephFS", "cephfs", _unchecked),
    ("iscsi", "iscsi", "iscsi", _unchecked),
    ("cinder", "cinder", "cinder", _unchecked),
    ("fc", "fc", "fc", volumes._fc),
    ("flex_volume", "", "flexVolume", _unchecked),  # upstream never refuses flexVolume as a second source
    ("azure_file", "azureFile", "azureFile", _unchecked),
    ("vsphere_volume", "vsphereVolume", "vsphereVolume", volumes._vsphere),
    ("photon_persistent_disk", "photonPersistentDisk", "photonPersistentDisk", volumes._photon),
    ("portworx_volume", "portworxVolume", "portworxVolume", volumes._portworx),
    ("azure_disk", "azureDisk", "azureDisk", volumes._azure_disk),
    ("scale_io", "scaleIO", "scaleIO", _unchecked),
    ("local", "local", "local", _local),
    ("storageos", "storageos", "storageos", _unchecked),
    ("csi", "csi", "csi", _csi),
)
PV_SOURCE_FIELDS = tuple(s[0] for s in _PV_SOURCES)


def _access_modes(modes: Sequence[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    rwop = other = False
    for mode in modes:
        if mode not in ACCESS_MODES:
            errs.append(not_supported(path, mode, ACCESS_MODES))
        elif mode == "ReadWriteOncePod":
            rwop = True
        else:
            other = True
    if rwop and other:
        errs.append(forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return errs


def _capacity_value(capacity: Any) -> GoValue:
    if not capacity:
        return GoValue("null")
    return GoValue(json.dumps(dict(sorted(capacity.items())), separators=(",", ":")))


def _volume_node_affinity(na: core_pb2.VolumeNodeAffinity, path: str) -> tuple[bool, list[FieldError]]:
    """validateVolumeNodeAffinity: required terms, each a valid node selector term."""
    if not na.HasField("required"):
        return False, [required(_child(path, "required"), "must specify required node constraints")]
    terms = na.required.node_selector_terms
    rp = _child(path, "required")
    if not terms:
        return True, [required(_child(rp, "nodeSelectorTerms"), "must have at least one node selector term")]
    errs: list[FieldError] = []
    for i, term in enumerate(terms):
        errs += _validate_node_selector_term(term, True, f"{_child(rp, 'nodeSelectorTerms')}[{i}]")
    return True, errs


def validate_pv(pv: core_pb2.PersistentVolume) -> list[FieldError]:
    """ValidatePersistentVolumeSpec (the metadata is checked by the strategy)."""
    spec, path = pv.spec, "spec"
    errs: list[FieldError] = []
    if not spec.access_modes:
        errs.append(required(_child(path, "accessModes")))
    errs += _access_modes(spec.access_modes, _child(path, "accessModes"))
    cp = _child(path, "capacity")
    if not spec.capacity:
        errs.append(required(cp))
    if "storage" not in spec.capacity or len(spec.capacity) > 1:
        errs.append(not_supported(cp, _capacity_value(spec.capacity), ["storage"]))
    for name, raw in sorted(spec.capacity.items()):
        q = _parse(raw, f"{cp}[{name}]", errs)
        if q is not None and q.milli_value() <= 0:
            errs.append(invalid(f"{cp}[{name}]", str(q), "must be greater than zero"))
    policy = spec.persistent_volume_reclaim_policy
    if policy and policy not in RECLAIM_POLICIES:
        errs.append(not_supported(_child(path, "persistentVolumeReclaimPolicy"), policy, RECLAIM_POLICIES))
    affinity = False
    if spec.HasField("node_affinity"):
        affinity, aerrs = _volume_node_affinity(spec.node_affinity, _child(path, "nodeAffinity"))
        errs += aerrs
    count = 0
    for fld, second_path, own_path, check in _PV_SOURCES:
        if not spec.HasField(fld):  # type: ignore[arg-type]
            continue
        if count and second_path:
            errs.append(forbidden(_child(path, second_path), MORE_THAN_ONE))
            continue
        count += 1
        errs += check(getattr(spec, fld), _child(path, own_path))
        if fld == "local" and not affinity:
            errs.append(required(_child(path, "nodeAffinity"), "Local volume requires node affinity"))
    if count == 0:
        errs.append(required(path, "must specify a volume type"))
    if spec.HasField("host_path") and posixpath.normpath(spec.host_path.path) == "/" and policy == "Recycle":
        errs.append(forbidden(_child(path, "persistentVolumeReclaimPolicy"),
                              "may not be 'recycle' for a hostPath mount of '/'"))
    if spec.storage_class_name:
        errs += [invalid(_child(path, "storageClassName"), spec.storage_class_name, m)
                 for m in names.validate_dns1123_subdomain(spec.storage_class_name)]
    if spec.HasField("volume_mode") and spec.volume_mode not in VOLUME_MODES:
        errs.append(not_supported(_child(path, "volumeMode"), spec.volume_mode, VOLUME_MODES))
    return errs


def validate_pv_update(new: core_pb2.PersistentVolume, old: core_pb2.PersistentVolume) -> list[FieldError]:
    """ValidatePersistentVolumeUpdate's update-only rules: the source, volumeMode and node affinity stay."""
    errs: list[FieldError] = []
    before, after = _pv_source(old), _pv_source(new)
    if before != after:
        errs.append(forbidden("spec.persistentvolumesource",
                              f"{PV_SOURCE_IMMUTABLE}\n{go_diff(before, after)}"))
    if new.spec.volume_mode != old.spec.volume_mode:
        errs.append(invalid("volumeMode", new.spec.volume_mode, IMMUTABLE_MSG))
    if old.spec.HasField("node_affinity") and new.spec.node_affinity != old.spec.node_affinity:
        errs.append(invalid("nodeAffinity", GoValue(_go_json(message_to_dict(new.spec.node_affinity))),
                            IMMUTABLE_MSG))
    return errs


# ---- PersistentVolumeClaim --------------------------------------------------------------------------


def validate_pvc_update(new: core_pb2.PersistentVolumeClaim, old: core_pb2.PersistentVolumeClaim) -> list[FieldError]:
    """ValidatePersistentVolumeClaimUpdate's update-only rules: the spec stays but for volumeName (set once), a
    storage class given to a claim that had none, and the storage request of a bound claim."""
    errs: list[FieldError] = []
    before = core_pb2.PersistentVolumeClaimSpec()
    before.CopyFrom(old.spec)
    after = core_pb2.PersistentVolumeClaimSpec()
    after.CopyFrom(new.spec)
    if not old.spec.volume_name:
        _same_optional(before, after, "volume_name")
    if not old.spec.HasField("storage_class_name") and new.spec.HasField("storage_class_name"):
        _same_optional(before, after, "storage_class_name")
    if new.status.phase == "Bound" and "storage" in old.spec.resources.requests:
        after.resources.requests["storage"] = old.spec.resources.requests["storage"]
    before.ClearField("volume_attributes_class_name")
    after.ClearField("volume_attributes_class_name")
    if before != after:
        errs.append(forbidden("spec", f"{PVC_SPEC_IMMUTABLE}\n{go_diff(_pvc_spec_go(before), _pvc_spec_go(after))}"))
    # RecoverVolumeExpansionFailure (GA): a request may shrink back, but not to the size the volume already has.
    scratch: list[FieldError] = []
    old_size = _parse(old.spec.resources.requests.get("storage", "0"), "", scratch)
    new_size = _parse(new.spec.resources.requests.get("storage", "0"), "", scratch)
    status_size = _parse(old.status.capacity.get("storage", "0"), "", scratch)
    if old_size is not None and new_size is not None and status_size is not None and new_size < old_size \
            and not status_size < new_size:
        errs.append(forbidden("spec.resources.requests.storage", "field can not be less than status.capacity"))
    if new.spec.volume_mode != old.spec.volume_mode:
        errs.append(invalid("volumeMode", new.spec.volume_mode, IMMUTABLE_MSG))
    return errs


def _same_optional(to: Any, src: Any, name: str) -> None:
    """`to.name = src.name` for an optional field, unset staying unset (an assigned "" would be set)."""
    if src.HasField(name):
        setattr(to, name, getattr(src, name))
    else:
        to.ClearField(name)


# ---- Go's rendering of a changed spec ---------------------------------------------------------------


def _go_json(value: Any) -> str:
    """json.MarshalIndent(value, "", " ") as the apiserver's diff renders internal structs."""
    return json.dumps(value, indent=1)


def go_diff(before: Any, after: Any) -> str:
    """The unified diff (three lines of context, no file header) of two values' indented JSON, as the apiserver
    appends to an immutable-spec error."""
    a, b = _go_json(before).splitlines(), _go_json(after).splitlines()
    lines = list(difflib.unified_diff(a, b, lineterm="", n=3))[2:]
    return "\n".join(lines) + "\n"


def _ref_go(ref: Any, with_namespace: bool) -> Any:
    out: dict[str, Any] = {
        "APIGroup": ref.api_group if ref.HasField("api_group") else None, "Kind": ref.kind, "Name": ref.name,
    }
    if with_namespace:
        out["Namespace"] = ref.namespace if ref.HasField("namespace") else None
    return out


def _pvc_spec_go(spec: core_pb2.PersistentVolumeClaimSpec) -> dict[str, Any]:
    """The internal core.PersistentVolumeClaimSpec's fields in its order, with its Go names (no json tags)."""

    def opt(name: str) -> Any:
        return getattr(spec, name) if spec.HasField(name) else None  # type: ignore[arg-type]

    res = spec.resources
    return {
        "AccessModes": list(spec.access_modes) or None,
        "Selector": message_to_dict(spec.selector) if spec.HasField("selector") else None,
        "Resources": {"Limits": dict(sorted(res.limits.items())) or None,
                      "Requests": dict(sorted(res.requests.items())) or None},
        "VolumeName": spec.volume_name,
        "StorageClassName": opt("storage_class_name"),
        "VolumeMode": opt("volume_mode"),
        "DataSource": _ref_go(spec.data_source, False) if spec.HasField("data_source") else None,
        "DataSourceRef": _ref_go(spec.data_source_ref, True) if spec.HasField("data_source_ref") else None,
        "VolumeAttributesClassName": opt("volume_attributes_class_name"),
    }


_GO_SOURCE_NAMES = (
    ("gce_persistent_disk", "GCEPersistentDisk"), ("aws_elastic_block_store", "AWSElasticBlockStore"),
    ("host_path", "HostPath"), ("glusterfs", "Glusterfs"), ("nfs", "NFS"), ("rbd", "RBD"), ("quobyte", "Quobyte"),
    ("iscsi", "ISCSI"), ("flex_volume", "FlexVolume"), ("cinder", "Cinder"), ("cephfs", "CephFS"), ("fc", "FC"),
    ("flocker", "Flocker"), ("azure_file", "AzureFile"), ("vsphere_volume", "VsphereVolume"),
    ("azure_disk", "AzureDisk"), ("photon_persistent_disk", "PhotonPersistentDisk"),
    ("portworx_volume", "PortworxVolume"), ("scale_io", "ScaleIO"), ("local", "Local"), ("storageos", "StorageOS"),
    ("csi", "CSI"),
)


def _go_names(value: Any) -> Any:
    """A source's JSON with Go's exported names (the first letter raised: close to upstream's for the common
    sources, `path` -> `Path`)."""
    if isinstance(value, dict):
        return {k[:1].upper() + k[1:]: _go_names(v) for k, v in value.items()}
    return value


def _pv_source(pv: core_pb2.PersistentVolume) -> dict[str, Any]:
    """The internal core.PersistentVolumeSource, every source in its order, unset ones null."""
    out: dict[str, Any] = {}
    for fld, go in _GO_SOURCE_NAMES:
        present = pv.spec.HasField(fld)  # type: ignore[arg-type]
        out[go] = _go_names(message_to_dict(getattr(pv.spec, fld))) if present else None
    host = out.get("HostPath")
    if isinstance(host, dict):
        out["HostPath"] = {"Path": host.get("Path", ""), "Type": host.get("Type")}
    return out
