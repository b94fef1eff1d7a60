"""One worker per pod serialises everything that happens to it: image pulls, init containers in order, native
sidecars, app containers, probes, restarts with CrashLoopBackOff, and termination. It owns the pod's status."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import secrets
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from kubelet import images
from kubelet.object_manager import ObjectError, PodObjects
from kubelet.persistent_volumes import VolumeManager
from kubelet.prober.prober import ProbeTarget
from kubelet.prober.results import Result, ResultsManager, Update
from kubelet.prober.worker import start_probes
from kubelet.runtime.fs import ContainerFS, Mount, Volume, image_root
from kubelet.runtime.net import Network
from kubelet.runtime.shell import ShellContext, run_command
from kubelet.status import get_phase, is_sidecar, set_conditions
from kubelet.volumes import (
    MountError,
    Payload,
    VolumeContext,
    field_path_value,
    is_api_volume,
    payload,
    resource_field_value,
    write_payload,
)
from kubemu.api.quantity import bytes_of
from kubemu.api.serialization import set_time
from kubemu.config import ClusterConfig
from kubemu.pb import core_pb2

log = structlog.get_logger()

ANNOTATION_PREFIX = "sim.kubemu.io/"
PULL_ERROR = ANNOTATION_PREFIX + "image-pull-error"
PULL_SECONDS = ANNOTATION_PREFIX + "image-pull-seconds"
TERMINATION_DELAY = ANNOTATION_PREFIX + "termination-delay"
MEMORY = ANNOTATION_PREFIX + "memory"
CRASH_AFTER = ANNOTATION_PREFIX + "crash-after"
READY_AFTER = ANNOTATION_PREFIX + "ready-after"


_bytes = functools.lru_cache(maxsize=1024)(bytes_of)
_DETACHED: set[asyncio.Future[None]] = set()
"""Side tasks that must outlive the worker that started them (kept referenced until done)."""
CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"
MOUNT_RETRY_INITIAL_SECONDS = 0.5
MOUNT_RETRY_MAX_SECONDS = 122.0
"""The volume manager's retry back-off: 500 ms doubling to 2m2s (exponentialbackoff's durations upstream)."""


@functools.lru_cache(maxsize=4096)
def memory_model(annotation: str, container: str, request: str) -> tuple[int, int]:
    """A container's simulated memory as (start bytes, growth bytes/s), from the pod's `sim.kubemu.io/memory`
    value, else its memory request, else 10Mi. Parsed once per distinct input: the OOM check and the eviction
    manager ask again on every tick."""
    spec = per_container(annotation, container) or ""
    if not spec:
        return (bytes_of(request) if request else 10 * 1024 * 1024), 0
    start, _, rate = spec.partition("+")
    start, rate = start.strip(), rate.strip()
    return (bytes_of(start) if start else 0), (bytes_of(rate[:-2]) if rate.endswith("/s") else 0)


def per_container(value: str, container: str) -> str | None:
    """`a=1,b=2` -> the value for `container`; a bare `3` applies to every container (a named one wins)."""
    bare = None
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, v = item.partition("=")
        if sep and name.strip() == container:
            return v.strip()
        if not sep:
            bare = item
    return bare


@dataclass
class Terminated:
    exit_code: int
    reason: str
    started_at: float
    finished_at: float
    message: str = ""


@dataclass
class ContainerRecord:
    """What the runtime knows of one container: the kubelet's view that the CRI gives upstream."""

    spec: core_pb2.Container
    init: bool
    fs: ContainerFS
    restart_count: int = 0
    state: str = "waiting"  # waiting | running | terminated
    reason: str = ""
    message: str = ""
    started_at: float = 0.0
    terminated: Terminated | None = None
    last_terminated: Terminated | None = None
    ready: bool = False
    started: bool = False
    started_event: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the container counts as started (startup probe passed): liveness and readiness wait on it."""
    ever_started: bool = False
    starting: bool = False
    logs: list[str] = field(default_factory=list)
    log_times: list[float] = field(default_factory=list)
    """When each line of `logs` was written (what `kubectl logs --timestamps` and `--since` read)."""
    previous_logs: list[str] = field(default_factory=list)
    previous_log_times: list[float] = field(default_factory=list)
    log_changed: asyncio.Event = field(default_factory=asyncio.Event)
    listening: set[int] = field(default_factory=set)
    process: asyncio.Task[None] | None = None
    probes: list[asyncio.Task[None]] = field(default_factory=list)
    crashes: int = 0
    backoff_until: float = 0.0
    kill_code: int | None = None
    oom: bool = False
    available_at: float = 0.0
    """Before this time the process is still warming up: probes fail (sim.kubemu.io/ready-after)."""
    container_id: str = ""
    env: dict[str, str] = field(default_factory=dict)
    """The environment this run of the container started with (made once per start, as the runtime's config)."""
    clock: Callable[[], float] = time.time

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def sidecar(self) -> bool:
        return self.init and is_sidecar(self.spec)

    def mark_started(self) -> None:
        self.started = True
        self.started_event.set()

    def append_log(self, line: str) -> None:
        self.logs.append(line)
        self.log_times.append(self.clock())
        if len(self.logs) > 10_000:  # bound memory like the kubelet's log rotation does
            del self.logs[: len(self.logs) - 10_000]
            del self.log_times[: len(self.log_times) - 10_000]
        self.log_changed.set()
        self.log_changed = asyncio.Event()


@dataclass
class KubeletContext:
    """What every pod worker shares: the node, its config, the image cache, the probe results and the ways out."""

    node_name: str
    config: ClusterConfig
    images: images.ImageCache
    host_ip: str
    allocate_ip: Callable[[], str]
    release_ip: Callable[[str], None]
    publish: Callable[[PodWorker], None]
    """Asks the status manager to write this worker's status (coalesced)."""
    event: Callable[[core_pb2.Pod, str, str, str], Coroutine[Any, Any, None]]
    confirm_deletion: Callable[[core_pb2.Pod], Coroutine[Any, Any, None]]
    clock: Callable[[], float] = time.time
    log_context: contextvars.Context | None = None
    """The context (structlog contextvars naming the node) the worker's tasks run in: a process that runs many
    nodes has no single node to bind process-wide."""
    probe_results: ResultsManager = field(default_factory=ResultsManager)
    """The node's probe results: probe workers publish to it, each pod worker consumes its own pod's updates."""
    objects: PodObjects | None = None
    """The ConfigMaps and Secrets the pods reference, watched through the apiserver (None: a kubelet without one
    finds none)."""
    allocatable: Mapping[str, str] = field(default_factory=dict)
    """The node's allocatable resources: the downward API's value of a limit a container does not set."""
    service_account_token: Callable[[core_pb2.Pod, core_pb2.ServiceAccountTokenProjection],
                                    Coroutine[Any, Any, Payload]] | None = None
    """The files of a projected serviceAccountToken source: the TokenRequest API's token for the pod at its path
    (kubelet.py's, from kubelet/token.py's token manager); None writes nothing."""
    volumes: VolumeManager | None = None
    """The node's disk: mounts a pod's claims and hostPath volumes before its containers start."""
    service_env: Callable[[str, bool], dict[str, str]] = lambda namespace, links: {}
    """The service environment variables of a pod in a namespace, with or without its enableServiceLinks."""
    network: Callable[[str, str], Network | None] = lambda namespace, name: None
    """The cluster network as pod namespace/name sees it (wget, curl, nslookup in its containers)."""


class PodWorker:
    def __init__(self, ctx: KubeletContext, pod: core_pb2.Pod, *, static: bool = False,
                 previous: core_pb2.PodStatus | None = None) -> None:
        self.ctx = ctx
        self.pod = pod
        self.static = static
        self.wake = asyncio.Event()
        self.volumes = {v.name: Volume(v.name) for v in pod.spec.volumes}
        self.api_volumes = [v.name for v in pod.spec.volumes if is_api_volume(v)]
        """configMap, secret, downwardAPI and projected volumes: filled before the containers start, refreshed
        every sync period, mounted read-only."""
        self._next_volume_sync = 0.0
        self.records: dict[str, ContainerRecord] = {}
        for c in pod.spec.init_containers:
            self.records[c.name] = ContainerRecord(c, True, self._container_fs(c), clock=ctx.clock)
        for c in pod.spec.containers:
            self.records[c.name] = ContainerRecord(c, False, self._container_fs(c), clock=ctx.clock)
        self.memory_limited = [r for r in self.records.values() if "memory" in r.spec.resources.limits]
        """The containers an OOM kill can stop (a container's resources do not change)."""
        if previous is not None:
            # A restarted kubelet finds the pod's containers gone, as after a reboot: they start again and
            # their restart counts carry on from what the API last heard.
            for st in list(previous.container_statuses) + list(previous.init_container_statuses):
                rec = self.records.get(st.name)
                if rec is not None and (st.state.HasField("running") or st.state.HasField("terminated")):
                    rec.restart_count = st.restart_count + 1
                    rec.ever_started = False
        self.pod_ip = ""
        self.start_time = 0.0
        self.sandbox_ready = False
        self.terminating = False
        self.evicted = ""
        self.finished = asyncio.Event()
        self.status = core_pb2.PodStatus()
        self._task: asyncio.Task[None] | None = None
        self._timers: list[float] = []
        self._background: set[asyncio.Task[None]] = set()
        self._probe_results: asyncio.Task[None] | None = None
        """Consumes the pod's probe results; started with the first probe, so a pod without probes has none."""
        self._running = False
        """Between the `pod.started` and `pod.stopped` log events: each is emitted once per worker."""
        self._abandon_reason: str | None = None
        self.log = log.bind(node=ctx.node_name, pod=f"{pod.metadata.namespace}/{pod.metadata.name}",
                            uid=pod.metadata.uid)

    # -- lifecycle --------------------------------------------------------------------------------

    def _context(self) -> contextvars.Context | None:
        return self.ctx.log_context.copy() if self.ctx.log_context is not None else None

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a side task, keeping a reference so it is not collected mid-flight."""
        task = asyncio.create_task(coro, context=self._context())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @property
    def key(self) -> str:
        return f"{self.pod.metadata.namespace}/{self.pod.metadata.name}"

    def start(self) -> None:
        if self.ctx.objects is not None and not self.static:
            # Static pods cannot reference API objects (upstream's kubelet does not support it).
            self.ctx.objects.register(self.pod, self.wake.set)
        self._task = asyncio.create_task(self._run(), name=f"pod-{self.key}", context=self._context())

    def update(self, pod: core_pb2.Pod) -> None:
        """A newer version of the pod from the API (or the static manifest)."""
        for c in list(pod.spec.containers) + list(pod.spec.init_containers):
            rec = self.records.get(c.name)
            if rec is not None and rec.spec.image != c.image:
                rec.spec = c
                rec.kill_code = 0
                if rec.process is not None and not rec.process.done():
                    # A changed image restarts the container with the new image, as upstream.
                    self._spawn(self._kill(rec, "Killing", f"Container {c.name} definition changed, "
                                           "will be restarted", restart=True))
        self.pod = pod
        self.wake.set()

    def terminate(self) -> None:
        """Stop the pod (deleted in the API, or its static manifest removed)."""
        self.terminating = True
        self.wake.set()

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def abandon(self, reason: str = "abandoned") -> None:
        """Stop everything at once without reporting (the kubelet is shutting down, or the pod was deleted
        without waiting for us)."""
        self._abandon_reason = reason
        if self._task is not None:
            self._task.cancel()
        processes = []
        for rec in self.records.values():
            self._stop_probes(rec)
            if rec.process is not None:
                rec.process.cancel()
                processes.append(rec.process)
        await self.wait()
        await asyncio.gather(*processes, return_exceptions=True)
        self._stopped(reason)

    async def _run(self) -> None:
        try:
            now = self.ctx.clock()
            self.start_time = now
            self._running = True
            self.log.info("pod.started", static=self.static)
            if self.ctx.volumes is not None and not await self.ctx.volumes.mount_until(
                    self.pod, self.volumes, self.wake, lambda: self.terminating or self.pod.metadata.HasField(
                        "deletion_timestamp"), self._publish):
                await self._terminate_all()  # deleted while its claims were not bound yet
                return
            if self.api_volumes:
                # The volumes come before the sandbox (kubelet.SyncPod waits for them before the runtime's
                # SyncPod): no IP and PodReadyToStartContainers False until they are set up.
                self._publish()
                await self._mount_volumes()
            self.pod_ip = self.ctx.allocate_ip()
            self.sandbox_ready = True
            self._publish()
            while True:
                if self.terminating or self.pod.metadata.HasField("deletion_timestamp"):
                    await self._terminate_all()
                    return
                if self.api_volumes and self.ctx.clock() >= self._next_volume_sync:
                    await self._refresh_volumes()
                self._sync()
                self._publish()
                timeout = None
                if self._timers:
                    timeout = max(0.0, min(self._timers) - self.ctx.clock())
                try:
                    await asyncio.wait_for(self.wake.wait(), timeout)
                except TimeoutError:
                    pass
                self.wake.clear()
                now = self.ctx.clock()
                self._timers = [t for t in self._timers if t > now]
        finally:
            if self.ctx.objects is not None and not self.static:
                self._spawn_detached(self.ctx.objects.unregister(self.pod))
            if self._probe_results is not None:
                self._probe_results.cancel()
            self.ctx.probe_results.remove_pod(self.pod.metadata.uid)
            if self._abandon_reason is None:  # abandon() logs once the containers' processes are gone too
                self._stopped("abandoned")
            if self.pod_ip:
                self.ctx.release_ip(self.pod_ip)
            self.finished.set()

    @staticmethod
    def _spawn_detached(coro: Coroutine[Any, Any, None]) -> None:
        """A side task that outlives the worker (the worker's own are cancelled with it)."""
        task = asyncio.ensure_future(coro)
        _DETACHED.add(task)
        task.add_done_callback(_DETACHED.discard)

    # -- volumes ----------------------------------------------------------------------------------

    def _volume_context(self) -> VolumeContext:
        # Static pods cannot reference API objects (upstream's kubelet does not support it): none are found.
        objects = None if self.static else self.ctx.objects

        async def config_map(namespace: str, name: str) -> core_pb2.ConfigMap:
            if objects is None:
                raise ObjectError(f'configmap "{name}" not found', not_found=True)
            return await objects.config_map(namespace, name)

        async def secret(namespace: str, name: str) -> core_pb2.Secret:
            if objects is None:
                raise ObjectError(f'secret "{name}" not found', not_found=True)
            return await objects.secret(namespace, name)

        token = self.ctx.service_account_token
        pod = self.pod

        async def service_account_token(src: core_pb2.ServiceAccountTokenProjection) -> Payload:
            return await token(pod, src) if token is not None else {}

        return VolumeContext(self.pod, config_map, secret, self.ctx.allocatable,
                             service_account_token if token is not None else None)

    async def _set_up_volumes(self) -> list[tuple[str, str]]:
        """Make every API volume's files again and swap them in; the (volume, reason) of those that failed (a
        failed volume keeps what it had)."""
        ctx = self._volume_context()
        failed: list[tuple[str, str]] = []
        for vol in self.pod.spec.volumes:
            if vol.name not in self.api_volumes:
                continue
            try:
                files = await payload(vol, ctx)
            except MountError as e:
                failed.append((vol.name, str(e)))
                continue
            self.volumes[vol.name].fs = write_payload(files)
        return failed

    async def _failed_mount(self, failed: list[tuple[str, str]]) -> None:
        for name, reason in failed:
            message = f'MountVolume.SetUp failed for volume "{name}" : {reason}'
            self.log.info("volume.mount_failed", volume=name, reason=reason)
            await self.ctx.event(self.pod, "Warning", "FailedMount", message)

    async def _mount_volumes(self) -> None:
        """WaitForAttachAndMount: the containers start once every API volume is set up. Until then the pod stays
        ContainerCreating, a FailedMount event names each failure, and the mount is retried with upstream's
        back-off (0.5 s doubling to 2m2s, scaled by the profile), or at once when a referenced object changes."""
        delay = MOUNT_RETRY_INITIAL_SECONDS
        while True:
            if self.terminating or self.pod.metadata.HasField("deletion_timestamp"):
                return
            failed = await self._set_up_volumes()
            if not failed:
                self._next_volume_sync = self.ctx.clock() + self.ctx.config.node.sync_frequency_seconds
                self._timers.append(self._next_volume_sync)
                return
            await self._failed_mount(failed)
            self._publish()
            try:
                await asyncio.wait_for(self.wake.wait(), delay)
            except TimeoutError:
                pass
            self.wake.clear()
            delay = min(delay * 2, max(self.ctx.config.scaled(MOUNT_RETRY_MAX_SECONDS), MOUNT_RETRY_INITIAL_SECONDS))

    async def _refresh_volumes(self) -> None:
        """The periodic sync: the API volumes follow their ConfigMaps, Secrets and the pod's own metadata."""
        failed = await self._set_up_volumes()
        if failed:
            await self._failed_mount(failed)
        self._next_volume_sync = self.ctx.clock() + self.ctx.config.node.sync_frequency_seconds
        self._timers.append(self._next_volume_sync)

    def _stopped(self, reason: str) -> None:
        """`pod.stopped`: every container of the pod has stopped for good (not a restart). Once per worker."""
        if self._running:
            self._running = False
            self.log.info("pod.stopped", static=self.static, reason=reason)

    def _publish(self) -> None:
        self.status = self.compute_status()
        self.ctx.publish(self)

    # -- the sync step ----------------------------------------------------------------------------

    def _phase(self) -> str:
        return get_phase(self.pod, self._statuses(False), self._statuses(True))

    def _sync(self) -> None:
        spec = self.pod.spec
        if self.evicted or (self._phase() in ("Succeeded", "Failed") and not self.static):
            for rec in self.records.values():  # a terminal pod never starts anything again
                if rec.sidecar and rec.state == "running":
                    self._spawn(self._kill(rec, "Killing", f"Stopping container {rec.name}"))
            if not any(rec.state == "running" or rec.starting for rec in self.records.values()):
                self._stopped("evicted" if self.evicted else "completed")
            return
        for c in spec.init_containers:
            rec = self.records[c.name]
            if rec.sidecar:
                if rec.state != "running":
                    self._maybe_start(rec)
                if not (rec.state == "running" and rec.started):
                    return
                continue
            if rec.state == "terminated" and rec.terminated and rec.terminated.exit_code == 0:
                continue
            if rec.starting or rec.state == "running":
                return
            if rec.state == "terminated":
                if spec.restart_policy == "Never":
                    return
            self._maybe_start(rec)
            return
        for c in spec.containers:
            rec = self.records[c.name]
            if rec.starting or rec.state == "running":
                continue
            if rec.state == "terminated" and rec.terminated is not None:
                code = rec.terminated.exit_code
                policy = spec.restart_policy
                if not (policy == "Always" or (policy == "OnFailure" and code != 0)) and not self.static:
                    continue
            self._maybe_start(rec)

    def _backoff_delay(self, rec: ContainerRecord) -> float:
        cfg = self.ctx.config.pod
        if rec.crashes <= 1:
            return 0.0  # the first crash restarts at once
        return float(min(cfg.crash_loop_backoff_initial_seconds * 2 ** (rec.crashes - 2),
                         cfg.crash_loop_backoff_max_seconds))

    def _maybe_start(self, rec: ContainerRecord) -> None:
        if rec.starting:
            return
        now = self.ctx.clock()
        if now < rec.backoff_until:
            if rec.state == "terminated" and rec.terminated is not None:
                delay = self._backoff_delay(rec)
                m = self.pod.metadata
                rec.last_terminated = rec.terminated
                rec.terminated = None
                rec.state, rec.reason = "waiting", "CrashLoopBackOff"
                rec.message = (f"back-off {_duration(delay)} restarting failed container={rec.name} "
                               f"pod={m.name}_{m.namespace}({m.uid})")
                self._spawn(self.ctx.event(self.pod, "Warning", "BackOff",
                                           "Back-off restarting failed container "
                                           f"{rec.name} in pod {m.name}_{m.namespace}({m.uid})"))
            self._timers.append(rec.backoff_until)
            return
        rec.starting = True
        self._spawn(self._start(rec))

    # -- containers -------------------------------------------------------------------------------

    def _container_fs(self, c: core_pb2.Container) -> ContainerFS:
        mounts: dict[str, Mount] = {}
        for m in c.volume_mounts:
            vol = self.volumes.get(m.name)
            if vol is not None:
                read_only = m.read_only or m.name in self.api_volumes
                mounts[m.mount_path] = Mount(vol, read_only=read_only, sub_path=m.sub_path)
        return ContainerFS(image_root(self.pod.spec.hostname or self.pod.metadata.name), mounts)

    def _field_value(self, path: str) -> str:
        """podFieldSelectorRuntimeValue: a fieldRef's value for an env var."""
        fields = {
            "spec.nodeName": self.ctx.node_name,
            "spec.serviceAccountName": self.pod.spec.service_account_name,
            "status.podIP": self.pod_ip,
            "status.podIPs": self.pod_ip,
            "status.hostIP": self.ctx.host_ip,
            "status.hostIPs": self.ctx.host_ip,
        }
        if path in fields:
            return fields[path]
        try:
            return field_path_value(self.pod, path)
        except MountError:
            return ""

    async def _key_ref(self, kind: str, name: str, key: str, optional: bool,
                       cache: dict[tuple[str, str], Mapping[str, bytes] | None]) -> bytes | None:
        """The value of a configMapKeyRef or secretKeyRef; None when an optional reference finds nothing. Raises
        ObjectError with upstream's message otherwise."""
        data = await self._object_data(kind, name, optional, cache)
        if data is None:
            return None
        if key not in data:
            if optional:
                return None
            label = "ConfigMap" if kind == "configmap" else "Secret"
            raise ObjectError(f"couldn't find key {key} in {label} {self.pod.metadata.namespace}/{name}",
                              not_found=False)
        return data[key]

    async def _object_data(self, kind: str, name: str, optional: bool,
                           cache: dict[tuple[str, str], Mapping[str, bytes] | None]) -> Mapping[str, bytes] | None:
        """A referenced ConfigMap's data (as bytes) or Secret's data, read once per container start."""
        if (kind, name) in cache:
            return cache[(kind, name)]
        ns, objects = self.pod.metadata.namespace, self.ctx.objects
        data: Mapping[str, bytes] | None
        try:
            if objects is None or self.static:
                raise ObjectError(f'{kind} "{name}" not found', not_found=True)
            if kind == "configmap":
                data = {k: v.encode() for k, v in (await objects.config_map(ns, name)).data.items()}
            else:
                data = dict((await objects.secret(ns, name)).data)
        except ObjectError as e:
            if not (e.not_found and optional):
                raise
            data = None
        cache[(kind, name)] = data
        return data

    async def _make_env(self, c: core_pb2.Container) -> dict[str, str]:
        """makeEnvironmentVariables: envFrom first (each key with its prefix), then env, whose entries override
        them; `$(VAR)` in a value expands to what is defined before it. Raises ObjectError when a referenced
        ConfigMap, Secret or key is missing and not optional (the container's CreateContainerConfigError)."""
        env: dict[str, str] = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                               "HOSTNAME": self.pod.metadata.name}
        env.update(self._service_env())
        cache: dict[tuple[str, str], Mapping[str, bytes] | None] = {}
        for ef in c.env_from:
            if ef.HasField("config_map_ref"):
                data = await self._object_data("configmap", ef.config_map_ref.name, ef.config_map_ref.optional,
                                               cache)
            elif ef.HasField("secret_ref"):
                data = await self._object_data("secret", ef.secret_ref.name, ef.secret_ref.optional, cache)
            else:
                continue
            # Keys are taken as they are: with RelaxedEnvironmentVariableValidation (GA) the kubelet no longer
            # skips names that are not C identifiers.
            for k, v in (data or {}).items():
                env[ef.prefix + k] = v.decode(errors="replace")
        for e in c.env:
            if e.value or not e.HasField("value_from"):
                env[e.name] = _expand(e.value, env)
                continue
            src = e.value_from
            if src.HasField("field_ref"):
                env[e.name] = self._field_value(src.field_ref.field_path)
            elif src.HasField("resource_field_ref"):
                try:
                    env[e.name] = resource_field_value(self.pod, src.resource_field_ref, c.name, self.ctx.allocatable)
                except MountError:
                    env[e.name] = ""
            elif src.HasField("config_map_key_ref") or src.HasField("secret_key_ref"):
                kind = "configmap" if src.HasField("config_map_key_ref") else "secret"
                ref = src.config_map_key_ref if kind == "configmap" else src.secret_key_ref
                value = await self._key_ref(kind, ref.name, ref.key, ref.optional, cache)
                if value is None:
                    continue
                env[e.name] = value.decode(errors="replace")
            else:
                env[e.name] = ""
        return env

    def _service_env(self) -> dict[str, str]:
        """The service environment variables (pkg/kubelet/envvars), first: `$(VAR)` in the container's env may use
        them, and its own entries (envFrom, env) win over them."""
        spec = self.pod.spec
        links = not spec.HasField("enable_service_links") or spec.enable_service_links
        return self.ctx.service_env(self.pod.metadata.namespace, links)

    def network(self) -> Network | None:
        """The cluster network as this pod sees it."""
        return self.ctx.network(self.pod.metadata.namespace, self.pod.metadata.name)

    def _waiting_reason(self) -> str:
        return "PodInitializing" if self.pod.spec.init_containers else "ContainerCreating"

    async def _start(self, rec: ContainerRecord) -> None:
        c = rec.spec
        ann = self.pod.metadata.annotations
        try:
            if rec.state != "waiting" or rec.reason not in ("CrashLoopBackOff",):
                if not rec.ever_started:
                    rec.state, rec.reason, rec.message = "waiting", self._waiting_reason(), ""
            failing = {s.strip() for s in ann.get(PULL_ERROR, "").split(",") if s.strip()}
            seconds = _seconds(ann.get(PULL_SECONDS)) if PULL_SECONDS in ann else None
            policy = c.image_pull_policy or "IfNotPresent"
            present = self.ctx.images.present(c.image)
            if policy == "Always" or not present:
                await self.ctx.event(self.pod, "Normal", "Pulling", f'Pulling image "{c.image}"')
            t0 = self.ctx.clock()
            try:
                pulled = await self.ctx.images.ensure(c.image, policy, failing, seconds)
            except images.PullError as e:
                rec.state, rec.reason, rec.message = "waiting", e.reason, e.message
                await self.ctx.event(self.pod, "Warning", "Failed",
                                     f'Failed to pull image "{c.image}": {e.message}')
                await self.ctx.event(self.pod, "Warning", "Failed", f"Error: {e.reason}")
                self._publish()
                delay = min(self.ctx.config.pod.crash_loop_backoff_initial_seconds * 2 ** rec.crashes,
                            self.ctx.config.pod.crash_loop_backoff_max_seconds)
                rec.crashes += 1
                rec.backoff_until = self.ctx.clock() + delay
                if e.reason == "ErrImagePull":
                    # Between tries the reason is ImagePullBackOff, as upstream.
                    await asyncio.sleep(min(delay, 1.0) * 0.5)
                    rec.reason, rec.message = "ImagePullBackOff", f'Back-off pulling image "{c.image}"'
                    self._publish()
                self._timers.append(rec.backoff_until)
                return
            if pulled:
                took = max(self.ctx.clock() - t0, 0.0)
                await self.ctx.event(self.pod, "Normal", "Pulled",
                                     f'Successfully pulled image "{c.image}" in {took:.3f}s')
            elif policy != "Always":
                await self.ctx.event(self.pod, "Normal", "Pulled",
                                     f'Container image "{c.image}" already present on machine')
            try:
                env = await self._make_env(c)
            except ObjectError as e:
                # generateContainerConfig failed: the container waits, and is tried again on the pod worker's
                # back-off, or at once when a referenced object changes.
                rec.state, rec.reason, rec.message = "waiting", CREATE_CONTAINER_CONFIG_ERROR, e.message
                self.log.info("container.config_error", container=c.name, error=e.message)
                await self.ctx.event(self.pod, "Warning", "Failed", f"Error: {e.message}")
                self._publish()
                rec.backoff_until = self.ctx.clock() + self.ctx.config.pod.crash_loop_backoff_initial_seconds
                self._timers.append(rec.backoff_until)
                return
            if rec.ever_started:
                rec.restart_count += 1
                rec.previous_logs, rec.previous_log_times = rec.logs, rec.log_times
                rec.logs, rec.log_times = [], []
            if rec.terminated is not None:
                rec.last_terminated = rec.terminated
            rec.terminated = None
            rec.env = env
            rec.container_id = "kubemu://" + secrets.token_hex(32)
            await self.ctx.event(self.pod, "Normal", "Created", f"Created container: {c.name}")
            rec.state, rec.reason, rec.message = "running", "", ""
            rec.started_at = self.ctx.clock()
            rec.ever_started = True
            rec.kill_code = None
            rec.oom = False
            rec.started = False
            rec.started_event = asyncio.Event()
            if not c.HasField("startup_probe"):
                rec.mark_started()
            ready_after = _seconds(per_container(ann.get(READY_AFTER, ""), c.name))
            rec.available_at = rec.started_at + ready_after
            rec.ready = (rec.started and not c.HasField("readiness_probe") and (not rec.init or rec.sidecar)
                         and ready_after == 0)
            if ready_after > 0 and not c.HasField("readiness_probe") and (not rec.init or rec.sidecar):
                self._spawn(self._ready_later(rec, rec.started_at, ready_after))
            rec.listening = set()
            rec.process = asyncio.create_task(self._run_process(rec))
            await self.ctx.event(self.pod, "Normal", "Started", f"Started container {c.name}")
            rec.probes = start_probes(self.ctx.probe_results, self._probe_target(rec))
            if rec.probes:
                self._consume_probe_results()
        finally:
            rec.starting = False
            self.wake.set()

    def _probe_target(self, rec: ContainerRecord) -> ProbeTarget:
        """What the probe workers of this run of the container need, and nothing of the worker itself."""
        return ProbeTarget(
            pod_uid=self.pod.metadata.uid, pod_name=self.pod.metadata.name, pod_ip=self.pod_ip, container=rec,
            container_id=rec.container_id, available_at=rec.available_at, started=rec.started_event,
            env=lambda: rec.env, clock=self.ctx.clock, event=self._pod_event, network=self.network(),
        )

    async def _pod_event(self, type: str, reason: str, message: str) -> None:
        await self.ctx.event(self.pod, type, reason, message)

    def _consume_probe_results(self) -> None:
        if self._probe_results is None and not self.finished.is_set():
            # Opened before any probe worker runs, so that no update is published to a pod with no channel.
            updates = self.ctx.probe_results.updates(self.pod.metadata.uid)
            self._probe_results = asyncio.create_task(self._probe_result_loop(updates), context=self._context())

    async def _probe_result_loop(self, updates: asyncio.Queue[Update]) -> None:
        while True:
            self._on_probe_result(await updates.get())

    def _on_probe_result(self, update: Update) -> None:
        """A probe result changed: liveness (or startup) failure restarts the container, readiness sets its Ready,
        startup success lets liveness and readiness begin. Upstream's sync loop does this on the prober's updates."""
        rec = self.records.get(update.key.container)
        if rec is None or rec.container_id != update.container_id or rec.state != "running":
            return  # found on an earlier run of the container, or the container has stopped since
        ok = update.result is Result.SUCCESS
        kind = update.key.kind
        if kind == "readiness":
            if rec.ready != ok:
                rec.ready = ok
                self.wake.set()
        elif kind == "startup" and ok:
            rec.mark_started()
            if not rec.spec.HasField("readiness_probe") and (not rec.init or rec.sidecar):
                rec.ready = True
            self.wake.set()
        elif kind == "startup":
            self._spawn(self.kill_for_probe(rec, f"Container {rec.name} failed startup probe, will be restarted"))
        elif not ok:
            self._spawn(self.kill_for_probe(rec, f"Container {rec.name} failed liveness probe, will be restarted"))

    async def _ready_later(self, rec: ContainerRecord, started_at: float, delay: float) -> None:
        await asyncio.sleep(delay)
        if rec.state == "running" and rec.started_at == started_at and rec.started:
            rec.ready = True
            self.wake.set()

    def _default_ports(self, rec: ContainerRecord) -> set[int]:
        ports = {p.container_port for p in rec.spec.ports}
        if not ports:
            default = images.SERVER_IMAGES.get(images.image_name(rec.spec.image))
            if default:
                ports = {default}
        return ports

    async def _serve_forever(self, rec: ContainerRecord) -> int:
        rec.listening = self._default_ports(rec)
        await asyncio.Event().wait()
        return 0

    async def _unknown_command(self, argv: list[str], ctx: ShellContext) -> int:
        """An image's own program: servers run until stopped and listen; anything else succeeds at once."""
        name = argv[0].rsplit("/", 1)[-1] if argv else ""
        servers = {"nginx", "httpd", "apache2", "redis-server", "memcached", "postgres", "mysqld", "caddy",
                   "node", "python", "python3", "java", "gunicorn", "uvicorn", "http-server", "etcd", "agnhost"}
        for key in self.records:
            rec = self.records[key]
            if rec.fs is ctx.fs and name in servers:
                return await self._serve_forever(rec)
        return 0

    async def _run_process(self, rec: ContainerRecord) -> None:
        c = rec.spec
        # $(VAR) in command and args expands to the container's environment (ExpandContainerCommandAndArgs).
        argv = [_expand(a, rec.env) for a in list(c.command) + list(c.args)]
        ctx = ShellContext(
            fs=rec.fs, env=dict(rec.env), stdout=rec.append_log, now=self.ctx.clock,
            hostname=self.pod.spec.hostname or self.pod.metadata.name,
            cwd=c.working_dir or "/", unknown_command=self._unknown_command, network=self.network(),
        )
        if not c.command and (not c.args or images.image_name(c.image) in images.SERVER_IMAGES):
            main = self._serve_forever(rec)
        else:
            main = run_command(argv, ctx)
        crash = per_container(self.pod.metadata.annotations.get(CRASH_AFTER, ""), c.name)
        try:
            if crash:
                code = await self._crash_after(rec, main, crash)
            else:
                code = await main
        except asyncio.CancelledError:
            code = rec.kill_code if rec.kill_code is not None else 137
            if code == 143 and rec.listening:
                code = 0  # a server shuts down cleanly on SIGTERM
        except Exception as e:  # an interpreter bug must not take the kubelet down: the container errors
            rec.append_log(f"kubemu: {e}")
            self.log.warning("container.crashed", container=c.name, error=str(e))
            code = 128
        now = self.ctx.clock()
        rec.listening = set()
        rec.ready = False
        self._stop_probes(rec, current=asyncio.current_task())
        reason = "Completed" if code == 0 else ("OOMKilled" if rec.oom else "Error")
        rec.terminated = Terminated(code, reason, rec.started_at, now)
        rec.state, rec.reason, rec.message = "terminated", "", ""
        if code != 0 or not rec.init:
            if now - rec.started_at >= self.ctx.config.pod.crash_loop_backoff_reset_seconds:
                rec.crashes = 0
            rec.crashes += 1
            rec.backoff_until = now + self._backoff_delay(rec)
        self.log.info("container.exited", container=c.name, exit_code=code, restarts=rec.restart_count)
        self.wake.set()

    async def _crash_after(self, rec: ContainerRecord, main: Coroutine[Any, Any, int], spec: str) -> int:
        """sim.kubemu.io/crash-after `DURATION[:CODE]`: the process dies with CODE (default 1) after DURATION."""
        duration, _, code_text = spec.partition(":")
        runner = asyncio.ensure_future(main)
        try:
            done, _ = await asyncio.wait({runner}, timeout=_seconds(duration))
            if runner in done:
                return runner.result()
            rec.append_log(f"kubemu: simulated crash after {duration} (sim.kubemu.io/crash-after)")
            return int(code_text) if code_text.strip().lstrip("-").isdigit() else 1
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)

    def _stop_probes(self, rec: ContainerRecord, current: asyncio.Task[Any] | None = None) -> None:
        for t in rec.probes:
            if t is not current:
                t.cancel()
        rec.probes = []
        self.ctx.probe_results.remove(self.pod.metadata.uid, rec.name)

    def grace_seconds(self) -> float:
        meta, spec = self.pod.metadata, self.pod.spec
        if meta.HasField("deletion_grace_period_seconds"):
            return float(meta.deletion_grace_period_seconds)
        if spec.HasField("termination_grace_period_seconds"):
            return float(spec.termination_grace_period_seconds)
        return float(self.ctx.config.pod.termination_grace_period_seconds)

    async def _kill(self, rec: ContainerRecord, reason: str, message: str, *, restart: bool = False,
                    code: int = 143, grace: float | None = None) -> None:
        """Stop a container: "SIGTERM", then "SIGKILL" at the grace deadline. A simulated process exits on
        SIGTERM at once unless the pod asks for `sim.kubemu.io/termination-delay`; one that would take longer
        than the grace period is killed at the deadline with exit code 137."""
        proc = rec.process
        if proc is None or proc.done():
            return
        await self.ctx.event(self.pod, "Normal", reason, message)
        grace = self.grace_seconds() if grace is None else grace
        delay = _seconds(self.pod.metadata.annotations.get(TERMINATION_DELAY))
        if delay > 0 and grace > 0:
            done, _ = await asyncio.wait({proc}, timeout=min(delay, grace))
            if done:
                self.wake.set()
                return
        if rec.kill_code is None:
            rec.kill_code = 137 if delay > grace else code
        proc.cancel()
        await asyncio.gather(proc, return_exceptions=True)
        if restart:
            rec.backoff_until = 0.0
        self.wake.set()

    async def oom_kill(self, rec: ContainerRecord) -> None:
        """The container passed its memory limit: the kernel kills it (exit 137, OOMKilled), no grace."""
        rec.oom = True
        rec.kill_code = 137
        await self._kill(rec, "OOMKilling", f"Memory cgroup out of memory: Killed process of container {rec.name}",
                         code=137, grace=0)

    def memory_usage(self, rec: ContainerRecord) -> int:
        """Simulated memory use in bytes: `sim.kubemu.io/memory` (`[container=]START[+RATE/s]`), else the
        container's memory request, else 10Mi."""
        if rec.state != "running":
            return 0
        start, growth = memory_model(self.pod.metadata.annotations.get(MEMORY, ""), rec.name,
                                     rec.spec.resources.requests.get("memory", ""))
        if growth:
            return start + int(growth * max(0.0, self.ctx.clock() - rec.started_at))
        return start

    def check_memory(self) -> None:
        """OOM-kill containers past their memory limit."""
        for rec in self.memory_limited:
            if rec.state == "running" and not rec.oom and \
                    self.memory_usage(rec) > _bytes(rec.spec.resources.limits["memory"]):
                self._spawn(self.oom_kill(rec))

    async def evict(self, message: str) -> None:
        """Node-pressure eviction: kill every container at once; the pod fails with reason Evicted."""
        self.evicted = message
        await asyncio.gather(*(self._kill(r, "Killing", f"Stopping container {r.name}", grace=0)
                               for r in self.records.values()))
        self.wake.set()

    async def kill_for_probe(self, rec: ContainerRecord, message: str) -> None:
        await self._kill(rec, "Killing", message, code=137)

    async def _terminate_all(self) -> None:
        apps = [r for r in self.records.values() if not r.init]
        sidecars = [r for r in self.records.values() if r.init]
        for group in (apps, list(reversed(sidecars))):  # sidecars stop after the main containers
            await asyncio.gather(*(self._kill(r, "Killing", f"Stopping container {r.name}") for r in group))
        for rec in self.records.values():
            self._stop_probes(rec)
        self.terminating = True
        self._stopped("deleted" if self.pod.metadata.HasField("deletion_timestamp") else "removed")
        self._publish()
        if not self.static:
            await self.ctx.confirm_deletion(self.pod)

    # -- status -----------------------------------------------------------------------------------

    def _container_status(self, rec: ContainerRecord) -> core_pb2.ContainerStatus:
        st = core_pb2.ContainerStatus(name=rec.name, image=rec.spec.image, restart_count=rec.restart_count,
                                      ready=rec.ready)
        st.image_id = "kubemu://" + images.normalize(rec.spec.image)
        if rec.container_id:
            st.container_id = rec.container_id
        if rec.state == "running":
            set_time(st.state.running.started_at, float(int(rec.started_at)))
            st.started = rec.started
        elif rec.state == "terminated" and rec.terminated is not None:
            _fill_terminated(st.state.terminated, rec.terminated, rec.container_id)
            st.started = False
        else:
            st.state.waiting.reason = rec.reason or self._waiting_reason()
            if rec.message:
                st.state.waiting.message = rec.message
            st.started = False
        if rec.last_terminated is not None:
            _fill_terminated(st.last_state.terminated, rec.last_terminated, "")
        return st

    def _statuses(self, init: bool) -> list[core_pb2.ContainerStatus]:
        specs = self.pod.spec.init_containers if init else self.pod.spec.containers
        return [self._container_status(self.records[c.name]) for c in specs if c.name in self.records]

    def compute_status(self) -> core_pb2.PodStatus:
        st = core_pb2.PodStatus()
        st.init_container_statuses.extend(self._statuses(True))
        st.container_statuses.extend(self._statuses(False))
        terminal = self.terminating and not self.static and all(
            r.state != "running" for r in self.records.values())
        st.phase = get_phase(self.pod, st.container_statuses, st.init_container_statuses, terminal)
        if self.pod.status.phase in ("Succeeded", "Failed") and not self.static:
            st.phase = self.pod.status.phase  # a terminal phase never changes back
        if self.evicted:
            st.phase, st.reason, st.message = "Failed", "Evicted", self.evicted
        st.host_ip = self.ctx.host_ip
        st.host_ips.add(ip=self.ctx.host_ip)
        if self.pod_ip:
            st.pod_ip = self.pod_ip
            st.pod_ips.add(ip=self.pod_ip)
        if self.start_time:
            set_time(st.start_time, float(int(self.start_time)))
        st.qos_class = self.pod.status.qos_class
        scheduled = next((c for c in self.pod.status.conditions if c.type == "PodScheduled"), None)
        if scheduled is None:
            # The kubelet marks a pod it runs as scheduled (a pod created with nodeName never met a scheduler).
            scheduled = next((c for c in self.status.conditions if c.type == "PodScheduled"), None)
        if scheduled is None:
            scheduled = core_pb2.PodCondition(type="PodScheduled", status="True")
            set_time(scheduled.last_transition_time, float(int(self.ctx.clock())))
        st.conditions.add().CopyFrom(scheduled)
        for c in self.status.conditions:  # keep transition times from our last computation
            if c.type != "PodScheduled":
                st.conditions.add().CopyFrom(c)
        set_conditions(self.pod, st, sandbox_ready=self.sandbox_ready and not terminal, now=self.ctx.clock())
        return st


