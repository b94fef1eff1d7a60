"""Validation of a pod's volume sources: exactly one source per volume, and each source's own rules.

Ports validateVolumeSource and the validate*VolumeSource functions of pkg/apis/core/validation/validation.go.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from typing import Any

from apiserver.apis.core.validation import (
    _local_descending_path,
    _parse,
    _quantity_value,
)
from apiserver.validation import (
    FieldError,
    GoValue,
    _child,
    _validate_annotations,
    _validate_label_selector,
    _validate_labels,
    forbidden,
    invalid,
    not_supported,
    required,
    too_long,
)
from kubemu.api import labels, names
from kubemu.pb import core_pb2, meta_pb2

FILE_MODE_MSG = "must be a number between 0 and 0777 (octal), both inclusive"
PD_PARTITION_MSG = "must be between 1 and 255, inclusive"
LUN_MSG = "must be between 0 and 255, inclusive"
MORE_THAN_ONE = "may not specify more than 1 volume type"

_IQN_RE = re.compile(r"iqn\.\d{4}-\d{2}\.([a-zA-Z0-9\-.]+)(:[^,;*&$|\s]+)$")
_EUI_RE = re.compile(r"^eui.[a-zA-Z0-9]{16}$")
_NAA_RE = re.compile(r"^naa.[a-zA-Z0-9]{32}$")
_HOST_PATH_TYPES = ["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"]
_ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]
_VOLUME_MODES = ["Block", "Filesystem"]
_PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
_VOLUME_FIELD_PATHS = ["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"]
_RESOURCE_FIELD_PATHS = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
]
_DIVISORS_CPU = {"1m", "1"}
_DIVISORS_BYTES = {"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}
_BYTES_LIST = "1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei"


# ---- paths ------------------------------------------------------------------------------------------


def path_no_backsteps(target: str, path: str) -> list[FieldError]:
    """validatePathNoBacksteps: one error however many `..` elements."""
    if ".." in target.replace("\\", "/").split("/"):
        return [invalid(path, target, "must not contain '..'")]
    return []


def local_non_reserved_path(target: str, path: str) -> list[FieldError]:
    """ValidateLocalNonReservedPath: relative, no `..` element, not starting with `..`."""
    errs = _local_descending_path(target, path)
    if target.startswith("..") and not target.startswith("../"):
        errs.append(invalid(path, target, "must not start with '..'"))
    return errs


def _file_mode(mode: int | None, path: str) -> list[FieldError]:
    if mode is not None and not 0 <= mode <= 0o777:
        return [invalid(path, mode, FILE_MODE_MSG)]
    return []


def _opt(msg: object, name: str) -> object:
    """The value of an optional scalar field, None when unset (a Go nil pointer)."""
    return getattr(msg, name) if msg.HasField(name) else None  # type: ignore[attr-defined]


def key_to_path(kp: core_pb2.KeyToPath, path: str) -> list[FieldError]:
    """validateKeyToPath."""
    errs: list[FieldError] = []
    if not kp.key:
        errs.append(required(_child(path, "key")))
    if not kp.path:
        errs.append(required(_child(path, "path")))
    errs += local_non_reserved_path(kp.path, _child(path, "path"))
    errs += _file_mode(kp.mode if kp.HasField("mode") else None, _child(path, "mode"))
    return errs


# ---- downward API -----------------------------------------------------------------------------------


def object_field_selector(fs: core_pb2.ObjectFieldSelector, expressions: Sequence[str], path: str) -> list[FieldError]:
    """validateObjectFieldSelector, with ConvertDownwardAPIFieldLabel's v1 subscripted paths."""
    if not fs.api_version:
        return [required(_child(path, "apiVersion"))]
    if not fs.field_path:
        return [required(_child(path, "fieldPath"))]
    m = re.fullmatch(r"([^\[]+)\[(.*)\]", fs.field_path)
    if m and m.group(2).startswith("'") and m.group(2).endswith("'") and len(m.group(2)) >= 2:
        base, subscript = m.group(1), m.group(2)[1:-1]
        if base == "metadata.annotations":
            return [invalid(path, subscript.lower(), msg) for msg in labels.validate_label_key(subscript.lower())]
        if base == "metadata.labels":
            return [invalid(path, subscript, msg) for msg in labels.validate_label_key(subscript)]
        return [invalid(path, base, "does not support subscript")]
    if fs.field_path not in expressions:
        return [not_supported(_child(path, "fieldPath"), fs.field_path, sorted(expressions))]
    return []


