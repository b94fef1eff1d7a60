"""ServiceAccount tokens for the pods of a node, as upstream's pkg/kubelet/token: each projected volume's
`serviceAccountToken` source is a token the kubelet asks the TokenRequest API for, bound to the pod, cached and
asked for again before 80% of its lifetime has passed (or after a day); the volume's periodic sync
(kubelet/volumes.py, through kubelet.py) writes it at its path."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import structlog

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
    """The token of a projected source could not be had; the message is the kubelet's reason (what follows
    `MountVolume.SetUp failed for volume "v" : `)."""

    def __init__(self, why: str) -> None:
        super().__init__(f"failed to fetch token: {why}")


@dataclass(frozen=True)
class Source:
    """One serviceAccountToken source of a projected volume."""

    path: str
    audience: str
    expiration_seconds: int

    @classmethod
    def of(cls, projection: core_pb2.ServiceAccountTokenProjection) -> Source:
        seconds = projection.expiration_seconds if projection.HasField("expiration_seconds") else \
            DEFAULT_EXPIRATION_SECONDS
        return cls(projection.path, projection.audience, seconds)


def token_sources(pod: core_pb2.Pod) -> Iterator[Source]:
    """The serviceAccountToken sources of the pod's projected volumes, in order."""
    for volume in pod.spec.volumes:
        if volume.HasField("projected"):
            for source in volume.projected.sources:
                if source.HasField("service_account_token"):
                    yield Source.of(source.service_account_token)


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
        self._cleanup()
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
            raise TokenError(getattr(e, "message", None) or str(e)) from e
        self._cache[key] = tr
        log.info("token.fetched", pod=f"{pod.metadata.namespace}/{pod.metadata.name}",
                 serviceaccount=pod.spec.service_account_name, path=source.path)
        return tr

    def next_refresh(self, pod: core_pb2.Pod) -> float | None:
        """The earliest time one of the pod's cached tokens is due, None when it has none."""
        times = [self.refresh_at(tr) for key, tr in self._cache.items() if key[4] == pod.metadata.uid]
        return min(times) if times else None

    def forget(self, pod_uid: str) -> None:
        """DeleteServiceAccountToken: the pod is gone, and so are its tokens."""
        for key in [k for k in self._cache if k[4] == pod_uid]:
            del self._cache[key]

    def _cleanup(self) -> None:
        """Drop the tokens that have expired (upstream's manager does so every minute): their pods are gone or have
        newer ones."""
        now = self.clock()
        for key in [k for k, tr in self._cache.items() if time_value(tr.status.expiration_timestamp) <= now]:
            del self._cache[key]
