"""The ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount): a new pod runs as a ServiceAccount
that exists (`default` unless it names one), and unless automounting is turned off gets the projected
`kube-api-access-<random>` volume (token, ca.crt, namespace) mounted in every container. Mirror pods are left alone,
and may not reference ServiceAccounts or their tokens."""

from __future__ import annotations

import asyncio
from typing import Any

from apiserver import errors
from apiserver.admission import CREATE, Attributes, Plugin
from kubemu.api import names
from kubemu.api.errors import StatusError, new_forbidden
from kubemu.pb import core_pb2

DEFAULT_SERVICE_ACCOUNT = "default"
VOLUME_NAME_PREFIX = "kube-api-access"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
TOKEN_EXPIRATION_SECONDS = 60 * 60 + 7
"""serviceaccount.WarnOnlyBoundTokenExpirationSeconds: the apiserver extends a pod token asked for with it."""
PROJECTED_DEFAULT_MODE = 0o644
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
DEFAULT_LOOKUPS = 10
LOOKUP_INTERVAL = 0.1
"""The `default` ServiceAccount of a namespace made a moment ago may not be there yet (its controller makes it):
upstream looks it up to ten times before refusing the pod."""


def token_volume_source() -> core_pb2.ProjectedVolumeSource:
    """TokenVolumeSource: the projection every kube-api-access volume has."""
    src = core_pb2.ProjectedVolumeSource(default_mode=PROJECTED_DEFAULT_MODE)
    token = src.sources.add().service_account_token
    token.path, token.expiration_seconds = "token", TOKEN_EXPIRATION_SECONDS
    ca = src.sources.add().config_map
    ca.name = ROOT_CA_CONFIGMAP
    ca.items.add(key="ca.crt", path="ca.crt")
    item = src.sources.add().downward_api.items.add(path="namespace")
    item.field_ref.api_version, item.field_ref.field_path = "v1", "metadata.namespace"
    return src


def should_automount(sa: core_pb2.ServiceAccount, pod: core_pb2.Pod) -> bool:
    """The pod's automountServiceAccountToken wins over its ServiceAccount's; both unset mount."""
    if pod.spec.HasField("automount_service_account_token"):
        return pod.spec.automount_service_account_token
    if sa.HasField("automount_service_account_token"):
        return sa.automount_service_account_token
    return True


def mount_service_account_token(pod: core_pb2.Pod) -> None:
    """mountServiceAccountToken: every init and app container without something at the mount path gets the
    kube-api-access volume there, read-only; the volume is added once (an existing one is reused by name)."""
    volume_name = next((v.name for v in pod.spec.volumes if v.name.startswith(VOLUME_NAME_PREFIX + "-")), "")
    has_volume = bool(volume_name)
    if not volume_name:
        volume_name = names.generate_name(VOLUME_NAME_PREFIX + "-")
    needed = False
    for container in [*pod.spec.init_containers, *pod.spec.containers]:
        if any(m.mount_path == MOUNT_PATH for m in container.volume_mounts):
            continue  # an existing mount at the path keeps the token out of that container
        container.volume_mounts.add(name=volume_name, read_only=True, mount_path=MOUNT_PATH)
        needed = True
    if needed and not has_volume:
        volume = pod.spec.volumes.add(name=volume_name)
        volume.projected.CopyFrom(token_volume_source())


ENFORCE_MOUNTABLE_SECRETS = "kubernetes.io/enforce-mountable-secrets"


def _containers(pod: core_pb2.Pod) -> list[tuple[str, Any]]:
    return [*(("init container", c) for c in pod.spec.init_containers),
            *(("container", c) for c in pod.spec.containers)]


def _secret_names(pod: core_pb2.Pod) -> list[str]:
    """The Secrets a pod names (VisitPodSecretNames): pull secrets, env and envFrom, secret and projected volumes."""
    names = [r.name for r in pod.spec.image_pull_secrets]
    for _, c in [*_containers(pod), *(("ephemeral container", e) for e in pod.spec.ephemeral_containers)]:
        names += [e.value_from.secret_key_ref.name for e in c.env if e.value_from.HasField("secret_key_ref")]
        names += [e.secret_ref.name for e in c.env_from if e.HasField("secret_ref")]
    for v in pod.spec.volumes:
        if v.HasField("secret"):
            names.append(v.secret.secret_name)
        if v.HasField("projected"):
            names += [s.secret.name for s in v.projected.sources if s.HasField("secret")]
        if v.HasField("csi") and v.csi.HasField("node_publish_secret_ref"):
            names.append(v.csi.node_publish_secret_ref.name)
    return names


