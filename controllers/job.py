"""The Job controller: run pods from the template until `completions` succeed, at most `parallelism` at once;
retry failures after 10 s, 20 s, 40 s ... (6 min cap) up to backoffLimit; fail on activeDeadlineSeconds; and
the TTL-after-finished controller that deletes finished Jobs (pkg/controller/job, pkg/controller/ttlafterfinished)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog

from controllers.expectations import UIDTrackingExpectations
from controllers.podcontrol import create_pods, delete_pods, pod_from_template
from controllers.replicaset import controller_ref, is_pod_active, is_pod_ready
from controllers.workqueue import RateLimitingQueue, run_workers
from kubemu.api.serialization import set_time, time_value
from kubemu.client import errors
from kubemu.client.client import Client, retry_on_conflict
from kubemu.client.events import EventRecorder
from kubemu.client.informer import Informer
from kubemu.pb import batch_pb2, core_pb2

log = structlog.get_logger()

INITIAL_BACKOFF = 10.0
MAX_BACKOFF = 360.0
MAX_POD_CREATE_PER_SYNC = 500
"""MaxPodCreateDeletePerSync: at most this many pod creates per sync; the pods' events bring the next sync."""


def finished(job: batch_pb2.Job) -> str:
    """"Complete" or "Failed" when the Job has finished, else ""."""
    for c in job.status.conditions:
        if c.type in ("Complete", "Failed") and c.status == "True":
            return str(c.type)
    return ""


def finish_time(job: batch_pb2.Job) -> float:
    for c in job.status.conditions:
        if c.type in ("Complete", "Failed") and c.status == "True":
            return time_value(c.last_transition_time)
    return 0.0


