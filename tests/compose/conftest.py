"""Images for the container suites, built once per session: the debootstrap base (skipped when it exists) and the
kubemu image on it. `.ci/run` builds both first and names the kubemu image in $KUBEMU_IMAGE; it is then used as
is. Everything here is skipped, with the reason, on a machine without a Docker engine."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.support import REPO

BASE = os.environ.get("KUBEMU_BASE_IMAGE", "kubemu-base:bookworm")


def engine() -> bool:
    return bool(shutil.which("docker")) and subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def image_exists(name: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def images() -> Iterator[dict[str, str]]:
    """Environment naming the images: BASE_IMAGE, REDIS_IMAGE (both the local base: no registry here) and
    KUBEMU_IMAGE."""
    if not engine():
        pytest.skip("no Docker engine on this machine")
    subprocess.run([str(REPO / "deploy" / "base-image"), BASE], check=True, capture_output=True, timeout=900)
    env = {**os.environ, "BASE_IMAGE": BASE, "REDIS_IMAGE": BASE}
    given = os.environ.get("KUBEMU_IMAGE")
    if given and image_exists(given):
        env["KUBEMU_IMAGE"] = given
    else:
        env["KUBEMU_IMAGE"] = "kubemu:test"
        subprocess.run([str(REPO / "deploy" / "build-image")], check=True, capture_output=True, env=env, timeout=900)
    yield env


def apiserver_token(*labels: str, timeout: float = 120) -> str:
    """The bearer token of the kubeconfig the apiserver container made (`kubemu kubeconfig` in it), waiting for the
    container and its file; `labels` pick the container (`com.docker.compose.project=NAME`, ...)."""
    import time

    import yaml

    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        filters = [arg for label in labels for arg in ("--filter", f"label={label}")]
        ids = subprocess.run(["docker", "ps", "-q", *filters], capture_output=True, text=True).stdout.split()
        for cid in ids:
            shown = subprocess.run(["docker", "exec", cid, "kubemu", "kubeconfig"], capture_output=True, text=True)
            last = shown.stderr
            if shown.returncode == 0:
                return str(yaml.safe_load(shown.stdout)["users"][0]["user"]["token"])
        time.sleep(1)
    raise AssertionError(f"no kubeconfig from an apiserver container with {labels} in {timeout}s: {last}")
