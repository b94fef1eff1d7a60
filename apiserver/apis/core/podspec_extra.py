"""Validation of the PodSpec and Container fields the simulation does not model but must accept as upstream does:
lifecycle hooks, security contexts, DNS, host aliases, OS, resource claims, pod resources, ephemeral containers.

Ports the matching functions of pkg/apis/core/validation/validation.go (ValidatePodSpec and what it calls).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from apiserver.apis.core.validation import (
    _id_errors,
    _validate_resources,
)
from apiserver.validation import (
    FieldError,
    GoValue,
    _child,
    _qualified_name,
    duplicate,
    forbidden,
    invalid,
    name_is_dns_subdomain,
    not_found,
    not_supported,
    required,
    too_long,
)
from kubemu.api import names
from kubemu.pb import core_pb2

from .volumes import path_no_backsteps

# ---- small helpers ----------------------------------------------------------------------------------

_IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
_LEGACY_V4_RE = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")


def is_valid_ip(path: str, value: str) -> list[FieldError]:
    """validation.IsValidIP: netutils.ParseIPSloppy, which still takes IPv4 octets with leading zeros."""
    try:
        ipaddress.ip_address(value)
        return []
    except ValueError:
        m = _LEGACY_V4_RE.fullmatch(value)
        if m and all(int(g) <= 255 for g in m.groups()):
            return []
    return [invalid(path, value, _IP_MSG)]


def _label_errs(value: str, path: str) -> list[FieldError]:
    return [invalid(path, value, m) for m in names.validate_dns1123_label(value)]


def _subdomain_errs(value: str, path: str) -> list[FieldError]:
    return [invalid(path, value, m) for m in names.validate_dns1123_subdomain(value)]


# ---- lifecycle ---------------------------------------------------------------------------------------


def _handler(h: core_pb2.LifecycleHandler, grace: int | None, path: str) -> list[FieldError]:
    """validateHandler over handlerFromLifecycle: exactly one of exec, httpGet, tcpSocket, sleep."""
    from apiserver.apis.core.validation import _validate_port_num_or_name

    errs: list[FieldError] = []
    count = 0
    for fld, json_name in (("exec", "exec"), ("http_get", "httpGet"), ("tcp_socket", "tcpSocket"), ("sleep", "sleep")):
        if not h.HasField(fld):  # type: ignore[arg-type]
            continue
        hp = _child(path, json_name)
        if count:
            errs.append(forbidden(hp, "may not specify more than 1 handler type"))
            continue
        count += 1
        if fld == "exec":
            if not h.exec.command:
                errs.append(required(_child(hp, "command")))
        elif fld == "http_get":
            hg = h.http_get
            if not hg.path:
                errs.append(required(_child(hp, "path")))
            errs += _validate_port_num_or_name(hg.port, _child(hp, "port"))
            if hg.scheme not in ("HTTP", "HTTPS"):
                errs.append(not_supported(_child(hp, "scheme"), hg.scheme, ["HTTP", "HTTPS"]))
            for header in hg.http_headers:
                if not re.fullmatch(r"[-A-Za-z0-9!#$%&'*+.^_`|~]+", header.name):
                    errs.append(
                        invalid(
                            _child(hp, "httpHeaders"),
                            header.name,
                            "a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', "
                            "regex used for validation is '[-A-Za-z0-9]+')",
                        )
                    )
        elif fld == "tcp_socket":
            errs += _validate_port_num_or_name(h.tcp_socket.port, _child(hp, "port"))
        else:
            # AllowPodLifecycleSleepActionZeroValue is on (PodLifecycleSleepActionAllowZero is GA).
            seconds = h.sleep.seconds
            if grace is not None and not 0 <= seconds <= grace:
                errs.append(
                    invalid(hp, seconds, f"must be non-negative and less than terminationGracePeriodSeconds ({grace})")
                )
    if count == 0:
        errs.append(required(path, "must specify a handler type"))
    return errs


def validate_lifecycle(lc: core_pb2.Lifecycle, grace: int | None, path: str) -> list[FieldError]:
    """validateLifecycle: postStart and preStop handlers."""
    errs: list[FieldError] = []
    if lc.HasField("post_start"):
        errs += _handler(lc.post_start, grace, _child(path, "postStart"))
    if lc.HasField("pre_stop"):
        errs += _handler(lc.pre_stop, grace, _child(path, "preStop"))
    return errs


# ---- security contexts -------------------------------------------------------------------------------

_SECCOMP_TYPES = ["Localhost", "RuntimeDefault", "Unconfined"]


def seccomp_profile(sp: core_pb2.SeccompProfile, path: str) -> list[FieldError]:
    """validateSeccompProfileField."""
    from apiserver.apis.core.validation import _local_descending_path

    errs: list[FieldError] = []
    tp = _child(path, "type")
    if not sp.type:
        errs.append(required(tp, "type is required when seccompProfile is set"))
    elif sp.type not in _SECCOMP_TYPES:
        errs.append(not_supported(tp, sp.type, _SECCOMP_TYPES))
    lp = _child(path, "localhostProfile")
    if sp.type == "Localhost":
        if not sp.HasField("localhost_profile"):
            errs.append(required(lp, "must be set when seccomp type is Localhost"))
        else:
            errs += _local_descending_path(sp.localhost_profile, lp)
    elif sp.HasField("localhost_profile"):
        errs.append(invalid(lp, GoValue("&core.SeccompProfile{...}"), "can only be set when seccomp type is Localhost"))
    return errs


def app_armor_profile(p: core_pb2.AppArmorProfile, path: str) -> list[FieldError]:
    """ValidateAppArmorProfileField."""
    errs: list[FieldError] = []
    lp = _child(path, "localhostProfile")
    if p.type == "Localhost":
        if not p.HasField("localhost_profile"):
            errs.append(required(lp, "must be set when AppArmor type is Localhost"))
        else:
            value = p.localhost_profile
            if value.strip() != value:
                errs.append(invalid(lp, value, "must not be padded with whitespace"))
            elif not value:
                errs.append(required(lp, "must be set when AppArmor type is Localhost"))
            if len(value) > 4095:
                errs.append(too_long(lp, 4095))
    elif p.type in ("RuntimeDefault", "Unconfined"):
        if p.HasField("localhost_profile"):
            errs.append(invalid(lp, p.localhost_profile, "can only be set when AppArmor type is Localhost"))
    elif not p.type:
        errs.append(required(_child(path, "type"), "type is required when appArmorProfile is set"))
    else:
        errs.append(not_supported(_child(path, "type"), p.type, _SECCOMP_TYPES))
    return errs


def _windows_options(w: core_pb2.WindowsSecurityContextOptions, path: str) -> list[FieldError]:
    """validateWindowsSecurityContextOptions: credential spec name and size, user name shape."""
    errs: list[FieldError] = []
    if w.HasField("gmsa_credential_spec_name"):
        errs += _subdomain_errs(w.gmsa_credential_spec_name, _child(path, "gmsaCredentialSpecName"))
    if w.HasField("gmsa_credential_spec"):
        if not w.gmsa_credential_spec:
            errs.append(invalid(_child(path, "gmsaCredentialSpec"), "", "gmsaCredentialSpec cannot be an empty string"))
        elif len(w.gmsa_credential_spec) > 64 * 1024:
            errs.append(
                invalid(
                    _child(path, "gmsaCredentialSpec"),
                    "",
                    f"gmsaCredentialSpec size must be under {64 * 1024} bytes",
                )
            )
    if w.HasField("run_as_user_name") and not w.run_as_user_name:
        errs.append(invalid(_child(path, "runAsUserName"), "", "runAsUserName cannot be an empty string"))
    return errs


def container_security_context(sc: core_pb2.SecurityContext, host_users: bool, path: str) -> list[FieldError]:
    """ValidateSecurityContext."""
    errs: list[FieldError] = []
    for fld, json_name in (("run_as_user", "runAsUser"), ("run_as_group", "runAsGroup")):
        if sc.HasField(fld):  # type: ignore[arg-type]
            v = getattr(sc, fld)
            errs += [invalid(_child(path, json_name), v, m) for m in _id_errors(v)]
    if sc.HasField("proc_mount"):
        pp = _child(path, "procMount")
        if sc.proc_mount not in ("Default", "Unmasked"):
            errs.append(not_supported(pp, sc.proc_mount, ["Default", "Unmasked"]))
        if host_users and sc.proc_mount == "Unmasked":
            errs.append(invalid(pp, sc.proc_mount, "`hostUsers` must be false to use `Unmasked`"))
    if sc.HasField("seccomp_profile"):
        errs += seccomp_profile(sc.seccomp_profile, _child(path, "seccompProfile"))
    if sc.HasField("allow_privilege_escalation") and not sc.allow_privilege_escalation:
        shown = GoValue("&core.SecurityContext{...}")
        if sc.HasField("privileged") and sc.privileged:
            errs.append(invalid(path, shown, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
        for cap in sc.capabilities.add:
            if cap == "CAP_SYS_ADMIN":
                errs.append(
                    invalid(
                        path,
                        shown,
                        "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
                    )
                )
    if sc.HasField("windows_options"):
        errs += _windows_options(sc.windows_options, _child(path, "windowsOptions"))
    if sc.HasField("app_armor_profile"):
        errs += app_armor_profile(sc.app_armor_profile, _child(path, "appArmorProfile"))
    return errs


_SYSCTL_SEGMENT = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
_SYSCTL_FMT = "(" + _SYSCTL_SEGMENT + "[\\./])*" + _SYSCTL_SEGMENT
_SYSCTL_RE = re.compile("^" + _SYSCTL_FMT + "$")


def _sysctl_namespace(name: str) -> str:
    """utilsysctl.GetNamespace, as far as validation needs it: net.* is the network namespace, ipc sysctls IPC."""
    name = name.replace("/", ".")
    if name.startswith("net."):
        return "net"
    if name in ("kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"):
        return "ipc"
    if name.startswith(("kernel.msg", "fs.mqueue.")):
        return "ipc"
    return ""


def pod_security_context(spec: core_pb2.PodSpec, path: str) -> list[FieldError]:
    """The parts of validatePodSpecSecurityContext the core validation did not have, and validateHostUsers."""
    errs: list[FieldError] = []
    sp = _child(path, "securityContext")
    sc = spec.security_context
    if spec.HasField("share_process_namespace") and spec.share_process_namespace and spec.host_pid:
        errs.append(
            invalid(
                _child(sp, "shareProcessNamespace"),
                True,
                "ShareProcessNamespace and HostPID cannot both be enabled",
            )
        )
    seen: set[str] = set()
    for i, s in enumerate(sc.sysctls):
        np_ = f"{_child(sp, 'sysctls')}[{i}].name"
        if not s.name:
            errs.append(required(np_))
        elif len(s.name) > 253 or not _SYSCTL_RE.match(s.name):
            errs.append(invalid(np_, s.name, f"must have at most 253 characters and match regex ^{_SYSCTL_FMT}$"))
        elif s.name in seen:
            errs.append(duplicate(np_, s.name))
        ns = _sysctl_namespace(s.name)
        if spec.host_network and ns == "net":
            errs.append(invalid(np_, s.name, "may not be specified when 'hostNetwork' is true"))
        elif spec.host_ipc and ns == "ipc":
            errs.append(invalid(np_, s.name, "may not be specified when 'hostIPC' is true"))
        seen.add(s.name)
    for fld, json_name, valid in (
        ("fs_group_change_policy", "fsGroupChangePolicy", ["Always", "OnRootMismatch"]),
        ("supplemental_groups_policy", "supplementalGroupsPolicy", ["Merge", "Strict"]),
        ("se_linux_change_policy", "seLinuxChangePolicy", ["MountOption", "Recursive"]),
    ):
        if sc.HasField(fld) and getattr(sc, fld) not in valid:  # type: ignore[arg-type]
            errs.append(not_supported(_child(sp, json_name), getattr(sc, fld), valid))
    if sc.HasField("seccomp_profile"):
        errs += seccomp_profile(sc.seccomp_profile, _child(sp, "seccompProfile"))
    if sc.HasField("windows_options"):
        errs += _windows_options(sc.windows_options, _child(sp, "windowsOptions"))
    if sc.HasField("app_armor_profile"):
        errs += app_armor_profile(sc.app_armor_profile, _child(sp, "appArmorProfile"))
    if spec.HasField("host_users") and not spec.host_users:
        # validateHostUsers; "HostPID"/"HostIPC" are upstream's spelling.
        for on, name in ((spec.host_network, "hostNetwork"), (spec.host_pid, "HostPID"), (spec.host_ipc, "HostIPC")):
            if on:
                errs.append(forbidden(_child(path, name), "when `pod.Spec.HostUsers` is false"))
    return errs


# ---- containers --------------------------------------------------------------------------------------

_RESIZE_RESOURCES = ["cpu", "memory"]
_RESIZE_POLICIES = ["NotRequired", "RestartContainer"]


def resize_policy(policies: Sequence[core_pb2.ContainerResizePolicy], restart: str, path: str) -> list[FieldError]:
    """validateResizePolicy: each of cpu and memory at most once, a known policy, NotRequired under Never."""
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, p in enumerate(policies):
        if p.resource_name in seen:
            errs.append(duplicate(f"{path}[{i}]", p.resource_name))
        seen.add(p.resource_name)
        if not p.resource_name:
            errs.append(required(path))
        elif p.resource_name not in _RESIZE_RESOURCES:
            errs.append(not_supported(path, p.resource_name, _RESIZE_RESOURCES))
        if not p.restart_policy:
            errs.append(required(path))
        elif p.restart_policy not in _RESIZE_POLICIES:
            errs.append(not_supported(path, p.restart_policy, _RESIZE_POLICIES))
        if restart == "Never" and p.restart_policy != "NotRequired":
            errs.append(invalid(path, p.restart_policy, "must be 'NotRequired' when `restartPolicy` is 'Never'"))
    return errs


def resource_claim_names(claims: Sequence[core_pb2.ResourceClaim], pod_claims: set[str], path: str) -> list[FieldError]:
    """validateResourceClaimNames: each claim (or claim/request) once, and declared in spec.resourceClaims."""
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, claim in enumerate(claims):
        p = f"{path}[{i}]"
        if not claim.name:
            errs.append(required(p))
            continue
        if claim.name in seen:
            errs.append(duplicate(p, claim.name))
        else:
            key = claim.name
            if claim.request:
                errs += _label_errs(claim.request, _child(p, "request"))
                key += "/" + claim.request
            if key in seen:
                errs.append(duplicate(p, key))
            else:
                seen.add(key)
        if claim.name not in pod_claims:
            detail = "must be one of the names in pod.spec.resourceClaims"
            detail += " which is empty" if not pod_claims else ": " + ", ".join(sorted(pod_claims))
            err = not_found(p, claim.name)
            errs.append(FieldError(err.type, err.field, detail, err.bad_value))
    return errs


def _volume_devices(c: core_pb2.Container, sources: dict[str, core_pb2.Volume], path: str) -> list[FieldError]:
    """ValidateVolumeDevices: raw block devices come from PVC or ephemeral volumes only."""
    errs: list[FieldError] = []
    mounts = {m.name: m.mount_path for m in c.volume_mounts}
    paths: set[str] = set()
    seen: set[str] = set()
    for i, dev in enumerate(c.volume_devices):
        p = f"{path}[{i}]"
        vol = sources.get(dev.name)
        if not dev.name:
            errs.append(required(_child(p, "name")))
        if dev.name in seen:
            errs.append(invalid(_child(p, "name"), dev.name, "must be unique"))
        if vol is not None and not (vol.HasField("persistent_volume_claim") or vol.HasField("ephemeral")):
            errs.append(
                invalid(
                    _child(p, "name"),
                    dev.name,
                    "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
                )
            )
        if vol is None:
            errs.append(not_found(_child(p, "name"), dev.name))
        if not dev.device_path:
            errs.append(required(_child(p, "devicePath")))
        if dev.device_path in paths:
            errs.append(invalid(_child(p, "devicePath"), dev.device_path, "must be unique"))
        if dev.device_path and path_no_backsteps(dev.device_path, ""):
            errs.append(invalid(_child(p, "devicePath"), dev.device_path, "can not contain backsteps ('..')"))
        else:
            paths.add(dev.device_path)
        if dev.name in mounts:
            errs.append(invalid(_child(p, "name"), dev.name, "must not already exist in volumeMounts"))
        if dev.device_path in mounts.values():
            errs.append(
                invalid(_child(p, "devicePath"), dev.device_path, "must not already exist as a path in volumeMounts")
            )
        if dev.name:
            seen.add(dev.name)
    return errs


def _volume_mount_extra(c: core_pb2.Container, sources: dict[str, core_pb2.Volume], path: str) -> list[FieldError]:
    """The parts of ValidateVolumeMounts beyond name/mountPath/subPath: devices, image volumes, subPathExpr,
    mountPropagation and recursiveReadOnly. Like upstream, some report on the list's path."""
    from apiserver.apis.core.validation import _local_descending_path

    errs: list[FieldError] = []
    devices = {d.name: d.device_path for d in c.volume_devices}
    privileged = c.security_context.HasField("privileged") and c.security_context.privileged
    for i, m in enumerate(c.volume_mounts):
        p = f"{path}[{i}]"
        if m.name in devices:
            errs.append(invalid(_child(p, "name"), m.name, "must not already exist in volumeDevices"))
        if m.mount_path in devices.values():
            errs.append(
                invalid(_child(p, "mountPath"), m.mount_path, "must not already exist as a path in volumeDevices")
            )
        vol = sources.get(m.name)
        if vol is not None and vol.HasField("image"):
            if m.sub_path:
                errs.append(invalid(_child(p, "subPath"), m.sub_path, "not allowed in image volume sources"))
            if m.sub_path_expr:
                errs.append(invalid(_child(p, "subPathExpr"), m.sub_path_expr, "not allowed in image volume sources"))
        if m.sub_path_expr:
            if m.sub_path:
                errs.append(
                    invalid(_child(p, "subPathExpr"), m.sub_path_expr, "subPathExpr and subPath are mutually exclusive")
                )
            errs += _local_descending_path(m.sub_path_expr, _child(path, "subPathExpr"))
        if m.HasField("mount_propagation"):
            mp = _child(path, "mountPropagation")
            valid = ["Bidirectional", "HostToContainer", "None"]
            if m.mount_propagation not in valid:
                errs.append(not_supported(mp, m.mount_propagation, valid))
            if m.mount_propagation == "Bidirectional" and not privileged:
                errs.append(forbidden(mp, "Bidirectional mount propagation is available only to privileged containers"))
        if m.HasField("recursive_read_only"):
            rp = _child(path, "recursiveReadOnly")
            if m.recursive_read_only in ("Enabled", "IfPossible"):
                if not m.read_only:
                    errs.append(forbidden(rp, "may only be specified when readOnly is true"))
                if m.HasField("mount_propagation") and m.mount_propagation != "None":
                    errs.append(forbidden(rp, "may only be specified when mountPropagation is None or not specified"))
            elif m.recursive_read_only != "Disabled":
                errs.append(not_supported(rp, m.recursive_read_only, ["Disabled", "Enabled", "IfPossible"]))
    return errs