class JobController:
    def __init__(self, client: Client, jobs: Informer[batch_pb2.Job], pods: Informer[core_pb2.Pod],
                 recorder: EventRecorder, clock: Callable[[], float] = time.time, time_scale: float = 1.0) -> None:
        self.client = client
        self.jobs = jobs
        self.pods = pods
        self.recorder = recorder
        self.clock = clock
        self.scale = time_scale
        self.queue = RateLimitingQueue(name="job")
        self.expectations = UIDTrackingExpectations()
        self.log = log.bind(component="controllers", controller="job")
        jobs.add_handler(self._enqueue, lambda o, n: self._enqueue(n), self._enqueue)
        pods.add_handler(self._pod_changed, lambda o, n: self._pod_changed(n), self._pod_deleted)

    def _enqueue(self, job: Any) -> None:
        self.queue.add(f"{job.metadata.namespace}/{job.metadata.name}")

    def _owner_key(self, pod: core_pb2.Pod) -> str | None:
        ref = controller_ref(pod)
        return f"{pod.metadata.namespace}/{ref.name}" if ref is not None and ref.kind == "Job" else None

    def _pod_changed(self, pod: core_pb2.Pod) -> None:
        key = self._owner_key(pod)
        if key is None:
            return
        if pod.metadata.HasField("deletion_timestamp"):
            self.expectations.deletion_observed(key, pod.metadata.uid)
        else:
            self.expectations.creation_observed(key)
        self.queue.add(key)

    def _pod_deleted(self, pod: core_pb2.Pod) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.deletion_observed(key, pod.metadata.uid)
            self.queue.add(key)

    async def run(self) -> None:
        await run_workers(self.queue, self.sync, 2,
                          on_error=lambda k, e: self.log.warning("sync.failed", object=k, error=str(e)))

    def _pods(self, job: batch_pb2.Job) -> list[core_pb2.Pod]:
        return [p for p in self.pods.store.by_index("namespace", job.metadata.namespace)
                if (ref := controller_ref(p)) is not None and ref.uid == job.metadata.uid]

    async def sync(self, key: str) -> None:
        job = self.jobs.store.get(key)
        if job is None or job.metadata.HasField("deletion_timestamp") or finished(job):
            return
        pods = self._pods(job)
        active = [p for p in pods if is_pod_active(p)]
        succeeded = sum(1 for p in pods if p.status.phase == "Succeeded")
        failed = sum(1 for p in pods if p.status.phase == "Failed")
        if job.spec.template.spec.restart_policy == "OnFailure":
            failed_for_backoff = failed + sum(s.restart_count for p in active for s in p.status.container_statuses)
        else:
            failed_for_backoff = failed
        now = self.clock()
        start = time_value(job.status.start_time) or now
        st = batch_pb2.JobStatus()
        st.CopyFrom(job.status)
        if not job.status.HasField("start_time"):
            set_time(st.start_time, float(int(now)))
        spec = job.spec
        parallelism = spec.parallelism if spec.HasField("parallelism") else 1
        completions = spec.completions if spec.HasField("completions") else None
        backoff_limit = spec.backoff_limit if spec.HasField("backoff_limit") else 6
        failure: tuple[str, str] | None = None
        if spec.HasField("active_deadline_seconds") and now - start >= spec.active_deadline_seconds:
            failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
        elif failed_for_backoff > backoff_limit:
            failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        done = (completions is not None and succeeded >= completions) or (
            completions is None and succeeded > 0 and not active)
        if spec.HasField("suspend") and spec.suspend:
            await self._delete_pods(job, key, active)
            active = []
            self._condition(st, "Suspended", "True", "JobSuspended", "Job suspended", now)
        elif failure is not None:
            await self._delete_pods(job, key, active)
            active = []
            self._condition(st, "FailureTarget", "True", *failure, now)
            self._condition(st, "Failed", "True", *failure, now)
            await self.recorder.event(job, "Warning", failure[0], failure[1])
            self.log.info("job.failed", job=key, reason=failure[0])
        elif done:
            await self._delete_pods(job, key, active)
            active = []
            self._condition(st, "SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of "
                            "succeeded pods", now)
            self._condition(st, "Complete", "True", "CompletionsReached", "Reached expected number of succeeded "
                            "pods", now)
            set_time(st.completion_time, float(int(now)))
            await self.recorder.event(job, "Normal", "Completed", "Job completed")
            self.log.info("job.completed", job=key, succeeded=succeeded)
        else:
            for c in st.conditions:
                if c.type == "Suspended" and c.status == "True":
                    c.status, c.reason, c.message = "False", "JobResumed", "Job resumed"
                    set_time(c.last_transition_time, float(int(now)))
            want = parallelism if completions is None else min(parallelism, completions - succeeded)
            if self.expectations.satisfied(key):
                active = await self._manage(job, key, active, want, failed, pods, now)
        st.active = len(active)
        st.succeeded = succeeded
        st.failed = failed
        st.ready = sum(1 for p in active if is_pod_ready(p))
        st.terminating = sum(1 for p in pods if p.metadata.HasField("deletion_timestamp"))
        if st.SerializeToString(deterministic=True) != job.status.SerializeToString(deterministic=True):
            async def write() -> None:
                cur = await self.client.jobs.get(job.metadata.name, job.metadata.namespace)
                cur.status.CopyFrom(st)
                await self.client.jobs.update_status(cur)

            await retry_on_conflict(write)
        if spec.HasField("active_deadline_seconds") and not finished(job) and failure is None and not done:
            self.queue.add_after(key, max(0.0, start + spec.active_deadline_seconds - now) + 0.01)

    async def _manage(self, job: batch_pb2.Job, key: str, active: list[core_pb2.Pod], want: int, failed: int,
                      pods: list[core_pb2.Pod], now: float) -> list[core_pb2.Pod]:
        if len(active) > want:
            extra = sorted(active, key=lambda p: -time_value(p.metadata.creation_timestamp))[: len(active) - want]
            await self._delete_pods(job, key, extra)
            return [p for p in active if p not in extra]
        missing = want - len(active)
        if missing <= 0:
            return active
        if failed:
            # Retry after 10 s, 20 s, 40 s ... from the last failure (pods' finish times), capped at 6 min.
            last = max((time_value(s.state.terminated.finished_at) for p in pods if p.status.phase == "Failed"
                        for s in p.status.container_statuses), default=0.0) or now
            delay = min(INITIAL_BACKOFF * 2 ** (failed - 1), MAX_BACKOFF) * self.scale
            if now < last + delay:
                self.queue.add_after(key, last + delay - now)
                return active
        missing = min(missing, MAX_POD_CREATE_PER_SYNC)
        self.expectations.expect_creations(key, missing)
        # Slow start, as upstream's manageJob: batches of 1, 2, 4, ..., each batch's pods at once (here one
        # CreateMany), and no further batch after one in which a create failed.
        pos, batch = 0, 1
        while pos < missing:
            size = min(batch, missing - pos)
            results = await create_pods(self.client, self.recorder, job, [
                pod_from_template(job.spec.template, job, "batch/v1", "Job") for _ in range(size)])
            error: errors.ApiError | None = None
            for result in results:
                if isinstance(result, errors.ApiError):
                    error = error or result  # the sync fails with the first, as upstream's errorFromChannel
                    self.expectations.lower_expectations(key, 1, 0)
                else:
                    active.append(result)
            pos += size
            if error is not None:
                # The pods never tried are not expected either; the sync fails and is retried with back-off.
                self.expectations.lower_expectations(key, missing - pos, 0)
                raise error
            batch *= 2
        return active

    async def _delete_pods(self, job: batch_pb2.Job, key: str, pods: list[core_pb2.Pod]) -> None:
        if not pods:
            return
        self.expectations.expect_deletions(key, {p.metadata.uid for p in pods})
        error = await delete_pods(self.client, self.recorder, job, pods,
                                  lambda p: self.expectations.deletion_observed(key, p.metadata.uid))
        if error is not None:
            raise error

    @staticmethod
    def _condition(st: batch_pb2.JobStatus, ctype: str, status: str, reason: str, message: str, now: float) -> None:
        c = next((c for c in st.conditions if c.type == ctype), None)
        if c is None:
            c = st.conditions.add(type=ctype)
        if c.status != status:
            set_time(c.last_transition_time, float(int(now)))
        set_time(c.last_probe_time, float(int(now)))
        c.status, c.reason, c.message = status, reason, message


