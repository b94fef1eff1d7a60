"""ServiceAccount tokens for the pods of a node, as upstream's pkg/kubelet/token: each projected volume's
`serviceAccountToken` source is a token the kubelet asks the TokenRequest API for, bound to the pod, cached and
asked for again before 80% of its lifetime has passed (or after a day), and written at its path in the volume."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import structlog

from kubelet.runtime.fs import FileSystem, normpath
from kubemu.api.serialization import time_value
from kubemu.client.client import ServiceAccountClient
from kubemu.pb import authentication_pb2, core_pb2

log = structlog.get_logger()

MAX_TTL = 24 * 60 * 60.0
"""A token older than a day is asked for again whatever its lifetime."""
MAX_JITTER = 10.0
"""Up to this many seconds earlier, so that the pods of a node do not all ask at once."""
REFRESH_FRACTION = 0.2
"""A token is renewed once less than this part of its lifetime is left (upstream: 80% used)."""
DEFAULT_EXPIRATION_SECONDS = 3600
"""ServiceAccountTokenProjection's default expirationSeconds."""


class TokenError(Exception):
    """The token of a projected source could not be had; the message is the kubelet's FailedMount words."""

    def __init__(self, volume: str, why: str) -> None:
        super().__init__(f'MountVolume.SetUp failed for volume "{volume}" : failed to fetch token: {why}')
        self.volume = volume


@dataclass(frozen=True)
class Source:
    """One serviceAccountToken source of one projected volume of a pod."""

    volume: str
    path: str
    audience: str
    expiration_seconds: int


def token_sources(pod: core_pb2.Pod) -> Iterator[Source]:
    """The serviceAccountToken sources of the pod's projected volumes, in order."""
    for volume in pod.spec.volumes:
        if not volume.HasField("projected"):
            continue
        for source in volume.projected.sources:
            if source.HasField("service_account_token"):
                t = source.service_account_token
                yield Source(volume.name, t.path, t.audience,
                             t.expiration_seconds if t.HasField("expiration_seconds") else DEFAULT_EXPIRATION_SECONDS)


class TokenManager:
    """The node's token cache (upstream's token.Manager): one token per ServiceAccount, audience, lifetime and
    bound pod, renewed when `requires_refresh` says so."""

    def __init__(self, service_accounts: ServiceAccountClient, clock: Callable[[], float] = time.time) -> None:
        self.api = service_accounts
        self.clock = clock
        self._cache: dict[tuple[str, str, str, int, str], authentication_pb2.TokenRequest] = {}

    @staticmethod
    def _key(pod: core_pb2.Pod, source: Source) -> tuple[str, str, str, int, str]:
        return (pod.metadata.namespace, pod.spec.service_account_name, source.audience, source.expiration_seconds,
                pod.metadata.uid)

    def refresh_at(self, tr: authentication_pb2.TokenRequest, jitter: float = 0.0) -> float:
        """When a token is to be asked for again: 20% of its lifetime before it ends, or a day after it was made,
        `jitter` seconds earlier."""
        exp = time_value(tr.status.expiration_timestamp)
        lifetime = float(tr.spec.expiration_seconds)
        issued = exp - lifetime
        return min(issued + MAX_TTL, exp - lifetime * REFRESH_FRACTION) - jitter

    def requires_refresh(self, tr: authentication_pb2.TokenRequest) -> bool:
        return self.clock() >= self.refresh_at(tr, random.random() * MAX_JITTER)

    async def token(self, pod: core_pb2.Pod, source: Source) -> authentication_pb2.TokenRequest:
        """The cached token for the source, or a new one when there is none or it is due; a failed renewal of a
        token that has not expired yet keeps the old one, as upstream."""
        key = self._key(pod, source)
        cached = self._cache.get(key)
        if cached is not None and not self.requires_refresh(cached):
            return cached
        req = authentication_pb2.TokenRequest()
        if source.audience:
            req.spec.audiences.append(source.audience)
        req.spec.expiration_seconds = source.expiration_seconds
        ref = req.spec.bound_object_ref
        ref.api_version, ref.kind, ref.name, ref.uid = "v1", "Pod", pod.metadata.name, pod.metadata.uid
        try:
            tr = await self.api.create_token(pod.spec.service_account_name, pod.metadata.namespace, req)
        except Exception as e:
            if cached is not None and self.clock() < time_value(cached.status.expiration_timestamp):
                log.warning("token.refresh_failed", pod=f"{pod.metadata.namespace}/{pod.metadata.name}",
                            error=str(e))
                return cached
            raise TokenError(source.volume, getattr(e, "message", None) or str(e)) from e
        self._cache[key] = tr
        log.info("token.fetched", pod=f"{pod.metadata.namespace}/{pod.metadata.name}",
                 serviceaccount=pod.spec.service_account_name, volume=source.volume)
        return tr

    def next_refresh(self, pod: core_pb2.Pod) -> float | None:
        """The earliest time one of the pod's cached tokens is due, None when it has none."""
        times = [self.refresh_at(tr) for key, tr in self._cache.items() if key[4] == pod.metadata.uid]
        return min(times) if times else None

    def forget(self, pod_uid: str) -> None:
        """DeleteServiceAccountToken: the pod is gone, and so are its tokens."""
        for key in [k for k in self._cache if k[4] == pod_uid]:
            del self._cache[key]

    async def project(self, pod: core_pb2.Pod, volumes: dict[str, FileSystem]) -> None:
        """Write every serviceAccountToken source of the pod at its path in its volume (`volumes` by name);
        raises TokenError for the first one that cannot be had (the others are still written)."""
        failed: TokenError | None = None
        for source in token_sources(pod):
            fs = volumes.get(source.volume)
            if fs is None:
                continue
            try:
                tr = await self.token(pod, source)
            except TokenError as e:
                failed = failed or e
                continue
            write_file(fs, source.path, tr.status.token.encode())
        if failed is not None:
            raise failed


def write_file(fs: FileSystem, path: str, data: bytes) -> None:
    """`data` at `path` (relative to the volume's root) with its folders, replacing what was there."""
    full = normpath(path, "/")
    parent = full.rsplit("/", 1)[0] or "/"
    if parent != "/":
        fs.mkdir(parent, parents=True)
    fs.write(full, data)