def _container_extra(
    c: core_pb2.Container, spec: core_pb2.PodSpec, sources: dict[str, core_pb2.Volume], pod_claims: set[str], path: str
) -> list[FieldError]:
    """What validateContainerCommon checks beyond the core validation, for any kind of container."""
    host_users = not spec.HasField("host_users") or spec.host_users
    errs = _volume_mount_extra(c, sources, _child(path, "volumeMounts"))
    errs += _volume_devices(c, sources, _child(path, "volumeDevices"))
    errs += resource_claim_names(c.resources.claims, pod_claims, _child(path, "resources", "claims"))
    errs += resize_policy(c.resize_policy, spec.restart_policy, _child(path, "resizePolicy"))
    if c.HasField("security_context"):
        errs += container_security_context(c.security_context, host_users, _child(path, "securityContext"))
    return errs


def _grace(spec: core_pb2.PodSpec) -> int | None:
    return spec.termination_grace_period_seconds if spec.HasField("termination_grace_period_seconds") else None


def _containers_extra(
    spec: core_pb2.PodSpec, sources: dict[str, core_pb2.Volume], pod_claims: set[str], path: str
) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, c in enumerate(spec.containers):
        p = f"{_child(path, 'containers')}[{i}]"
        errs += _container_extra(c, spec, sources, pod_claims, p)
        if c.HasField("lifecycle"):
            errs += validate_lifecycle(c.lifecycle, _grace(spec), _child(p, "lifecycle"))
    for i, c in enumerate(spec.init_containers):
        p = f"{_child(path, 'initContainers')}[{i}]"
        errs += _container_extra(c, spec, sources, pod_claims, p)
        if not c.HasField("lifecycle"):
            continue
        if c.HasField("restart_policy") and c.restart_policy == "Always":
            errs += validate_lifecycle(c.lifecycle, _grace(spec), _child(p, "lifecycle"))
        else:
            errs.append(
                forbidden(_child(p, "lifecycle"), "may not be set for init containers without restartPolicy=Always")
            )
    return errs