class TTLAfterFinishedController:
    """Deletes a finished Job (and, through the garbage collector, its pods) ttlSecondsAfterFinished later."""

    def __init__(self, client: Client, jobs: Informer[batch_pb2.Job], clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.jobs = jobs
        self.clock = clock
        self.queue = RateLimitingQueue(name="ttl-after-finished")
        self.log = log.bind(component="controllers", controller="ttl-after-finished")
        jobs.add_handler(self._enqueue, lambda o, n: self._enqueue(n), None)

    def _enqueue(self, job: batch_pb2.Job) -> None:
        if job.spec.HasField("ttl_seconds_after_finished") and finished(job):
            self.queue.add(f"{job.metadata.namespace}/{job.metadata.name}")

    async def run(self) -> None:
        await run_workers(self.queue, self.sync, 1)

    async def sync(self, key: str) -> None:
        job = self.jobs.store.get(key)
        if job is None or not finished(job) or not job.spec.HasField("ttl_seconds_after_finished"):
            return
        expire = finish_time(job) + job.spec.ttl_seconds_after_finished
        now = self.clock()
        if now < expire:
            self.queue.add_after(key, expire - now)
            return
        try:
            await self.client.jobs.delete(job.metadata.name, job.metadata.namespace, uid=job.metadata.uid,
                                          propagation_policy="Background")
        except (errors.NotFound, errors.Conflict):
            return
        self.log.info("job.expired", job=key)
