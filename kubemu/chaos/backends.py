"""Where faults land: the processes of a local cluster from `kubemu up` (signals), or the containers of the compose
deployment (docker kill / pause / network disconnect). Both answer the same questions: which processes play a
role, which nodes a kubelet runs, who leads, and where each kubelet's structured log is."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from kubemu.cli import cluster as launcher


class BackendError(Exception):
    """The fault cannot be applied here; the message says why."""


class Backend(Protocol):
    kind: str
    apiserver: str
    durable: bool
    token: str | None
    """The bearer token the apiserver's token file holds (None when it has none)."""

    def members(self, role: str) -> list[str]:
        """Names of the processes/containers that play `role` (kubelet, apiserver, scheduler, controllers, redis)."""
        ...

    def nodes_of(self, name: str) -> list[str]: ...

    def identity_matches(self, name: str, identity: str) -> bool:
        """Whether a leader-election identity (`host_pid_uuid`) belongs to that process."""
        ...

    def can_partition(self) -> bool: ...

    def exited(self, name: str) -> bool:
        """Whether a process that should run has exited and nothing will restart it but us (compose's restart
        policies restart its containers themselves)."""
        ...

    async def kill(self, name: str) -> None: ...

    async def restart(self, name: str) -> None: ...

    async def pause(self, name: str) -> None: ...

    async def resume(self, name: str) -> None: ...

    async def partition(self, name: str) -> None: ...

    async def heal(self, name: str) -> None: ...

    def kubelet_log_lines(self, name: str) -> Iterator[str]:
        """The kubelet's JSON log lines, oldest first."""
        ...

    def static_pod_dirs(self) -> dict[str, Path]:
        """Per node, a folder a static pod manifest can be dropped into (empty when the backend cannot)."""
        ...