# ---- ephemeral containers ----------------------------------------------------------------------------

# allowedEphemeralContainerFields: the fields of EphemeralContainerCommon an ephemeral container may set.
_EPHEMERAL_ALLOWED = {
    "name",
    "image",
    "command",
    "args",
    "working_dir",
    "env_from",
    "env",
    "volume_mounts",
    "volume_devices",
    "termination_message_path",
    "termination_message_policy",
    "image_pull_policy",
    "security_context",
    "stdin",
    "stdin_once",
    "tty",
    "target_container_name",
}


def _repeated(fd: FieldDescriptor) -> bool:
    return bool(fd.is_repeated)


def as_container(ec: core_pb2.EphemeralContainer) -> core_pb2.Container:
    """EphemeralContainerCommon converted to a Container, as upstream casts it for validateContainerCommon."""
    c = core_pb2.Container()
    by_name = core_pb2.Container.DESCRIPTOR.fields_by_name
    for fd, value in ec.ListFields():
        if fd.name not in by_name:
            continue
        if _repeated(fd):
            getattr(c, fd.name).extend(value)
        elif fd.message_type is not None:
            getattr(c, fd.name).CopyFrom(value)
        else:
            setattr(c, fd.name, value)
    return c


def _is_set(msg: Any, fd: FieldDescriptor) -> bool:
    """Whether a Go field would differ from its zero value (an empty struct counts as unset)."""
    if _repeated(fd):
        return len(getattr(msg, fd.name)) > 0
    if fd.message_type is not None:
        return bool(msg.HasField(fd.name) and getattr(msg, fd.name).ByteSize() > 0)
    return bool(msg.HasField(fd.name)) if fd.has_presence else bool(getattr(msg, fd.name))