def _divisor(resource: str, raw: str, path: str) -> list[FieldError]:
    """validateContainerResourceDivisor: a divisor must be one the resource's unit allows."""
    if not raw:
        return []
    errs: list[FieldError] = []
    q = _parse(raw, _child(path, "divisor"), errs)
    if q is None or q.milli_value() == 0:
        return errs
    text, dp = str(q), _child(path, "divisor")
    if resource in ("limits.cpu", "requests.cpu") and text not in _DIVISORS_CPU:
        errs.append(invalid(dp, resource, "only divisor's values 1m and 1 are supported with the cpu resource"))
    elif resource in ("limits.memory", "requests.memory") and text not in _DIVISORS_BYTES:
        errs.append(
            invalid(dp, resource, f"only divisor's values {_BYTES_LIST} are supported with the memory resource")
        )
    elif resource in ("limits.ephemeral-storage", "requests.ephemeral-storage") and text not in _DIVISORS_BYTES:
        errs.append(
            invalid(
                dp,
                resource,
                f"only divisor's values {_BYTES_LIST} are supported with the local ephemeral storage resource",
            )
        )
    if resource.startswith(("requests.hugepages-", "limits.hugepages-")) and text not in _DIVISORS_BYTES:
        errs.append(
            invalid(dp, resource, f"only divisor's values {_BYTES_LIST} are supported with the hugepages resource")
        )
    return errs


def resource_field_selector(fs: core_pb2.ResourceFieldSelector, path: str, volume: bool) -> list[FieldError]:
    """validateContainerResourceFieldSelector: a volume file must also name its container."""
    errs: list[FieldError] = []
    if volume and not fs.container_name:
        errs.append(required(_child(path, "containerName")))
    elif not fs.resource:
        errs.append(required(_child(path, "resource")))
    elif fs.resource not in _RESOURCE_FIELD_PATHS and not fs.resource.startswith(
        ("requests.hugepages-", "limits.hugepages-")
    ):
        errs.append(not_supported(_child(path, "resource"), fs.resource, _RESOURCE_FIELD_PATHS))
    errs += _divisor(fs.resource, fs.divisor, path)
    return errs


