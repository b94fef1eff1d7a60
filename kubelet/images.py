"""The node's image cache and simulated pulls: imagePullPolicy decides whether to pull, each pull takes the
configured simulated time, and pulls of images named in `sim.kubemu.io/image-pull-error` fail."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

SERVER_IMAGES = {
    "nginx": 80, "httpd": 80, "apache": 80, "caddy": 80, "traefik": 80, "redis": 6379, "memcached": 11211,
    "postgres": 5432, "mysql": 3306, "mariadb": 3306, "mongo": 27017, "rabbitmq": 5672, "elasticsearch": 9200,
    "registry": 5000, "etcd": 2379, "kuard": 8080, "echoserver": 8080, "agnhost": 8080, "hello-app": 8080,
    "serve_hostname": 9376, "serve-hostname": 9376,
}
"""Images whose default process is a server: it listens on its declared ports, else on this one."""


def image_name(image: str) -> str:
    """`docker.io/library/nginx:1.27@sha...` -> `nginx`."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def normalize(image: str) -> str:
    """The name the cache keys by, with an implied `:latest`."""
    ref = image.split("@", 1)[0]
    return ref if ":" in ref.rsplit("/", 1)[-1] else f"{ref}:latest"


class PullError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class ImageCache:
    pull_seconds: float
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    images: dict[str, int] = field(default_factory=dict)
    """Pulled image -> simulated size in bytes (reported in Node.status.images)."""

    def present(self, image: str) -> bool:
        return normalize(image) in self.images

    async def ensure(self, image: str, policy: str, failing: set[str], pull_seconds: float | None = None) -> bool:
        """Make the image present per policy; returns True when a pull happened. Raises PullError."""
        key = normalize(image)
        if policy == "Never":
            if key not in self.images:
                raise PullError(
                    "ErrImageNeverPull",
                    f'Container image "{image}" is not present with pull policy of Never',
                )
            return False
        if policy != "Always" and key in self.images:
            return False
        await self.sleep(self.pull_seconds if pull_seconds is None else pull_seconds)
        if image in failing or key in failing or image_name(image) in failing:
            raise PullError(
                "ErrImagePull",
                f'failed to pull and unpack image "{key}": failed to resolve reference "{key}": '
                f"{key}: not found",
            )
        self.images[key] = 10_000_000 + 1_000 * len(key)
        return True