def _ephemeral_containers(
    spec: core_pb2.PodSpec, volumes: set[str], sources: dict[str, core_pb2.Volume], pod_claims: set[str], path: str
) -> list[FieldError]:
    """validateEphemeralContainers."""
    from apiserver.apis.core.validation import _validate_container_common

    errs: list[FieldError] = []
    others = {c.name for c in (*spec.containers, *spec.init_containers)}
    all_names = set(others)
    for i, ec in enumerate(spec.ephemeral_containers):
        p = f"{path}[{i}]"
        c = as_container(ec)
        errs += _validate_container_common(c, volumes, p)
        errs += _container_extra(c, spec, sources, pod_claims, p)
        if c.image != c.image.strip():
            errs.append(invalid(_child(p, "image"), c.image, "must not have leading or trailing whitespace"))
        if ec.name in all_names:
            errs.append(duplicate(_child(p, "name"), ec.name))
        else:
            all_names.add(ec.name)
        if ec.target_container_name and ec.target_container_name not in others:
            errs.append(not_found(_child(p, "targetContainerName"), ec.target_container_name))
        for fd in ec.DESCRIPTOR.fields:
            if fd.name not in _EPHEMERAL_ALLOWED and _is_set(ec, fd):
                errs.append(forbidden(_child(p, fd.json_name), "cannot be set for an Ephemeral Container"))
        for j, vm in enumerate(ec.volume_mounts):
            vp = f"{_child(p, 'volumeMounts')}[{j}]"
            if vm.sub_path:
                errs.append(forbidden(_child(vp, "subPath"), "cannot be set for an Ephemeral Container"))
            if vm.sub_path_expr:
                errs.append(forbidden(_child(vp, "subPathExpr"), "cannot be set for an Ephemeral Container"))
    return errs