def parse_log_time(stamp: str) -> float:
    """structlog's ISO timestamps ("2026-11-30T06:13:09.448188Z") as epoch seconds."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


# ---- local processes ------------------------------------------------------------------------------


@dataclass
class LocalBackend:
    state: Path
    kind: str = "local"

    def __post_init__(self) -> None:
        try:
            c = launcher.read_cluster(self.state)
        except launcher.LauncherError as e:
            raise BackendError(f"{e}; start one with 'kubemu up -d' (or pass --compose PROJECT)") from None
        self.apiserver = c.apiserver
        self.durable = c.durable
        found = launcher.local_access(self.state)
        self.token = found.token if found else None

    def _procs(self) -> list[launcher.Proc]:
        return launcher.read_cluster(self.state).processes

    def members(self, role: str) -> list[str]:
        return sorted(p.name for p in self._procs() if (p.component or p.name.rstrip("-0123456789")) == role)

    def nodes_of(self, name: str) -> list[str]:
        for p in self._procs():
            if p.name == name:
                return list(p.nodes) or ([f"node-{name.rsplit('-', 1)[1]}"] if p.name.startswith("kubelet-") else [])
        return []

    def identity_matches(self, name: str, identity: str) -> bool:
        parts = identity.split("_")
        p = launcher.read_cluster(self.state).find(name)
        return len(parts) >= 2 and parts[1] == str(p.pid)

    def can_partition(self) -> bool:
        return False

    def exited(self, name: str) -> bool:
        p = launcher.read_cluster(self.state).find(name)
        return p.state == launcher.RUNNING and not launcher.is_alive(p)

    async def _signal(self, name: str, sig: signal.Signals) -> None:
        try:
            await asyncio.to_thread(launcher.signal_process, self.state, name, sig)
        except launcher.LauncherError as e:
            raise BackendError(str(e)) from None

    async def kill(self, name: str) -> None:
        await self._signal(name, signal.SIGKILL)
        # Wait until it is really gone, so a restart does not find it "already running".
        proc = launcher.read_cluster(self.state).find(name)
        for _ in range(200):
            if not launcher.is_alive(proc):
                return
            await asyncio.sleep(0.025)

    async def restart(self, name: str) -> None:
        try:
            await asyncio.to_thread(launcher.start_process, self.state, name)
        except launcher.LauncherError as e:
            raise BackendError(str(e)) from None

    async def pause(self, name: str) -> None:
        await self._signal(name, signal.SIGSTOP)

    async def resume(self, name: str) -> None:
        await self._signal(name, signal.SIGCONT)

    async def partition(self, name: str) -> None:
        raise BackendError("partition faults need the compose backend (--compose PROJECT): local processes share "
                           "one network namespace")

    async def heal(self, name: str) -> None:
        raise BackendError("partition faults need the compose backend")

    def kubelet_log_lines(self, name: str) -> Iterator[str]:
        p = launcher.read_cluster(self.state).find(name)
        with contextlib.suppress(OSError), open(p.log, errors="replace") as f:
            yield from f

    def static_pod_dirs(self) -> dict[str, Path]:
        return {n: self.state / "static-pods" / n for k in self.members("kubelet") for n in self.nodes_of(k)}


# ---- compose containers ---------------------------------------------------------------------------


def _docker(*args: str, check: bool = True) -> str:
    r = subprocess.run(["docker", *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise BackendError(f"docker {' '.join(args)}: {r.stderr.strip() or r.stdout.strip()}")
    return r.stdout


@dataclass
class ComposeBackend:
    project: str
    apiserver: str
    token: str | None = None
    kind: str = "compose"
    durable: bool = True
    """deploy/docker-compose.yml runs Redis with appendfsync always."""

    def __post_init__(self) -> None:
        if not self._containers():
            raise BackendError(f'no containers of compose project "{self.project}" (docker compose -p NAME; the '
                               "default project of deploy/docker-compose.yml is deploy)")
        self._hosts: dict[str, str] = {}
        self._nets: dict[str, list[str]] = {}

    def _containers(self, service: str = "") -> list[tuple[str, str]]:
        """(container name, service) of every container of the project, running or not."""
        args = ["ps", "-a", "--filter", f"label=com.docker.compose.project={self.project}"]
        if service:
            args += ["--filter", f"label=com.docker.compose.service={service}"]
        args += ["--format", '{{.Names}}\t{{.Label "com.docker.compose.service"}}']
        out = _docker(*args)
        return sorted(tuple(line.split("\t", 1)) for line in out.splitlines() if "\t" in line)  # type: ignore[misc]

    def members(self, role: str) -> list[str]:
        return [name for name, _ in self._containers(role)]

    def _hostname(self, name: str) -> str:
        if name not in self._hosts:
            self._hosts[name] = _docker("inspect", "-f", "{{.Config.Hostname}}", name).strip()
        return self._hosts[name]

    def nodes_of(self, name: str) -> list[str]:
        return [self._hostname(name)] if name in self.members("kubelet") else []

    def identity_matches(self, name: str, identity: str) -> bool:
        return identity.split("_")[0] == self._hostname(name)

    def can_partition(self) -> bool:
        return True

    def exited(self, name: str) -> bool:
        return False  # restart: unless-stopped in deploy/docker-compose.yml

    async def kill(self, name: str) -> None:
        await asyncio.to_thread(_docker, "kill", name)

    async def restart(self, name: str) -> None:
        await asyncio.to_thread(_docker, "start", name)

    async def pause(self, name: str) -> None:
        await asyncio.to_thread(_docker, "pause", name)

    async def resume(self, name: str) -> None:
        await asyncio.to_thread(_docker, "unpause", name)

    async def partition(self, name: str) -> None:
        info = json.loads(await asyncio.to_thread(_docker, "inspect", "-f", "{{json .NetworkSettings.Networks}}",
                                                  name))
        self._nets[name] = sorted(info)
        for net in self._nets[name]:
            await asyncio.to_thread(_docker, "network", "disconnect", net, name)

    async def heal(self, name: str) -> None:
        for net in self._nets.pop(name, []):
            # Reconnected under its service name, so the others resolve it as before.
            service = dict(self._containers()).get(name, "")
            await asyncio.to_thread(_docker, "network", "connect", "--alias", service, net, name)

    def kubelet_log_lines(self, name: str) -> Iterator[str]:
        r = subprocess.run(["docker", "logs", name], capture_output=True, text=True)
        yield from r.stdout.splitlines()
        yield from r.stderr.splitlines()

    def static_pod_dirs(self) -> dict[str, Path]:
        return {}  # deploy/static-pods is mounted read-only; its node-agent pod is the static pod checked
