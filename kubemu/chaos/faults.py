"""Fault and workload specs as `kubemu chaos run` takes them, and the seeded schedule drawn from them.

    --fault kill-kubelet:every=20s                 SIGKILL a kubelet, start it again after `for` (default 5s)
    --fault pause-kubelet:every=30s,for=15s        SIGSTOP a kubelet, SIGCONT it after `for`
    --fault kill-apiserver:every=45s               SIGKILL an apiserver replica, restart after `for` (default 2s)
    --fault kill-leader:scheduler,every=60s        SIGKILL the leading scheduler (or controllers), restart after `for`
    --fault kill-redis:every=60s,for=3s            SIGKILL Redis, restart after `for` (needs a durable Redis)
    --fault partition-kubelet:every=30s,for=10s    cut a kubelet off the network for `for` (compose only)
    --workload deployment:web:replicas=12
    --workload job:batch:completions=20,parallelism=4

Every fault also takes `start=` (first injection, default `every`). The schedule is a pure function of the
specs, the duration and the seed; which replica a fault hits is drawn from the same generator when it fires, so
a run against the same cluster layout replays exactly.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

FAULTS: dict[str, tuple[str, float]] = {
    # fault -> (role it hits, default `for`)
    "kill-kubelet": ("kubelet", 5.0),
    "pause-kubelet": ("kubelet", 10.0),
    "kill-apiserver": ("apiserver", 2.0),
    "kill-leader": ("", 2.0),
    "kill-redis": ("redis", 2.0),
    "partition-kubelet": ("kubelet", 10.0),
}
LEADER_ROLES = ("scheduler", "controllers")
WORKLOADS = ("deployment", "job")
NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class SpecError(ValueError):
    """A bad --fault/--workload/--duration value; the message names the flag and the problem."""


def parse_duration(text: str, what: str) -> float:
    """Go-style durations as kubectl takes them: 90s, 2m, 1m30s, 500ms, 1h."""
    m = re.fullmatch(r"((\d+(\.\d+)?)(ms|s|m|h))+", text.strip())
    if not m:
        raise SpecError(f'{what}: invalid duration "{text}" (use e.g. 20s, 2m, 1m30s, 500ms)')
    total = 0.0
    for number, _, unit in re.findall(r"(\d+(\.\d+)?)(ms|s|m|h)", text):
        total += float(number) * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]
    return total


@dataclass(frozen=True)
class FaultSpec:
    fault: str
    every: float
    duration: float
    """How long it lasts: the delay before the restart, resume or heal."""
    start: float
    role: str
    """The component whose processes it hits (kubelet, apiserver, scheduler, controllers, redis)."""
    text: str


@dataclass(frozen=True)
class WorkloadSpec:
    kind: str
    """deployment or job."""
    name: str
    replicas: int = 0
    completions: int = 0
    parallelism: int = 0
    text: str = ""


def parse_fault(text: str) -> FaultSpec:
    what = f'--fault "{text}"'
    name, _, rest = text.partition(":")
    if name not in FAULTS:
        raise SpecError(f'{what}: unknown fault "{name}" (known: {", ".join(FAULTS)})')
    role, default_for = FAULTS[name]
    params: dict[str, str] = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            if name == "kill-leader" and not role:
                if key not in LEADER_ROLES:
                    raise SpecError(f'{what}: kill-leader takes one of {", ".join(LEADER_ROLES)}, not "{key}"')
                role = key
                continue
            raise SpecError(f'{what}: expected KEY=VALUE, got "{item}"')
        if key not in ("every", "for", "start"):
            raise SpecError(f'{what}: unknown parameter "{key}" (known: every, for, start)')
        params[key] = value
    if name == "kill-leader" and not role:
        raise SpecError(f"{what}: kill-leader needs the component: kill-leader:scheduler,every=60s")
    if "every" not in params:
        raise SpecError(f"{what}: every= is required, e.g. {name}:every=30s")
    every = parse_duration(params["every"], f"{what}: every")
    if every <= 0:
        raise SpecError(f"{what}: every must be more than 0")
    lasts = parse_duration(params["for"], f"{what}: for") if "for" in params else default_for
    start = parse_duration(params["start"], f"{what}: start") if "start" in params else every
    return FaultSpec(name, every, lasts, start, role, text)


def parse_workload(text: str) -> WorkloadSpec:
    what = f'--workload "{text}"'
    parts = text.split(":")
    if len(parts) not in (2, 3) or parts[0] not in WORKLOADS:
        raise SpecError(f"{what}: expected deployment:NAME[:replicas=N] or job:NAME[:completions=N,parallelism=N]")
    kind, name = parts[0], parts[1]
    if not NAME_RE.match(name) or len(name) > 50:
        raise SpecError(f'{what}: invalid name "{name}": a lowercase RFC 1123 label of at most 50 characters')
    known = {"deployment": ("replicas",), "job": ("completions", "parallelism")}[kind]
    values: dict[str, int] = {}
    for item in filter(None, (parts[2] if len(parts) == 3 else "").split(",")):
        key, eq, value = item.partition("=")
        if not eq or key not in known:
            raise SpecError(f'{what}: unknown parameter "{item}" (known: {", ".join(known)})')
        if not value.isdigit() or int(value) < 1:
            raise SpecError(f'{what}: {key} must be a whole number of at least 1, got "{value}"')
        values[key] = int(value)
    if kind == "deployment":
        return WorkloadSpec(kind, name, replicas=values.get("replicas", 3), text=text)
    completions = values.get("completions", 5)
    return WorkloadSpec(kind, name, completions=completions,
                        parallelism=values.get("parallelism", min(4, completions)), text=text)


@dataclass(frozen=True)
class Scheduled:
    at: float
    """Seconds after the run starts."""
    spec: FaultSpec
    pick: float = field(compare=False)
    """In [0, 1): which of the candidate targets (sorted by name) it hits."""


def schedule(specs: list[FaultSpec], duration: float, seed: int) -> list[Scheduled]:
    """Every injection within `duration`, in time order: each spec fires at start, start+every, ... with up to
    10% jitter either way, drawn from `seed`."""
    rng = random.Random(seed)
    out: list[Scheduled] = []
    for spec in specs:
        t = spec.start
        while t < duration:
            jitter = (rng.random() * 2 - 1) * 0.1 * spec.every
            at = min(max(0.0, t + jitter), duration)
            out.append(Scheduled(round(at, 3), spec, rng.random()))
            t += spec.every
    out.sort(key=lambda s: (s.at, s.spec.text))
    return out