# ---- pod-level fields --------------------------------------------------------------------------------


def _pod_resource_claims(claims: Sequence[core_pb2.PodResourceClaim], path: str) -> list[FieldError]:
    """validatePodResourceClaims."""
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, claim in enumerate(claims):
        p = f"{path}[{i}]"
        if not claim.name:
            errs.append(required(_child(p, "name")))
        elif claim.name in seen:
            errs.append(duplicate(_child(p, "name"), claim.name))
        else:
            errs += _label_errs(claim.name, _child(p, "name"))
            seen.add(claim.name)
        by_name, by_template = claim.HasField("resource_claim_name"), claim.HasField("resource_claim_template_name")
        shown = GoValue(f"core.PodResourceClaim{{Name:{names_quote(claim.name)}, ...}}")
        if by_name and by_template:
            errs.append(
                invalid(p, shown, "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified")
            )
        if not by_name and not by_template:
            errs.append(invalid(p, shown, "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`"))
        if by_name:
            errs += _subdomain_errs(claim.resource_claim_name, _child(p, "resourceClaimName"))
        if by_template:
            errs += _subdomain_errs(claim.resource_claim_template_name, _child(p, "resourceClaimTemplateName"))
    return errs


def names_quote(value: str) -> str:
    from kubemu.api.labels import go_quote

    return go_quote(value)


