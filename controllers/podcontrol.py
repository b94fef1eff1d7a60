"""What the workload controllers share to make and remove their pods (upstream's
pkg/controller/controller_utils.go): a pod from a template (GetPodFromTemplate), the creation of a batch of them
(RealPodControl.CreatePods, one goroutine per pod upstream, here one CreateMany per batch) and their deletion, all
at once (DeletePod, a goroutine each), each pod's outcome recorded as an Event on its owner."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog

from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.client.events import EventRecorder
from kubemu.pb import core_pb2

log = structlog.get_logger()


def pod_from_template(template: core_pb2.PodTemplateSpec, owner: Any, api_version: str, kind: str) -> core_pb2.Pod:
    """GetPodFromTemplate: the template's labels, annotations, finalizers and spec, `<owner>-` as generateName,
    and the owner as controller."""
    pod = core_pb2.Pod()
    pod.metadata.generate_name = f"{owner.metadata.name}-"
    pod.metadata.namespace = owner.metadata.namespace
    pod.metadata.labels.update(template.metadata.labels)
    pod.metadata.annotations.update(template.metadata.annotations)
    pod.metadata.finalizers.extend(template.metadata.finalizers)
    pod.metadata.owner_references.add(api_version=api_version, kind=kind, name=owner.metadata.name,
                                      uid=owner.metadata.uid, controller=True, block_owner_deletion=True)
    pod.spec.CopyFrom(template.spec)
    return pod


async def create_pods(client: Client, recorder: EventRecorder, owner: Any,
                      pods: list[core_pb2.Pod]) -> list[core_pb2.Pod | errors.ApiError]:
    """Create one slow-start batch at once: per pod, in order, the created pod (a SuccessfulCreate Event on the
    owner) or the error its create ended with (a FailedCreate Event naming it). When the call itself fails,
    every create in it failed with that error."""
    try:
        results = await client.pods.create_many(pods)
    except errors.ApiError as e:
        results = [e] * len(pods)
    owner_key = f"{owner.metadata.namespace}/{owner.metadata.name}"
    for result in results:
        if isinstance(result, errors.ApiError):
            await recorder.event(owner, "Warning", "FailedCreate", f"Error creating: {result.message}")
            log.warning("pod.create_failed", component="controllers", owner=owner_key, error=result.message)
        else:
            await recorder.event(owner, "Normal", "SuccessfulCreate", f"Created pod: {result.metadata.name}")
    return results


async def delete_pods(client: Client, recorder: EventRecorder, owner: Any, pods: list[core_pb2.Pod],
                      forget: Callable[[core_pb2.Pod], None]) -> errors.ApiError | None:
    """Delete the pods at once (each with its uid as precondition): a SuccessfulDelete Event per pod deleted. A
    pod whose delete failed will not be seen deleted, so `forget(pod)` (the owner's expectations); if it was
    gone already or replaced (NotFound, Conflict on the uid) that is all, otherwise a FailedDelete Event names
    the error, and the first such error is returned."""

    async def one(pod: core_pb2.Pod) -> errors.ApiError | None:
        try:
            await client.pods.delete(pod.metadata.name, pod.metadata.namespace, uid=pod.metadata.uid)
        except errors.ApiError as e:
            forget(pod)
            if isinstance(e, (errors.NotFound, errors.Conflict)):
                return None
            await recorder.event(owner, "Warning", "FailedDelete", f"Error deleting: {e.message}")
            return e
        await recorder.event(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {pod.metadata.name}")
        return None

    failures = [e for e in await asyncio.gather(*(one(p) for p in pods)) if e is not None]
    return failures[0] if failures else None
