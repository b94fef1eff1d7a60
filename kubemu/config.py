"""The cluster config: every timing of every process, with upstream's names and defaults, read from one YAML file.

The `fast` profile divides the durations so a demo or a chaos test sees a node failure handled in seconds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class NodeTimings:
    lease_duration_seconds: float = 40.0
    """Lease duration of a node's Lease in kube-node-lease (kubelet nodeLeaseDurationSeconds)."""
    lease_renew_interval_seconds: float = 10.0
    """How often a kubelet renews its Lease (a quarter of the duration upstream)."""
    node_status_update_frequency_seconds: float = 10.0
    """How often a kubelet computes node status (kubelet nodeStatusUpdateFrequency)."""
    node_status_report_frequency_seconds: float = 300.0
    """How often it posts unchanged status (kubelet nodeStatusReportFrequency)."""
    node_monitor_period_seconds: float = 5.0
    """How often the node lifecycle controller checks nodes (--node-monitor-period)."""
    node_monitor_grace_period_seconds: float = 50.0
    """Time without a heartbeat before a node is Unknown (--node-monitor-grace-period, v1.32)."""
    node_startup_grace_period_seconds: float = 60.0
    """Grace for a node that never reported (--node-startup-grace-period)."""
    sync_frequency_seconds: float = 60.0
    """How often a kubelet syncs each running pod again (kubelet syncFrequency): the delay within which a changed
    ConfigMap or Secret reaches the files of the volumes that mount it."""


@dataclass(frozen=True)
class PodTimings:
    default_toleration_seconds: int = 300
    """tolerationSeconds of the not-ready/unreachable tolerations added by DefaultTolerationSeconds."""
    termination_grace_period_seconds: int = 30
    """Default spec.terminationGracePeriodSeconds."""
    crash_loop_backoff_initial_seconds: float = 10.0
    """First CrashLoopBackOff delay; doubles per crash."""
    crash_loop_backoff_max_seconds: float = 300.0
    """Cap of the CrashLoopBackOff delay (kubelet MaxContainerBackOff)."""
    crash_loop_backoff_reset_seconds: float = 600.0
    """Running this long without a crash resets the back-off."""
    image_pull_seconds: float = 1.0
    """Simulated time to pull an image that is not on the node (sim.kubemu.io/image-pull-seconds per pod)."""
    probe_period_seconds: int = 10
    probe_timeout_seconds: int = 1
    probe_success_threshold: int = 1
    probe_failure_threshold: int = 3


@dataclass(frozen=True)
class StoreConfig:
    watch_history: int = 10_000
    """Events kept per kind's stream before trimming; a watch from before them gets OUT_OF_RANGE."""
    event_ttl_seconds: float = 3600.0
    """How long an Event is kept after its last write (kube-apiserver's --event-ttl, 1h)."""


@dataclass(frozen=True)
class ClusterConfig:
    profile: str = "default"
    time_scale: float = 1.0
    """Every simulated duration is multiplied by this (the fast profile uses 0.1)."""
    node: NodeTimings = field(default_factory=NodeTimings)
    pod: PodTimings = field(default_factory=PodTimings)
    store: StoreConfig = field(default_factory=StoreConfig)

    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale


PROFILES = ("default", "fast")


class ConfigError(ValueError):
    """A cluster config that cannot be used; the message names the file and the field."""


def profile(name: str) -> ClusterConfig:
    """The named timing profile. `fast` divides node and back-off timings by ten; API defaults stay upstream's."""
    if name == "default":
        return ClusterConfig()
    if name == "fast":
        n = NodeTimings()
        scaled = {f.name: getattr(n, f.name) / 10 for f in dataclasses.fields(n)}
        # A changed ConfigMap should reach a demo's (or a test's) mounted file in about a second, not six.
        scaled["sync_frequency_seconds"] = 1.0
        p = PodTimings()
        return ClusterConfig(
            profile="fast",
            time_scale=0.1,
            node=NodeTimings(**scaled),
            pod=dataclasses.replace(
                p,
                crash_loop_backoff_initial_seconds=p.crash_loop_backoff_initial_seconds / 10,
                crash_loop_backoff_max_seconds=p.crash_loop_backoff_max_seconds / 10,
                crash_loop_backoff_reset_seconds=p.crash_loop_backoff_reset_seconds / 10,
                image_pull_seconds=p.image_pull_seconds / 10,
            ),
        )
    raise ConfigError(f'unknown profile "{name}": expected one of {", ".join(PROFILES)}')


def _merge(base: Any, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{path or 'config'}: expected a mapping, got {type(data).__name__}")
    known = {f.name: f for f in dataclasses.fields(base)}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in known:
            raise ConfigError(f'{where}: unknown field (known: {", ".join(sorted(known))})')
        current = getattr(base, key)
        if dataclasses.is_dataclass(current):
            changes[key] = _merge(current, value, where)
        elif isinstance(current, bool) or not isinstance(value, type(current) | int):
            if not (isinstance(current, str) and isinstance(value, str)):
                raise ConfigError(f"{where}: expected {type(current).__name__}, got {value!r}")
            changes[key] = value
        else:
            changes[key] = type(current)(value)
    return dataclasses.replace(base, **changes)


def load(path: str | Path | None = None, profile_name: str = "default") -> ClusterConfig:
    """The profile, overridden by the YAML file at `path` (whose own `profile:` key picks the base)."""
    if path is None:
        return profile(profile_name)
    text = Path(path).read_text()
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top")
    base = profile(str(data.get("profile", profile_name)))
    try:
        return _merge(base, {k: v for k, v in data.items() if k != "profile"}, "")  # type: ignore[no-any-return]
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def dump(config: ClusterConfig) -> str:
    return yaml.safe_dump(dataclasses.asdict(config), sort_keys=False)