def _pod_resources(spec: core_pb2.PodSpec, path: str) -> list[FieldError]:
    """validatePodResources (PodLevelResources): names, quantities and consistency with the containers."""
    from kubemu.api.quantity import parse_quantity

    if not spec.HasField("resources"):
        return []
    res = spec.resources
    errs: list[FieldError] = []
    if res.claims:
        errs.append(forbidden(_child(path, "claims"), "claims cannot be set for Resources at pod-level"))
    plain = core_pb2.ResourceRequirements(limits=res.limits, requests=res.requests)
    errs += _validate_resources(plain, path)
    if errs:
        return errs
    totals: dict[str, object] = {}
    for c in spec.containers:
        for name, raw in c.resources.requests.items():
            q = parse_quantity(raw)
            prev = totals.get(name)
            totals[name] = q if prev is None else prev + q  # type: ignore[operator]
    for name, total in totals.items():
        if name not in res.requests:
            continue
        pod_q = parse_quantity(res.requests[name])
        if total > pod_q:  # type: ignore[operator]
            errs.append(
                invalid(
                    f"{_child(path, 'requests')}[{name}]",
                    str(pod_q),
                    f"must be greater than or equal to aggregate container requests of {total}",
                )
            )
    for i, c in enumerate(spec.containers):
        for name, raw in c.resources.limits.items():
            if name not in res.limits:
                continue
            lim, pod_lim = parse_quantity(raw), parse_quantity(res.limits[name])
            if lim > pod_lim:
                errs.append(
                    invalid(
                        f"{_child(path, 'containers')}[{i}][{name}].limits",
                        str(lim),
                        f"must be less than or equal to pod limits of {pod_lim}",
                    )
                )
    return errs