def limit_secret_references(sa: core_pb2.ServiceAccount, pod: core_pb2.Pod) -> str | None:
    """Why a pod of a ServiceAccount that enforces its mountable secrets may not be admitted: it names a Secret the
    account does not list (its `secrets`, or `imagePullSecrets` for a pull secret)."""
    mountable = {r.name for r in sa.secrets}
    account = sa.metadata.name
    tail = f"is not allowed because service account {account} does not reference that secret"
    for v in pod.spec.volumes:
        if v.HasField("secret") and v.secret.secret_name not in mountable:
            return f'volume with secret.secretName="{v.secret.secret_name}" {tail}'
    for what, c in _containers(pod):
        for e in c.env:
            ref = e.value_from.secret_key_ref
            if e.value_from.HasField("secret_key_ref") and ref.name not in mountable:
                return f'{what} {c.name} with envVar {e.name} referencing secret.secretName="{ref.name}" {tail}'
        for ef in c.env_from:
            if ef.HasField("secret_ref") and ef.secret_ref.name not in mountable:
                return f'{what} {c.name} with envFrom referencing secret.secretName="{ef.secret_ref.name}" {tail}'
    pull = {r.name for r in sa.image_pull_secrets}
    for i, r in enumerate(pod.spec.image_pull_secrets):
        if r.name not in pull:
            return (f'imagePullSecrets[{i}].name="{r.name}" is not allowed because service account {account} does '
                    "not reference that imagePullSecret")
    return None


def _mirror_errors(pod: core_pb2.Pod) -> str | None:
    """Why a mirror pod may not be admitted: it shows a static pod, which the apiserver never gave credentials."""
    if pod.spec.service_account_name:
        return "a mirror pod may not reference service accounts"
    if _secret_names(pod):
        return "a mirror pod may not reference secrets"
    for volume in pod.spec.volumes:
        if volume.HasField("projected"):
            for source in volume.projected.sources:
                if source.HasField("service_account_token"):
                    return "a mirror pod may not use ServiceAccountToken volume projections"
    return None


class ServiceAccount(Plugin):
    name = "ServiceAccount"
    operations = frozenset({CREATE})

    def handles(self, a: Attributes) -> bool:
        return a.operation in self.operations and a.info.kind == "Pod" and not a.subresource

    async def admit(self, a: Attributes) -> None:
        pod: core_pb2.Pod = a.obj
        if MIRROR_ANNOTATION in pod.metadata.annotations:
            return
        spec = pod.spec
        # The deprecated serviceAccount field is the name's older spelling (v1 conversion keeps them equal).
        if not spec.service_account_name:
            spec.service_account_name = spec.service_account or DEFAULT_SERVICE_ACCOUNT
        spec.service_account = spec.service_account_name
        sa = await self._service_account(a, spec.service_account_name)
        if should_automount(sa, pod):
            mount_service_account_token(pod)
        if not spec.image_pull_secrets:  # the account's pull secrets serve its pods that name none
            for ref in sa.image_pull_secrets:
                spec.image_pull_secrets.add(name=ref.name)

    async def validate(self, a: Attributes) -> None:
        pod: core_pb2.Pod = a.obj
        if MIRROR_ANNOTATION in pod.metadata.annotations:
            why = _mirror_errors(pod)
            if why is not None:
                raise self._forbidden(a, why)
            return
        if not pod.spec.service_account_name:
            raise self._forbidden(a, f"no service account specified for pod {a.namespace}/{pod.metadata.name}")
        sa = await self._service_account(a, pod.spec.service_account_name)
        if sa.metadata.annotations.get(ENFORCE_MOUNTABLE_SECRETS, "").lower() in ("1", "t", "true"):
            why = limit_secret_references(sa, pod)
            if why is not None:
                raise self._forbidden(a, why)

    async def _service_account(self, a: Attributes, name: str) -> core_pb2.ServiceAccount:
        tries = DEFAULT_LOOKUPS if name == DEFAULT_SERVICE_ACCOUNT else 1
        for attempt in range(tries):
            if attempt:
                await asyncio.sleep(LOOKUP_INTERVAL)
            try:
                # The lister first, the store when it has none (getServiceAccount upstream).
                sa: core_pb2.ServiceAccount = await self.registry.get("ServiceAccount", a.namespace, name,
                                                                      cached=True)
                return sa
            except errors.NotFound:
                continue
        raise self._forbidden(a, f"error looking up service account {a.namespace}/{name}: "
                                 f'serviceaccount "{name}" not found')

    @staticmethod
    def _forbidden(a: Attributes, why: str) -> StatusError:
        # admission.NewForbidden names the object by its generateName while it has no name yet.
        name = a.name or (a.obj.metadata.generate_name if a.obj is not None else "") or "Unknown"
        return new_forbidden(a.info.resource, a.info.group, name, why)