def _fill_terminated(dst: core_pb2.ContainerStateTerminated, t: Terminated, cid: str) -> None:
    dst.exit_code = t.exit_code
    dst.reason = t.reason
    if t.message:
        dst.message = t.message
    set_time(dst.started_at, float(int(t.started_at)))
    set_time(dst.finished_at, float(int(t.finished_at)))
    if cid:
        dst.container_id = cid


def _duration(seconds: float) -> str:
    """Go's time.Duration String for whole seconds: 10s, 1m20s, 5m0s."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s}s"
    h, m = divmod(m, 60)
    return f"{h}h{m}m{s}s"


def _seconds(text: str | None) -> float:
    if not text:
        return 0.0
    t = text.strip()
    try:
        if t.endswith("ms"):
            return float(t[:-2]) / 1000
        if t.endswith("s"):
            return float(t[:-1])
        if t.endswith("m"):
            return float(t[:-1]) * 60
        return float(t)
    except ValueError:
        return 0.0


def _expand(value: str, env: dict[str, str]) -> str:
    """$(VAR) references to earlier variables, as the kubelet expands env values."""
    out = []
    i = 0
    while i < len(value):
        if value.startswith("$$", i):
            out.append("$")
            i += 2
        elif value.startswith("$(", i) and ")" in value[i:]:
            end = value.index(")", i)
            name = value[i + 2:end]
            out.append(env.get(name, f"$({name})"))
            i = end + 1
        else:
            out.append(value[i])
            i += 1
    return "".join(out)