def _dns_config(spec: core_pb2.PodSpec, path: str) -> list[FieldError]:
    """validatePodDNSConfig (AllowRelaxedDNSSearchValidation on: "." is a valid search, underscores too)."""
    errs: list[FieldError] = []
    if spec.dns_policy == "None":
        if not spec.HasField("dns_config"):
            return [required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not spec.dns_config.nameservers:
            return [
                required(
                    _child(path, "nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None"
                )
            ]
    if not spec.HasField("dns_config"):
        return errs
    cfg = spec.dns_config
    if len(cfg.nameservers) > 3:
        errs.append(
            invalid(_child(path, "nameservers"), list(cfg.nameservers), "must not have more than 3 nameservers")
        )
    for i, ns in enumerate(cfg.nameservers):
        errs += is_valid_ip(f"{_child(path, 'nameservers')}[{i}]", ns)
    if len(cfg.searches) > 32:
        errs.append(invalid(_child(path, "searches"), list(cfg.searches), "must not have more than 32 search paths"))
    if len(" ".join(cfg.searches)) > 2048:
        errs.append(
            invalid(
                _child(path, "searches"),
                list(cfg.searches),
                "must not have more than 2048 characters (including spaces) in the search list",
            )
        )
    for i, search in enumerate(cfg.searches):
        if search == ".":
            continue
        trimmed = search.removesuffix(".")
        # IsDNS1123SubdomainWithUnderscore: underscores are allowed wherever letters are.
        errs += [
            invalid(f"{_child(path, 'searches')}[{i}]", trimmed, m)
            for m in names.validate_dns1123_subdomain(trimmed.replace("_", "a"))
        ]
    for i, opt in enumerate(cfg.options):
        if not opt.name:
            errs.append(required(f"{_child(path, 'options')}[{i}]", "must not be empty"))
    return errs


def _host_aliases(aliases: Sequence[core_pb2.HostAlias], path: str) -> list[FieldError]:
    """ValidateHostAliases."""
    errs: list[FieldError] = []
    for i, alias in enumerate(aliases):
        p = f"{path}[{i}]"
        errs += is_valid_ip(_child(p, "ip"), alias.ip)
        for j, hostname in enumerate(alias.hostnames):
            errs += _subdomain_errs(hostname, f"{_child(p, 'hostnames')}[{j}]")
    return errs


_WINDOWS_FORBIDDEN_POD = (
    ("app_armor_profile", "securityContext.appArmorProfile"),
    ("se_linux_options", "securityContext.seLinuxOptions"),
    ("seccomp_profile", "securityContext.seccompProfile"),
    ("fs_group", "securityContext.fsGroup"),
    ("fs_group_change_policy", "securityContext.fsGroupChangePolicy"),
    ("run_as_user", "securityContext.runAsUser"),
    ("run_as_group", "securityContext.runAsGroup"),
    ("supplemental_groups_policy", "securityContext.supplementalGroupsPolicy"),
    ("se_linux_change_policy", "securityContext.seLinuxChangePolicy"),
)
_WINDOWS_FORBIDDEN_CONTAINER = (
    ("app_armor_profile", "appArmorProfile"),
    ("se_linux_options", "seLinuxOptions"),
    ("seccomp_profile", "seccompProfile"),
    ("capabilities", "capabilities"),
    ("read_only_root_filesystem", "readOnlyRootFilesystem"),
    ("privileged", "privileged"),
    ("allow_privilege_escalation", "allowPrivilegeEscalation"),
    ("proc_mount", "procMount"),
    ("run_as_user", "runAsUser"),
    ("run_as_group", "runAsGroup"),
)


def _all_containers(
    spec: core_pb2.PodSpec, path: str
) -> list[tuple[core_pb2.Container | core_pb2.EphemeralContainer, str]]:
    """VisitContainersWithPath: init, regular, then ephemeral containers with their paths."""
    out: list[tuple[core_pb2.Container | core_pb2.EphemeralContainer, str]] = []
    out += [(c, f"{_child(path, 'initContainers')}[{i}]") for i, c in enumerate(spec.init_containers)]
    out += [(c, f"{_child(path, 'containers')}[{i}]") for i, c in enumerate(spec.containers)]
    out += [(c, f"{_child(path, 'ephemeralContainers')}[{i}]") for i, c in enumerate(spec.ephemeral_containers)]
    return out


def _os(spec: core_pb2.PodSpec, path: str) -> list[FieldError]:
    """validateOS, then validateLinux or validateWindows."""
    op = _child(path, "os")
    name = spec.os.name
    if not name:
        return [required(_child(op, "name"), "cannot be empty")]
    if name not in ("linux", "windows"):
        return [not_supported(op, name, ["linux", "windows"])]
    errs: list[FieldError] = []
    sc = spec.security_context
    if name == "linux":
        if sc.HasField("windows_options"):
            errs.append(
                forbidden(
                    _child(path, "securityContext", "windowsOptions"), "windows options cannot be set for a linux pod"
                )
            )
        for c, cp in _all_containers(spec, path):
            if c.security_context.HasField("windows_options"):
                errs.append(
                    forbidden(
                        _child(cp, "securityContext", "windowsOptions"), "windows options cannot be set for a linux pod"
                    )
                )
        return errs
    msg = "cannot be set for a windows pod"
    if spec.HasField("security_context"):
        for fld, rel in _WINDOWS_FORBIDDEN_POD[:2]:
            if sc.HasField(fld):  # type: ignore[arg-type]
                errs.append(forbidden(_child(path, rel), msg))
        if spec.HasField("host_users"):
            errs.append(forbidden(_child(path, "hostUsers"), msg))
        if spec.host_pid:
            errs.append(forbidden(_child(path, "hostPID"), msg))
        if spec.host_ipc:
            errs.append(forbidden(_child(path, "hostIPC"), msg))
        for fld, rel in _WINDOWS_FORBIDDEN_POD[2:5]:
            if sc.HasField(fld):  # type: ignore[arg-type]
                errs.append(forbidden(_child(path, rel), msg))
        if sc.sysctls:
            errs.append(forbidden(_child(path, "securityContext", "sysctls"), msg))
        if spec.HasField("share_process_namespace"):
            errs.append(forbidden(_child(path, "shareProcessNamespace"), msg))
        for fld, rel in _WINDOWS_FORBIDDEN_POD[5:7]:
            if sc.HasField(fld):  # type: ignore[arg-type]
                errs.append(forbidden(_child(path, rel), msg))
        if sc.supplemental_groups:
            errs.append(forbidden(_child(path, "securityContext", "supplementalGroups"), msg))
        for fld, rel in _WINDOWS_FORBIDDEN_POD[7:]:
            if sc.HasField(fld):  # type: ignore[arg-type]
                errs.append(forbidden(_child(path, rel), msg))
    for c, cp in _all_containers(spec, path):
        if not c.HasField("security_context"):
            continue
        csc = c.security_context
        for fld, rel in _WINDOWS_FORBIDDEN_CONTAINER:
            if csc.HasField(fld):  # type: ignore[arg-type]
                errs.append(forbidden(_child(cp, "securityContext", rel), msg))
    return errs


def validate_pod_spec_extra(spec: core_pb2.PodSpec, volumes: set[str], path: str) -> list[FieldError]:
    """The rest of ValidatePodSpec: what the core validation leaves to this module, in upstream's order."""
    sources = {v.name: v for v in spec.volumes if v.name in volumes}
    pod_claims = {c.name for c in spec.resource_claims if c.name}
    errs = _pod_resource_claims(spec.resource_claims, _child(path, "resourceClaims"))
    errs += _containers_extra(spec, sources, pod_claims, path)
    errs += _ephemeral_containers(spec, volumes, sources, pod_claims, _child(path, "ephemeralContainers"))
    errs += _pod_resources(spec, _child(path, "resources"))
    errs += pod_security_context(spec, path)
    errs += _dns_config(spec, _child(path, "dnsConfig"))
    for i, gate in enumerate(spec.readiness_gates):
        errs += _qualified_name(gate.condition_type, f"{_child(path, 'readinessGates')}[{i}].conditionType")
    errs += _host_aliases(spec.host_aliases, _child(path, "hostAliases"))
    if spec.HasField("runtime_class_name"):
        errs += [
            invalid(_child(path, "runtimeClassName"), spec.runtime_class_name, m)
            for m in name_is_dns_subdomain(spec.runtime_class_name, False)
        ]
    if spec.HasField("os"):
        errs += _os(spec, path)
    return errs


def validate_pod_create_extra(spec: core_pb2.PodSpec, path: str) -> list[FieldError]:
    """ValidatePodCreate: ephemeral containers only come through the ephemeralcontainers subresource."""
    if spec.ephemeral_containers:
        return [forbidden(_child(path, "ephemeralContainers"), "cannot be set on create")]
    return []


def validate_pod_template_extra(spec: core_pb2.PodSpec, path: str) -> list[FieldError]:
    """ValidatePodTemplateSpec: a template never carries ephemeral containers."""
    if spec.ephemeral_containers:
        msg = "ephemeral containers not allowed in pod template"
        return [forbidden(_child(path, "spec", "ephemeralContainers"), msg)]
    return []