def downward_api_file(f: core_pb2.DownwardAPIVolumeFile, path: str) -> list[FieldError]:
    """validateDownwardAPIVolumeFile: `path` is the source's path, not the item's, as upstream reports it."""
    errs: list[FieldError] = []
    if not f.path:
        errs.append(required(_child(path, "path")))
    errs += local_non_reserved_path(f.path, _child(path, "path"))
    if f.HasField("field_ref"):
        errs += object_field_selector(f.field_ref, _VOLUME_FIELD_PATHS, _child(path, "fieldRef"))
        if f.HasField("resource_field_ref"):
            errs.append(invalid(path, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
    elif f.HasField("resource_field_ref"):
        errs += resource_field_selector(f.resource_field_ref, _child(path, "resourceFieldRef"), True)
    else:
        errs.append(required(path, "one of fieldRef and resourceFieldRef is required"))
    errs += _file_mode(f.mode if f.HasField("mode") else None, _child(path, "mode"))
    return errs


# ---- one function per source, as upstream -----------------------------------------------------------


def _empty_dir(src: core_pb2.EmptyDirVolumeSource, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if src.HasField("size_limit"):
        q = _parse(src.size_limit, _child(path, "sizeLimit"), errs)
        if q is not None and q.milli_value() < 0:
            errs.append(forbidden(_child(path, "sizeLimit"), "SizeLimit field must be a valid resource quantity"))
    return errs


def _host_path(src: core_pb2.HostPathVolumeSource, path: str) -> list[FieldError]:
    if not src.path:
        return [required(_child(path, "path"))]
    errs = path_no_backsteps(src.path, _child(path, "path"))
    if src.HasField("type") and src.type not in _HOST_PATH_TYPES:
        errs.append(not_supported(_child(path, "type"), src.type, _HOST_PATH_TYPES))
    return errs


def _git_repo(src: core_pb2.GitRepoVolumeSource, path: str) -> list[FieldError]:
    errs = [required(_child(path, "repository"))] if not src.repository else []
    return errs + _local_descending_path(src.directory, _child(path, "directory"))


def _partition(value: int, path: str) -> list[FieldError]:
    return [invalid(_child(path, "partition"), value, PD_PARTITION_MSG)] if not 0 <= value <= 255 else []


def _gce_pd(src: core_pb2.GCEPersistentDiskVolumeSource, path: str) -> list[FieldError]:
    errs = [required(_child(path, "pdName"))] if not src.pd_name else []
    return errs + _partition(src.partition, path)


def _aws_ebs(src: core_pb2.AWSElasticBlockStoreVolumeSource, path: str) -> list[FieldError]:
    errs = [required(_child(path, "volumeID"))] if not src.volume_id else []
    return errs + _partition(src.partition, path)


def _secret(src: core_pb2.SecretVolumeSource, path: str) -> list[FieldError]:
    errs = [required(_child(path, "secretName"))] if not src.secret_name else []
    errs += _file_mode(_opt(src, "default_mode"), _child(path, "defaultMode"))  # type: ignore[arg-type]
    for i, kp in enumerate(src.items):
        errs += key_to_path(kp, f"{_child(path, 'items')}[{i}]")
    return errs


def _nfs(src: core_pb2.NFSVolumeSource, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not src.server:
        errs.append(required(_child(path, "server")))
    if not src.path:
        errs.append(required(_child(path, "path")))
    if not posixpath.isabs(src.path):
        errs.append(invalid(_child(path, "path"), src.path, "must be an absolute path"))
    return errs


def _iqn_format(value: str, path: str, prefix_msg: str) -> list[FieldError]:
    if not value.startswith(("iqn", "eui", "naa")):
        return [invalid(path, value, prefix_msg)]
    if (
        (value.startswith("iqn") and not _IQN_RE.search(value))
        or (value.startswith("eui") and not _EUI_RE.search(value))
        or (value.startswith("naa") and not _NAA_RE.search(value))
    ):
        return [invalid(path, value, "must be valid format")]
    return []


def _iscsi(src: core_pb2.ISCSIVolumeSource, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not src.target_portal:
        errs.append(required(_child(path, "targetPortal")))
    if not src.iqn:
        errs.append(required(_child(path, "iqn")))
    else:
        errs += _iqn_format(src.iqn, _child(path, "iqn"), "must be valid format starting with iqn, eui, or naa")
    if not 0 <= src.lun <= 255:
        errs.append(invalid(_child(path, "lun"), src.lun, LUN_MSG))
    if (src.chap_auth_discovery or src.chap_auth_session) and not src.HasField("secret_ref"):
        errs.append(required(_child(path, "secretRef")))
    if src.HasField("initiator_name"):
        ip = _child(path, "initiatorname")
        init = src.initiator_name
        if not init.startswith(("iqn", "eui", "naa")):
            errs.append(invalid(ip, init, "must be valid format starting with iqn, eui, or naa"))
        errs += [e for e in _iqn_format(init, ip, "") if e.detail == "must be valid format"]
    return errs


def _glusterfs(src: core_pb2.GlusterfsVolumeSource, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not src.endpoints:
        errs.append(required(_child(path, "endpoints")))
    if not src.path:
        errs.append(required(_child(path, "path")))
    return errs


def _flocker(src: core_pb2.FlockerVolumeSource, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not src.dataset_name and not src.dataset_uuid:
        errs.append(required(path, "one of datasetName and datasetUUID is required"))
    if src.dataset_name and src.dataset_uuid:
        errs.append(invalid(path, "resource", "datasetName and datasetUUID can not be specified simultaneously"))
    if "/" in src.dataset_name:
        errs.append(invalid(_child(path, "datasetName"), src.dataset_name, "must not contain '/'"))
    return errs


def _pvc(src: core_pb2.PersistentVolumeClaimVolumeSource, path: str) -> list[FieldError]:
    return [required(_child(path, "claimName"))] if not src.claim_name else []


def _rbd(src: core_pb2.RBDVolumeSource, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not src.monitors:
        errs.append(required(_child(path, "monitors")))
    if not src.image:
        errs.append(required(_child(path, "image")))
    return errs


def _secret_ref_name(src: object, path: str) -> list[FieldError]:
    ref = src.secret_ref if src.HasField("secret_ref") else None  # type: ignore[attr-defined]
    if ref is not None and not ref.name:
        return [required(_child(path, "secretRef", "name"))]
    return []


def _cinder(src: core_pb2.CinderVolumeSource, path: str) -> list[FieldError]:
    errs = [required(_child(path, "volumeID"))] if not src.volume_id else []
    return errs + _secret_ref_name(src, path)


def _cephfs(src: core_pb2.CephFSVolumeSource, path: str) -> list[FieldError]:
    return [required(_child(path, "monitors"))] if not src.monitors else []


def _split_host_port(text: str) -> bool:
    """Whether Go's net.SplitHostPort accepts `text`: host:port, with an IPv6 host in brackets."""
    colon = text.rfind(":")
    if colon < 0:
        return False
    if text.startswith("["):
        return text.find("]") == colon - 1
    host = text[:colon]
    return not any(c in host for c in ":[]") and "[" not in text[colon:] and "]" not in text[colon:]


def _quobyte(src: core_pb2.QuobyteVolumeSource, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    host_port_msg = "must be a host:port pair or multiple pairs separated by commas"
    if not src.registry:
        errs.append(required(_child(path, "registry"), host_port_msg))
    elif len(src.tenant) >= 65:
        errs.append(required(_child(path, "tenant"), "must be a UUID and may not exceed a length of 64 characters"))
    else:
        for pair in src.registry.split(","):
            if not _split_host_port(pair):
                errs.append(invalid(_child(path, "registry"), src.registry, host_port_msg))
    if not src.volume:
        errs.append(required(_child(path, "volume")))
    return errs


def _downward_api(src: core_pb2.DownwardAPIVolumeSource, path: str) -> list[FieldError]:
    errs = _file_mode(_opt(src, "default_mode"), _child(path, "defaultMode"))  # type: ignore[arg-type]
    for f in src.items:
        errs += downward_api_file(f, path)
    return errs


def _fc(src: core_pb2.FCVolumeSource, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    tp = _child(path, "targetWWNs")
    if not src.target_wwns and not src.wwids:
        errs.append(required(tp, "must specify either targetWWNs or wwids, but not both"))
    if src.target_wwns and src.wwids:
        errs.append(invalid(tp, list(src.target_wwns), "targetWWNs and wwids can not be specified simultaneously"))
    if src.target_wwns:
        if not src.HasField("lun"):
            errs.append(required(_child(path, "lun"), "lun is required if targetWWNs is specified"))
        elif not 0 <= src.lun <= 255:
            errs.append(invalid(_child(path, "lun"), src.lun, LUN_MSG))
    return errs


def _flex(src: core_pb2.FlexVolumeSource, path: str) -> list[FieldError]:
    errs = [required(_child(path, "driver"))] if not src.driver else []
    for k in src.options:
        ns = k.split("/", 1)[0] if "/" in k else k
        normalized = "." + ns.lower()
        if normalized.endswith((".kubernetes.io", ".k8s.io")):
            errs.append(
                invalid(f"{_child(path, 'options')}[{k}]", k, "kubernetes.io and k8s.io namespaces are reserved")
            )
    return errs


def _config_map(src: core_pb2.ConfigMapVolumeSource, path: str) -> list[FieldError]:
    errs = [required(_child(path, "name"))] if not src.name else []
    errs += _file_mode(_opt(src, "default_mode"), _child(path, "defaultMode"))  # type: ignore[arg-type]
    for i, kp in enumerate(src.items):
        errs += key_to_path(kp, f"{_child(path, 'items')}[{i}]")
    return errs


def _azure_file(src: core_pb2.AzureFileVolumeSource, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not src.secret_name:
        errs.append(required(_child(path, "secretName")))
    if not src.share_name:
        errs.append(required(_child(path, "shareName")))
    return errs


def _vsphere(src: core_pb2.VsphereVirtualDiskVolumeSource, path: str) -> list[FieldError]:
    return [required(_child(path, "volumePath"))] if not src.volume_path else []


def _photon(src: core_pb2.PhotonPersistentDiskVolumeSource, path: str) -> list[FieldError]:
    return [required(_child(path, "pdID"))] if not src.pd_id else []


def _portworx(src: core_pb2.PortworxVolumeSource, path: str) -> list[FieldError]:
    return [required(_child(path, "volumeID"))] if not src.volume_id else []


def _azure_disk(src: core_pb2.AzureDiskVolumeSource, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not src.disk_name:
        errs.append(required(_child(path, "diskName")))
    if not src.disk_uri:
        errs.append(required(_child(path, "diskURI")))
    if src.HasField("caching_mode") and src.caching_mode not in ("None", "ReadOnly", "ReadWrite"):
        errs.append(not_supported(_child(path, "cachingMode"), src.caching_mode, ["None", "ReadOnly", "ReadWrite"]))
    if src.HasField("kind") and src.kind not in ("Dedicated", "Managed", "Shared"):
        errs.append(not_supported(_child(path, "kind"), src.kind, ["Dedicated", "Managed", "Shared"]))
    if src.HasField("kind"):
        up = _child(path, "diskURI")
        if src.kind == "Managed" and not src.disk_uri.startswith("/subscriptions/"):
            managed = "/subscriptions/{sub-id}/resourcegroups/{group-name}/providers/microsoft.compute/disks/{disk-id}"
            errs.append(not_supported(up, src.disk_uri, [managed]))
        if src.kind != "Managed" and not src.disk_uri.startswith("https://"):
            blob = "https://{account-name}.blob.core.windows.net/{container-name}/{disk-name}.vhd"
            errs.append(not_supported(up, src.disk_uri, [blob]))
    return errs


def _storageos(src: core_pb2.StorageOSVolumeSource, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    vp = _child(path, "volumeName")
    if not src.volume_name:
        errs.append(required(vp))
    else:
        errs += [invalid(vp, src.volume_name, m) for m in names.validate_dns1123_label(src.volume_name)]
    if src.volume_namespace:
        np_ = _child(path, "volumeNamespace")
        errs += [invalid(np_, src.volume_namespace, m) for m in names.validate_dns1123_label(src.volume_namespace)]
    return errs + _secret_ref_name(src, path)


def _projected(src: core_pb2.ProjectedVolumeSource, path: str) -> list[FieldError]:
    """validateProjectedVolumeSource and validateProjectionSources: one kind per source, no path twice."""
    errs = _file_mode(_opt(src, "default_mode"), _child(path, "defaultMode"))  # type: ignore[arg-type]
    seen: set[str] = set()

    def claim(p: str, bad: object) -> None:
        if p in seen:
            errs.append(invalid(path, bad, "conflicting duplicate paths"))
        seen.add(p)

    for i, source in enumerate(src.sources):
        count = 0
        sp = f"{_child(path, 'sources')}[{i}]"
        for fld, json_name in (("secret", "secret"), ("config_map", "configMap")):
            if not source.HasField(fld):  # type: ignore[arg-type]
                continue
            count += 1
            proj, pp = getattr(source, fld), _child(sp, json_name)
            if not proj.name:
                errs.append(required(_child(pp, "name")))
            for j, kp in enumerate(proj.items):
                errs += key_to_path(kp, f"{_child(pp, 'items')}[{j}]")
                if kp.path:
                    claim(kp.path, proj.name)
        if source.HasField("downward_api"):
            count += 1
            for f in source.downward_api.items:
                errs += downward_api_file(f, _child(sp, "downwardAPI"))
                if f.path:
                    claim(f.path, f.path)
        if source.HasField("service_account_token"):
            count += 1
            sat, tp = source.service_account_token, _child(sp, "serviceAccountToken")
            exp = sat.expiration_seconds
            if exp < 600:
                errs.append(
                    invalid(_child(tp, "expirationSeconds"), exp, "may not specify a duration less than 10 minutes")
                )
            if exp > 1 << 32:
                errs.append(
                    invalid(_child(tp, "expirationSeconds"), exp, "may not specify a duration larger than 2^32 seconds")
                )
            if not sat.path:
                errs.append(required(_child(path, "path")))
            else:
                errs += local_non_reserved_path(sat.path, _child(path, "path"))
        if source.HasField("cluster_trust_bundle"):
            count += 1
            errs += _cluster_trust_bundle(source.cluster_trust_bundle, _child(sp, "clusterTrustBundle"))
            claim(source.cluster_trust_bundle.path, source.cluster_trust_bundle.path)
        if source.HasField("pod_certificate"):
            count += 1
            errs += _pod_certificate(source.pod_certificate, _child(sp, "podCertificate"), claim)
        if count > 1:
            errs.append(forbidden(sp, "may not specify more than 1 volume type per source"))
    return errs


def _cluster_trust_bundle(ctb: core_pb2.ClusterTrustBundleProjection, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    by_name, by_signer = ctb.HasField("name"), ctb.HasField("signer_name")
    if by_name and by_signer:
        errs.append(
            invalid(
                path, GoValue("&core.ClusterTrustBundleProjection{...}"), "only one of name and signerName may be used"
            )
        )
    elif by_name:
        if not ctb.name:
            errs.append(required(_child(path, "name"), "must be a valid object name"))
        if ctb.HasField("label_selector"):
            errs.append(
                invalid(
                    _child(path, "labelSelector"),
                    GoValue("&v1.LabelSelector{...}"),
                    "labelSelector must be unset if name is specified",
                )
            )
    elif by_signer:
        if not ctb.signer_name:
            errs.append(required(_child(path, "signerName"), "must be a valid signer name"))
        if ctb.HasField("label_selector"):
            errs += _validate_label_selector(ctb.label_selector, _child(path, "labelSelector"))
    else:
        errs.append(required(path, "either name or signerName must be specified"))
    if not ctb.path:
        errs.append(required(_child(path, "path")))
    errs += local_non_reserved_path(ctb.path, _child(path, "path"))
    return errs


_KEY_TYPES = ["ECDSAP256", "ECDSAP384", "ECDSAP521", "ED25519", "RSA3072", "RSA4096"]


def _pod_certificate(
    pc: core_pb2.PodCertificateProjection, path: str, claim: Callable[[str, object], None]
) -> list[FieldError]:
    """The podCertificate projection (PodCertificateRequest, beta): signer, key type and its paths."""
    errs: list[FieldError] = []
    if not pc.signer_name:
        errs.append(required(_child(path, "signerName")))
    if pc.key_type not in _KEY_TYPES:
        errs.append(not_supported(_child(path, "keyType"), pc.key_type, _KEY_TYPES))
    for fld, json_name in (
        ("credential_bundle_path", "credentialBundlePath"),
        ("key_path", "keyPath"),
        ("certificate_chain_path", "certificateChainPath"),
    ):
        value = getattr(pc, fld)
        if value:
            errs += local_non_reserved_path(value, _child(path, json_name))
            claim(value, value)
    return errs


def _scale_io(src: core_pb2.ScaleIOVolumeSource, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for value, json_name in ((src.gateway, "gateway"), (src.system, "system"), (src.volume_name, "volumeName")):
        if not value:
            errs.append(required(_child(path, json_name)))
    return errs


def csi_driver_name(driver: str, path: str) -> list[FieldError]:
    """ValidateCSIDriverName."""
    errs: list[FieldError] = []
    if not driver:
        errs.append(required(path))
    if len(driver) > 63:
        errs.append(too_long(path, 63))
    errs += [invalid(path, driver, m) for m in names.validate_dns1123_subdomain(driver.lower())]
    return errs


def _csi(src: core_pb2.CSIVolumeSource, path: str) -> list[FieldError]:
    errs = csi_driver_name(src.driver, _child(path, "driver"))
    if src.HasField("node_publish_secret_ref"):
        ref = src.node_publish_secret_ref
        if not ref.name:
            errs.append(required(_child(path, "nodePublishSecretRef", "name")))
        else:
            # Upstream reports a bad secret name on `csi.name`, not on the reference.
            errs += [invalid(_child(path, "name"), ref.name, m) for m in names.validate_dns1123_subdomain(ref.name)]
    return errs


def _data_source(
    ref: core_pb2.TypedLocalObjectReference | core_pb2.TypedObjectReference, path: str
) -> list[FieldError]:
    """validateDataSource / validateDataSourceRef."""
    errs: list[FieldError] = []
    if not ref.name:
        errs.append(required(_child(path, "name")))
    if not ref.kind:
        errs.append(required(_child(path, "kind")))
    group = ref.api_group
    if not group and ref.kind != "PersistentVolumeClaim":
        errs.append(invalid(path, ref.kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
    if group:
        errs += [invalid(_child(path, "apiGroup"), group, m) for m in names.validate_dns1123_subdomain(group)]
    if isinstance(ref, core_pb2.TypedObjectReference) and ref.namespace:
        errs += [
            invalid(_child(path, "namespace"), ref.namespace, m) for m in names.validate_dns1123_label(ref.namespace)
        ]
    return errs


def pvc_spec(spec: core_pb2.PersistentVolumeClaimSpec, path: str) -> list[FieldError]:
    """ValidatePersistentVolumeClaimSpec."""
    errs: list[FieldError] = []
    ap = _child(path, "accessModes")
    if not spec.access_modes:
        errs.append(required(ap, "at least 1 access mode is required"))
    if spec.HasField("selector"):
        errs += _validate_label_selector(spec.selector, _child(path, "selector"))
    rwop = other = False
    for mode in spec.access_modes:
        if mode not in _ACCESS_MODES:
            errs.append(not_supported(ap, mode, _ACCESS_MODES))
        elif mode == "ReadWriteOncePod":
            rwop = True
        else:
            other = True
    if rwop and other:
        errs.append(forbidden(ap, "may not use ReadWriteOncePod with other access modes"))
    sp = f"{_child(path, 'resources')}[storage]"
    if "storage" not in spec.resources.requests:
        errs.append(required(sp))
    else:
        q = _parse(spec.resources.requests["storage"], sp, errs)
        if q is not None:
            if q.milli_value() <= 0:
                errs.append(invalid(sp, str(q), "must be greater than zero"))
            else:
                errs += _quantity_value("storage", q, sp)
    for fld, json_name in (
        ("storage_class_name", "storageClassName"),
        ("volume_attributes_class_name", "volumeAttributesClassName"),
    ):
        value = getattr(spec, fld)
        if value:
            errs += [invalid(_child(path, json_name), value, m) for m in names.validate_dns1123_subdomain(value)]
    if spec.HasField("volume_mode") and spec.volume_mode not in _VOLUME_MODES:
        errs.append(not_supported(_child(path, "volumeMode"), spec.volume_mode, _VOLUME_MODES))
    if spec.HasField("data_source"):
        errs += _data_source(spec.data_source, _child(path, "dataSource"))
    if spec.HasField("data_source_ref"):
        errs += _data_source(spec.data_source_ref, _child(path, "dataSourceRef"))
    ds, dsr = spec.data_source, spec.data_source_ref
    if spec.HasField("data_source_ref") and dsr.namespace:
        if spec.HasField("data_source"):
            errs.append(
                invalid(
                    path,
                    GoValue(_child(path, "dataSource")),
                    "may not be specified when dataSourceRef.namespace is specified",
                )
            )
    elif spec.HasField("data_source") and spec.HasField("data_source_ref"):
        same = (ds.HasField("api_group"), ds.api_group, ds.kind, ds.name) == (
            dsr.HasField("api_group"),
            dsr.api_group,
            dsr.kind,
            dsr.name,
        )
        if not same:
            errs.append(invalid(path, GoValue(_child(path, "dataSource")), "must match dataSourceRef"))
    return errs


_TEMPLATE_META_ALLOWED = {"annotations", "labels"}


def template_object_meta(meta: meta_pb2.ObjectMeta, path: str) -> list[FieldError]:
    """ValidateTemplateObjectMeta: only labels and annotations may be set."""
    errs = _validate_annotations(meta.annotations, _child(path, "annotations"))
    errs += _validate_labels(meta.labels, _child(path, "labels"))
    for fd, _ in meta.ListFields():
        if fd.name not in _TEMPLATE_META_ALLOWED:
            errs.append(forbidden(_child(path, fd.json_name), "cannot be set"))
    return errs


def _ephemeral(src: core_pb2.EphemeralVolumeSource, path: str) -> list[FieldError]:
    tp = _child(path, "volumeClaimTemplate")
    if not src.HasField("volume_claim_template"):
        return [required(tp)]
    tmpl = src.volume_claim_template
    return template_object_meta(tmpl.metadata, _child(tp, "metadata")) + pvc_spec(tmpl.spec, _child(tp, "spec"))


def _image(src: core_pb2.ImageVolumeSource, path: str) -> list[FieldError]:
    """validateImageVolumeSource: a reference, and a pull policy (defaulted before validation)."""
    errs = [required(_child(path, "reference"))] if not src.reference else []
    pp = _child(path, "pullPolicy")
    if not src.pull_policy:
        errs.append(required(pp))
    elif src.pull_policy not in _PULL_POLICIES:
        errs.append(not_supported(pp, src.pull_policy, _PULL_POLICIES))
    return errs


# (proto field, path reported when it is a second source, path its own checks report on, checks), in
# validateVolumeSource's order. The odd paths ("downwarAPI", "cephFS", "persistentDisk") are upstream's own.
_SOURCES: tuple[tuple[str, str, str, Callable[[Any, str], list[FieldError]]], ...] = (
    ("empty_dir", "emptyDir", "emptyDir", _empty_dir),
    ("host_path", "hostPath", "hostPath", _host_path),
    ("git_repo", "gitRepo", "gitRepo", _git_repo),
    ("gce_persistent_disk", "gcePersistentDisk", "persistentDisk", _gce_pd),
    ("aws_elastic_block_store", "awsElasticBlockStore", "awsElasticBlockStore", _aws_ebs),
    ("secret", "secret", "secret", _secret),
    ("nfs", "nfs", "nfs", _nfs),
    ("iscsi", "iscsi", "iscsi", _iscsi),
    ("glusterfs", "glusterfs", "glusterfs", _glusterfs),
    ("flocker", "flocker", "flocker", _flocker),
    ("persistent_volume_claim", "persistentVolumeClaim", "persistentVolumeClaim", _pvc),
    ("rbd", "rbd", "rbd", _rbd),
    ("cinder", "cinder", "cinder", _cinder),
    ("cephfs", "cephFS", "cephfs", _cephfs),
    ("quobyte", "quobyte", "quobyte", _quobyte),
    ("downward_api", "downwarAPI", "downwardAPI", _downward_api),
    ("fc", "fc", "fc", _fc),
    ("flex_volume", "flexVolume", "flexVolume", _flex),
    ("config_map", "configMap", "configMap", _config_map),
    ("azure_file", "azureFile", "azureFile", _azure_file),
    ("vsphere_volume", "vsphereVolume", "vsphereVolume", _vsphere),
    ("photon_persistent_disk", "photonPersistentDisk", "photonPersistentDisk", _photon),
    ("portworx_volume", "portworxVolume", "portworxVolume", _portworx),
    ("azure_disk", "azureDisk", "azureDisk", _azure_disk),
    ("storageos", "storageos", "storageos", _storageos),
    ("projected", "projected", "projected", _projected),
    ("scale_io", "scaleIO", "scaleIO", _scale_io),
    ("csi", "csi", "csi", _csi),
    ("ephemeral", "ephemeral", "ephemeral", _ephemeral),
    ("image", "image", "image", _image),
)

VOLUME_SOURCE_FIELDS = tuple(s[0] for s in _SOURCES)


def validate_volume_source(vol: core_pb2.Volume, path: str) -> list[FieldError]:
    """validateVolumeSource: the first source set is checked, every further one is refused."""
    errs: list[FieldError] = []
    count = 0
    for fld, second_path, own_path, check in _SOURCES:
        if not vol.HasField(fld):  # type: ignore[arg-type]
            continue
        if count:
            errs.append(forbidden(_child(path, second_path), MORE_THAN_ONE))
        else:
            count += 1
            errs += check(getattr(vol, fld), _child(path, own_path))
        if (
            fld == "iscsi"
            and vol.iscsi.HasField("initiator_name")
            and len(f"{vol.name}:{vol.iscsi.target_portal}") > 64
        ):
            errs.append(
                invalid(
                    _child(path, "name"),
                    vol.name,
                    "Total length of <volume name>:<iscsi.targetPortal> must be under 64 characters "
                    "if iscsi.initiatorName is specified.",
                )
            )
    if count == 0:
        errs.append(required(path, "must specify a volume type"))
    return errs
