"""Pod phase and conditions from container states, exactly as the kubelet computes them upstream
(pkg/kubelet/kubelet_pods.go getPhase, pkg/kubelet/status/generate.go)."""

from __future__ import annotations

from collections.abc import Sequence

from kubemu.api.serialization import set_time
from kubemu.pb import core_pb2


def is_sidecar(c: core_pb2.Container) -> bool:
    return c.HasField("restart_policy") and c.restart_policy == "Always"


def get_phase(pod: core_pb2.Pod, statuses: Sequence[core_pb2.ContainerStatus],
              init_statuses: Sequence[core_pb2.ContainerStatus], pod_is_terminal: bool = False) -> str:
    spec = pod.spec
    by_name = {s.name: s for s in init_statuses}
    pending_initialization = 0
    failed_initialization = 0
    for c in spec.init_containers:
        st = by_name.get(c.name)
        if st is None:
            pending_initialization += 1
            continue
        if is_sidecar(c):
            if not st.state.HasField("running") or not (st.HasField("started") and st.started):
                pending_initialization += 1
            continue
        if st.state.HasField("running"):
            pending_initialization += 1
        elif st.state.HasField("terminated"):
            if st.state.terminated.exit_code != 0:
                failed_initialization += 1
        elif st.state.HasField("waiting"):
            if st.last_state.HasField("terminated"):
                if st.last_state.terminated.exit_code != 0:
                    failed_initialization += 1
            else:
                pending_initialization += 1
        else:
            pending_initialization += 1

    unknown = running = waiting = stopped = succeeded = 0
    by_app = {s.name: s for s in statuses}
    for c in spec.containers:
        st = by_app.get(c.name)
        if st is None:
            unknown += 1
        elif st.state.HasField("running"):
            running += 1
        elif st.state.HasField("terminated"):
            stopped += 1
            if st.state.terminated.exit_code == 0:
                succeeded += 1
        elif st.state.HasField("waiting"):
            if st.last_state.HasField("terminated"):
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1

    if failed_initialization > 0 and spec.restart_policy == "Never":
        return "Failed"
    if waiting > 0 or pending_initialization > 0:
        return "Pending"
    if running > 0 and unknown == 0:
        return "Running"
    if running == 0 and stopped > 0 and unknown == 0:
        if pod_is_terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if spec.restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if spec.restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _set_condition(status: core_pb2.PodStatus, ctype: str, value: str, reason: str = "", message: str = "",
                   now: float = 0.0) -> None:
    """Set a condition; lastTransitionTime moves only when the status changes."""
    cond = next((c for c in status.conditions if c.type == ctype), None)
    if cond is None:
        cond = status.conditions.add(type=ctype)
        set_time(cond.last_transition_time, float(int(now)))
    elif cond.status != value:
        set_time(cond.last_transition_time, float(int(now)))
    cond.status = value
    cond.reason = reason
    cond.message = message


def set_conditions(pod: core_pb2.Pod, status: core_pb2.PodStatus, *, sandbox_ready: bool, now: float) -> None:
    """PodReadyToStartContainers, Initialized, ContainersReady, Ready (PodScheduled stays the scheduler's)."""
    spec = pod.spec
    _set_condition(status, "PodReadyToStartContainers", "True" if sandbox_ready else "False", now=now)

    init_by = {s.name: s for s in status.init_container_statuses}
    incomplete = []
    for c in spec.init_containers:
        st = init_by.get(c.name)
        if is_sidecar(c):
            done = st is not None and st.state.HasField("running") and st.HasField("started") and st.started
        else:
            done = st is not None and st.state.HasField("terminated") and st.state.terminated.exit_code == 0
            if st is not None and not done and status.phase in ("Running", "Succeeded"):
                done = True  # init containers finished earlier (their status may show a later restart)
        if not done:
            incomplete.append(c.name)
    if incomplete and status.phase not in ("Succeeded",):
        _set_condition(status, "Initialized", "False", "ContainersNotInitialized",
                       f"containers with incomplete status: [{' '.join(incomplete)}]", now)
    else:
        _set_condition(status, "Initialized", "True", now=now)

    app_by = {s.name: s for s in status.container_statuses}
    unready = [c.name for c in spec.containers if not (app_by.get(c.name) and app_by[c.name].ready)]
    unready += [c.name for c in spec.init_containers
                if is_sidecar(c) and not (init_by.get(c.name) and init_by[c.name].ready)]
    if status.phase == "Succeeded":
        _set_condition(status, "ContainersReady", "False", "PodCompleted", now=now)
        _set_condition(status, "Ready", "False", "PodCompleted", now=now)
    elif unready:
        msg = f"containers with unready status: [{' '.join(unready)}]"
        _set_condition(status, "ContainersReady", "False", "ContainersNotReady", msg, now)
        _set_condition(status, "Ready", "False", "ContainersNotReady", msg, now)
    else:
        _set_condition(status, "ContainersReady", "True", now=now)
        _set_condition(status, "Ready", "True", now=now)
    order = {"PodReadyToStartContainers": 0, "Initialized": 1, "Ready": 2, "ContainersReady": 3, "PodScheduled": 4}
    conds = sorted(status.conditions, key=lambda c: order.get(c.type, 9))
    copies = [core_pb2.PodCondition() for _ in conds]
    for dst, src in zip(copies, conds, strict=True):
        dst.CopyFrom(src)
    del status.conditions[:]
    status.conditions.extend(copies)
