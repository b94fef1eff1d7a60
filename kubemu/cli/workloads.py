"""`kubemu` workload verbs with kubectl v1.32's flags and messages: create deployment, scale, set image,
rollout status|history|undo|pause|resume|restart, drain and wait."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import random
import sys
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any

from kubemu.api import fields, kinds, labels, serialization
from kubemu.cli import common, printers, token
from kubemu.cli.common import CliError, add_common, parse_type_args, run_async
from kubemu.client import errors
from kubemu.client.client import Client, ResourceClient, retry_on_conflict
from kubemu.durations import parse_duration
from kubemu.pb import apps_pb2, core_pb2

AddFn = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
POD_TEMPLATE_HASH = "pod-template-hash"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
MIRROR = "kubernetes.io/config.mirror"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Kept from the Deployment, never copied from the ReplicaSet, by a rollback (rollback.go's annotationsToSkip).
_ROLLBACK_SKIP = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
                            "deprecated.deployment.rollback.to"})
_POD_SPEC = core_pb2.PodSpec.DESCRIPTOR.full_name
_POD_TEMPLATE = core_pb2.PodTemplateSpec.DESCRIPTOR.full_name


def _field_type(message: Any, name: str) -> Any:
    """The message descriptor of field `name` of `message` (a descriptor), or None."""
    fld = message.fields_by_name.get(name) if message is not None else None
    return fld.message_type if fld is not None else None


class AggregateError(Exception):
    """Several failures reported the way cmdutil.CheckErr reports an aggregate: one line each, no `error: `."""

    def __init__(self, messages: Sequence[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = list(messages)


def _fail(message: str) -> Exception:
    err: Exception = CliError(message)
    return err


def _go_aggregate(messages: Sequence[str]) -> str:
    """utilerrors.Aggregate's Error(): the message alone, or `[a, b]`."""
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


def _resource_string(info: kinds.KindInfo) -> str:
    """`deployments.apps`: the mapping's resource, as the rollout verbs name an object in errors."""
    return info.resource


def _group_kind(info: kinds.KindInfo) -> str:
    return f"{info.kind}.{info.group}" if info.group else info.kind



def _trim(value: float) -> str:
    return f"{value:.9f}".rstrip("0").rstrip(".")


def go_duration(seconds: float) -> str:
    """time.Duration's String(): `5s`, `1m30s`, `1h0m0s`, `500ms`."""
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 1:
        ns = round(s * 1e9)
        if ns < 1000:
            return f"{sign}{ns}ns"
        if ns < 1_000_000:
            return f"{sign}{_trim(ns / 1e3)}µs"
        return f"{sign}{_trim(ns / 1e6)}ms"
    hours = int(s // 3600)
    minutes = int(s % 3600 // 60)
    secs = _trim(round(s - hours * 3600 - minutes * 60, 9)) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}"
    if minutes:
        return f"{sign}{minutes}m{secs}"
    return sign + secs


# ---- shared helpers -----------------------------------------------------------------------------------------------


def _pod_spec(obj: Any) -> core_pb2.PodSpec | None:
    """UpdatePodSpecForObject's reach: a pod's spec, or a workload's template spec."""
    # By shape rather than by kind: a pod's spec is a PodSpec, a workload's spec.template a PodTemplateSpec.
    spec_type = _field_type(obj.DESCRIPTOR, "spec")
    if spec_type is not None and spec_type.full_name == _POD_SPEC:
        spec: core_pb2.PodSpec = obj.spec
        return spec
    template_type = _field_type(spec_type, "template")
    if template_type is not None and template_type.full_name == _POD_TEMPLATE:
        tspec: core_pb2.PodSpec = obj.spec.template.spec
        return tspec
    return None


def _controller_of(meta: Any) -> Any | None:
    for o in meta.owner_references:
        if o.HasField("controller") and o.controller:
            return o
    return None


async def _follow(rc: ResourceClient[Any], name: str, ns: str | None) -> AsyncGenerator[tuple[str, Any | None], None]:
    """One object's state as UntilWithSync sees it: ("SYNC", object or None) from a list, then each watch event
    (ADDED, MODIFIED, DELETED); it lists again when the watch ends or its revision is gone."""
    sel = f"metadata.name={fields.escape_value(name)}"
    while True:
        listed = await rc.list(ns, field_selector=sel)
        yield "SYNC", (listed.items[0] if listed.items else None)
        try:
            async for ev in rc.watch(ns, resource_version=listed.resource_version, field_selector=sel):
                if ev.object is not None:
                    yield ev.type, ev.object
        except errors.Gone:
            continue


async def _within(timeout: float, coro: Awaitable[int], message: str) -> int:  # noqa: ASYNC109
    """Run `coro`, failing with `message` after `timeout` seconds (0 or less: no limit)."""
    if timeout <= 0:
        return await coro
    try:
        async with asyncio.timeout(timeout):
            return await coro
    except TimeoutError:
        raise _fail(message) from None


async def _targets(
    client: Client, args: argparse.Namespace, resources: list[str], *, selectable: bool = True
) -> tuple[list[tuple[kinds.KindInfo, Any]], list[str]]:
    """The objects TYPE NAME... / TYPE/NAME... (or TYPE with -l/--all) name, and the server errors met."""
    m = common
    out: list[tuple[kinds.KindInfo, Any]] = []
    errs: list[str] = []
    for info, names in m.parse_type_args(resources):
        if not names and not (selectable and (getattr(args, "selector", None) or getattr(args, "all", False))):
            raise _fail("error: resource(s) were provided, but no name was specified")
        objs, _rv, found_errs = await m.select_objects(client, args, info, names)
        errs.extend(found_errs)
        out.extend((info, o) for o in objs)
    return out, errs


def _print_errors(errs: Sequence[str]) -> None:
    for err in errs:
        print(err, file=sys.stderr)


def _common_parent() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    add_common(common, sub=True)
    return common


def _sub_adder(
    parser: argparse.ArgumentParser, metavar: str
) -> Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]:
    subs = parser.add_subparsers(dest=f"{parser.prog.split()[-1]}_verb", metavar=metavar, required=True)
    common = _common_parent()

    def add(name: str, fn: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        sp = subs.add_parser(name, help=help, description=help, parents=[common])
        sp.set_defaults(func=fn)
        return sp

    return add


# ---- create deployment --------------------------------------------------------------------------------------------


def _container_name(image: str) -> str:
    """create deployment's rule: the image's last path part without tag or digest; `_`/`.` become `-` plus a
    random suffix (sanitizeAndUniquify)."""
    name = image.split("/")[-1]
    if ":" in name:
        name = name.split(":")[0]
    if "@" in name:
        name = name.split("@")[0]
    if "_" in name or "." in name:
        suffix = "".join(random.choices("bcdfghjklmnpqrstvwxz2456789", k=5))  # utilrand.String's alphabet
        name = name.replace("_", "-").replace(".", "-") + "-" + suffix
    return name


def build_deployment(name: str, images: list[str], replicas: int, port: int, command: list[str],
                     namespace: str) -> apps_pb2.Deployment:
    d = apps_pb2.Deployment()
    d.metadata.name = name
    d.metadata.namespace = namespace
    d.metadata.labels["app"] = name
    d.spec.replicas = replicas
    d.spec.selector.match_labels["app"] = name
    d.spec.template.metadata.labels["app"] = name
    for image in images:
        c = d.spec.template.spec.containers.add(name=_container_name(image), image=image)
        c.command.extend(command)
    if port >= 0 and d.spec.template.spec.containers:
        d.spec.template.spec.containers[0].ports.add(container_port=port)
    return d


def cmd_create_deployment(args: argparse.Namespace) -> int:
    m = common
    names = list(args.names)
    if len(names) != 1:
        raise _fail(f"error: exactly one NAME is required, got {len(names)}\n"
                    "See 'kubemu create deployment -h' for help and examples")
    images = [i for v in args.image or [] for i in v.split(",") if i]
    if not images:
        raise _fail('error: required flag(s) "image" not set')
    command = list(getattr(args, "command", None) or [])
    if len(images) > 1 and command:
        raise _fail("error: cannot specify multiple --image options and command")
    deploy = build_deployment(names[0], images, args.replicas, args.port, command, m.namespace_of(args))
    dry = args.dry_run
    suffix = {"server": " (server dry run)", "client": " (dry run)"}.get(dry, "")

    def show(obj: Any) -> None:
        if args.output in ("yaml", "json"):
            sys.stdout.write(m.output_objects([obj], args.output))
        elif args.output == "name":
            print(m.ref(obj))
        else:
            print(f"{m.ref(obj)} created{suffix}")

    if dry == "client":
        show(deploy)
        return 0

    async def go(client: Client) -> int:
        try:
            created = await client.deployments.create(deploy, dry_run=dry == "server")
        except (errors.AlreadyExists, errors.Invalid, errors.BadRequest, errors.NotFound, errors.Forbidden) as e:
            raise _fail(f"error: failed to create deployment: {e.message}") from None
        show(created)
        return 0

    return int(m.run_async(args, go))


def register_create(create: argparse.ArgumentParser) -> None:
    """`create deployment` (alias `deploy`) as a subcommand of an existing `create` parser, which keeps its
    `-f` form. The command after `--` belongs in `args.command`."""
    subs = create.add_subparsers(dest="create_kind", metavar="KIND", required=False)
    common = _common_parent()
    text = "Create a deployment with the specified name"
    sp = subs.add_parser("deployment", aliases=["deploy"], help=text, description=text, parents=[common])
    sp.set_defaults(func=cmd_create_deployment, command=[])
    sp.add_argument("names", nargs="*", metavar="NAME")
    sp.add_argument("--image", action="append", help="image names to run (repeatable or comma-separated)")
    sp.add_argument("--replicas", "-r", type=int, default=1, help="number of replicas to create (default 1)")
    sp.add_argument("--port", type=int, default=-1, help="the port that this container exposes")
    sp.add_argument("--dry-run", choices=("none", "client", "server"), default="none", nargs="?", const="client")
    sp.add_argument("--output", "-o", choices=("yaml", "json", "name"))
    token.register(subs, common)


# ---- scale --------------------------------------------------------------------------------------------------------


def cmd_scale(args: argparse.Namespace) -> int:
    m = common
    if args.replicas is None:
        raise _fail('error: required flag(s) "replicas" not set')
    if args.replicas < 0:
        raise _fail("error: The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
    if args.current_replicas < -1:
        raise _fail("error: The --current-replicas must specify an integer of -1 or greater")

    async def one(client: Client, info: kinds.KindInfo, obj: Any) -> str:
        rc = client.resource(info.kind)

        async def attempt() -> str:
            cur = await rc.get(obj.metadata.name, obj.metadata.namespace or None)
            if args.current_replicas != -1 and cur.spec.replicas != args.current_replicas:
                raise _fail(f"error: Expected replicas to be {args.current_replicas}, was {cur.spec.replicas}")
            if args.resource_version and cur.metadata.resource_version != args.resource_version:
                raise _fail(f"error: Expected resource version to be {args.resource_version}, was "
                            f"{cur.metadata.resource_version}")
            cur.spec.replicas = args.replicas
            await rc.update(cur, dry_run=args.dry_run == "server")
            return str(cur.metadata.name)

        await retry_on_conflict(attempt)
        if args.timeout > 0 and args.dry_run == "none":
            await _within(args.timeout, _synced(rc, obj), f'error: timed out waiting for "{obj.metadata.name}" '
                          "to be synced")
        suffix = {"server": " (server dry run)", "client": " (dry run)"}.get(args.dry_run, "")
        return f"{m.ref(obj)} scaled{suffix}"

    async def go(client: Client) -> int:
        targets, errs = await _targets(client, args, list(args.resources))
        if not targets and not errs:
            raise _fail("error: no objects passed to scale")
        if len(targets) > 1 and args.resource_version:
            raise _fail("error: cannot use --resource-version with multiple resources")
        for info, obj in targets:
            if "scale" not in info.subresources:
                raise _fail("Error from server (NotFound): the server could not find the requested resource")
            if args.dry_run == "client":
                print(f"{m.ref(obj)} scaled (dry run)")
                continue
            try:
                print(await one(client, info, obj))
            except (errors.NotFound, errors.Invalid, errors.Forbidden) as e:
                raise _fail(m.server_error(e)) from None
        _print_errors(errs)
        return 1 if errs else 0

    return int(m.run_async(args, go))


async def _synced(rc: ResourceClient[Any], obj: Any) -> int:
    """WaitForScaleHasDesiredReplicas: the status caught up with the spec."""
    async with contextlib.aclosing(_follow(rc, obj.metadata.name, obj.metadata.namespace or None)) as events:
        async for _type, cur in events:
            if cur is not None and cur.status.observed_generation >= cur.metadata.generation \
                    and cur.status.replicas == cur.spec.replicas:
                return 0
    return 0


# ---- set image ----------------------------------------------------------------------------------------------------


def cmd_set_image(args: argparse.Namespace) -> int:
    m = common
    resources = [w for w in args.items if "=" not in w]
    pairs = [w for w in args.items if "=" in w]
    problems = []
    if args.all and args.selector:
        problems.append("cannot set --all and --selector at the same time")
    if not resources:
        problems.append("one or more resources must be specified as <resource> <name> or <resource>/<name>")
    images: dict[str, str] = {}
    for p in pairs:
        k, _, v = p.partition("=")
        if not k or not v:
            raise _fail(f'error: invalid image format: "{p}"')
        images[k] = v
    if not images:
        problems.append("at least one image update is required")
    elif len(images) > 1 and "*" in images:
        problems.append("all containers are already specified by *, but saw more than one "
                        "container_name=container_image pairs")
    if problems:
        raise _fail("error: " + _go_aggregate(problems))

    async def go(client: Client) -> int:
        targets, errs = await _targets(client, args, resources)
        failures: list[str] = []
        for info, obj in targets:
            rc = client.resource(info.kind)
            missing: list[str] = []

            async def attempt(obj: Any = obj, missing: list[str] = missing, rc: ResourceClient[Any] = rc) -> bool:
                missing.clear()
                cur = await rc.get(obj.metadata.name, obj.metadata.namespace or None)
                spec = _pod_spec(cur)
                if spec is None:
                    return False
                before = cur.SerializeToString(deterministic=True)
                for name, image in images.items():
                    found = False
                    for c in [*spec.init_containers, *spec.containers]:
                        if c.name == name or name == "*":
                            c.image = image
                            found = True
                    if not found:
                        missing.append(name)
                if cur.SerializeToString(deterministic=True) == before:
                    return True
                if args.dry_run != "client":
                    await rc.update(cur, dry_run=args.dry_run == "server")
                suffix = {"server": " (server dry run)", "client": " (dry run)"}.get(args.dry_run, "")
                print(f"{m.ref(cur)} image updated{suffix}")
                return True

            try:
                ok = await retry_on_conflict(attempt)
            except (errors.Invalid, errors.Forbidden, errors.BadRequest) as e:
                failures.append(f"failed to patch image update to pod template: {m.server_error(e)}")
                continue
            if not ok:
                failures.append(f"error: {info.plural}/{obj.metadata.name} the object is not a pod or does not "
                                "have a pod template\n")
            failures.extend(f'error: unable to find container named "{n}"' for n in missing)
        _print_errors(errs)
        if failures:
            raise AggregateError(failures)
        return 1 if errs else 0

    return _run(args, go)


def _run(args: argparse.Namespace, go: Callable[[Client], Awaitable[int]]) -> int:
    """run_async, printing an AggregateError as CheckErr prints an aggregate."""
    try:
        return int(run_async(args, go))
    except AggregateError as e:
        for line in e.messages:
            print(line.rstrip("\n"), file=sys.stderr)
        return 1


# ---- rollout ------------------------------------------------------------------------------------------------------


def _one_deployment_like(args: argparse.Namespace) -> list[tuple[kinds.KindInfo, str]]:
    if not args.resources:
        raise _fail("error: required resource not specified")
    out: list[tuple[kinds.KindInfo, str]] = []
    for info, names in parse_type_args(list(args.resources)):
        if not names:
            raise _fail("error: resource(s) were provided, but no name was specified")
        out.extend((info, n) for n in names)
    return out


def _revision(obj: Any) -> int:
    """deploymentutil.Revision: the revision annotation, 0 when absent; ValueError when not a number."""
    raw = obj.metadata.annotations.get(REVISION)
    return int(raw) if raw is not None else 0


async def _owned_replica_sets(client: Client, d: apps_pb2.Deployment) -> list[apps_pb2.ReplicaSet]:
    listed = await client.replica_sets.list(d.metadata.namespace)
    out = []
    for rs in listed.items:
        ctrl = _controller_of(rs.metadata)
        if ctrl is not None and ctrl.uid == d.metadata.uid:
            out.append(rs)
    return out


def _without_hash(template: core_pb2.PodTemplateSpec) -> core_pb2.PodTemplateSpec:
    t = core_pb2.PodTemplateSpec()
    t.CopyFrom(template)
    t.metadata.labels.pop(POD_TEMPLATE_HASH, None)
    return t


class _Shifted(printers._Writer):
    """describe's writer as DescribePodTemplate indents its containers and volumes: titles by two more spaces,
    names by one, details as in a pod (`  Containers:`, `   nginx:`, `    Image:`)."""

    def __init__(self, base: printers._Writer) -> None:
        super().__init__()
        self._parts = base._parts

    def write(self, level: int, text: str) -> None:
        super().write(level, {0: "  ", 1: " "}.get(level, "") + text)


def describe_pod_template(template: core_pb2.PodTemplateSpec) -> str:
    """DescribePodTemplate, as `rollout history --revision=N` and `rollout undo --dry-run` print it."""
    w = printers._Writer()
    shifted = _Shifted(w)
    w.write(0, "Pod Template:\n")
    printers._labels_multiline(w, "  Labels", template.metadata.labels)
    if template.metadata.annotations:
        printers._annotations_multiline(w, "  Annotations", template.metadata.annotations)
    spec = template.spec
    if spec.service_account_name:
        w.write(1, f"Service Account:\t{spec.service_account_name}\n")
    pod = core_pb2.Pod()
    pod.metadata.CopyFrom(template.metadata)
    pod.spec.CopyFrom(spec)
    if spec.init_containers:
        printers._describe_containers(shifted, "Init Containers", pod, spec.init_containers, [])
    printers._describe_containers(shifted, "Containers", pod, spec.containers, [])
    printers._describe_volumes(shifted, spec.volumes)
    if spec.priority_class_name:
        w.write(1, f"Priority Class Name:\t{spec.priority_class_name}\n")
    printers._labels_multiline(w, "  Node-Selectors", spec.node_selector)
    printers._tolerations_multiline(w, "  Tolerations", spec.tolerations)
    return w.render()


def _deployment_status(d: apps_pb2.Deployment, pods: Sequence[core_pb2.Pod], revision: int) -> tuple[str, bool]:
    """DeploymentStatusViewer.Status: the line to print and whether the rollout is done."""
    name = d.metadata.name
    if revision > 0:
        try:
            running = _revision(d)
        except ValueError as e:
            raise _fail(f'error: cannot get the revision of deployment "{name}": {e}') from None
        if revision != running:
            raise _fail(f"error: desired revision ({revision}) is different from the running revision ({running})")
    st = d.status
    if d.metadata.generation <= st.observed_generation:
        for cond in st.conditions:
            if cond.type == "Progressing" and cond.reason == "ProgressDeadlineExceeded":
                raise _fail(f'error: deployment "{name}" exceeded its progress deadline')
        if d.spec.HasField("replicas") and st.updated_replicas < d.spec.replicas:
            msg = (f'Waiting for deployment "{name}" rollout to finish: {st.updated_replicas} out of '
                   f"{d.spec.replicas} new replicas have been updated...")
            return _with_warning(msg, pods), False
        if st.replicas > st.updated_replicas:
            msg = (f'Waiting for deployment "{name}" rollout to finish: {st.replicas - st.updated_replicas} old '
                   "replicas are pending termination...")
            return _with_warning(msg, pods), False
        if st.available_replicas < st.updated_replicas:
            msg = (f'Waiting for deployment "{name}" rollout to finish: {st.available_replicas} of '
                   f"{st.updated_replicas} updated replicas are available...")
            return _with_warning(msg, pods), False
        return f'deployment "{name}" successfully rolled out', True
    return _with_warning("Waiting for deployment spec update to be observed...", pods), False


_BAD_WAITING = frozenset({"ImagePullBackOff", "ErrImagePull", "CrashLoopBackOff", "CreateContainerConfigError",
                          "CreateContainerError"})


def _with_warning(msg: str, pods: Sequence[core_pb2.Pod]) -> str:
    """appendWarning: the first unschedulable or failing pod of the Deployment, in parentheses."""
    for pod in pods:
        for c in pod.status.conditions:
            if c.type == "PodScheduled" and c.status == "False" and c.reason == "Unschedulable":
                return f"{msg} (Warning: {c.message})"
        for cs in pod.status.container_statuses:
            if cs.state.HasField("waiting") and cs.state.waiting.reason in _BAD_WAITING:
                return f"{msg} (Warning: {cs.state.waiting.reason} - {cs.state.waiting.message})"
    return msg


def _daemonset_status(ds: apps_pb2.DaemonSet) -> tuple[str, bool]:
    name = ds.metadata.name
    if ds.spec.update_strategy.type != "RollingUpdate":
        raise _fail("error: rollout status is only available for RollingUpdate strategy type")
    st = ds.status
    if ds.metadata.generation <= st.observed_generation:
        if st.updated_number_scheduled < st.desired_number_scheduled:
            return (f'Waiting for daemon set "{name}" rollout to finish: {st.updated_number_scheduled} out of '
                    f"{st.desired_number_scheduled} new pods have been updated...", False)
        if st.number_available < st.desired_number_scheduled:
            return (f'Waiting for daemon set "{name}" rollout to finish: {st.number_available} of '
                    f"{st.desired_number_scheduled} updated pods are available...", False)
        return f'daemon set "{name}" successfully rolled out', True
    return "Waiting for daemon set spec update to be observed...", False


def cmd_rollout_status(args: argparse.Namespace) -> int:
    m = common
    targets = _one_deployment_like(args)
    if args.revision < 0:
        raise _fail(f"error: revision must be a positive integer: {args.revision}")
    if len(targets) != 1:
        raise _fail("error: rollout status is only supported on individual resources and resource collections - "
                    f"{len(targets)} resources were found")
    info, name = targets[0]
    if info.kind not in ("Deployment", "DaemonSet"):
        raise _fail(f"error: no status viewer has been implemented for {_group_kind(info)}")
    ns = m.namespace_of(args)

    async def follow(client: Client) -> int:
        rc = client.resource(info.kind)
        await rc.get(name, ns)  # NotFound before anything is printed, as the builder's Latest()
        last = ""
        async with contextlib.aclosing(_follow(rc, name, ns)) as events:
            async for etype, obj in events:
                if etype == "DELETED" or obj is None:
                    raise _fail("error: object has been deleted")
                if info.kind == "Deployment":
                    sel = labels.from_label_selector(obj.spec.selector)
                    pods = (await client.pods.list(ns, label_selector=str(sel))).items
                    msg, done = _deployment_status(obj, pods, args.revision)
                else:
                    msg, done = _daemonset_status(obj)
                if msg != last:
                    print(msg, flush=True)
                    last = msg
                if done or not args.watch:
                    return 0
        return 0

    async def go(client: Client) -> int:
        try:
            return await _within(args.timeout, follow(client), "error: timed out waiting for the condition")
        except errors.NotFound as e:
            raise _fail(m.server_error(e)) from None

    return int(m.run_async(args, go))


def cmd_rollout_history(args: argparse.Namespace) -> int:
    m = common
    targets = _one_deployment_like(args)
    if args.revision < 0:
        raise _fail(f"error: revision must be a positive integer: {args.revision}")
    ns = m.namespace_of(args)

    async def go(client: Client) -> int:
        for info, name in targets:
            try:
                obj = await client.resource(info.kind).get(name, ns)
            except errors.NotFound as e:
                raise _fail(m.server_error(e)) from None
            if info.kind != "Deployment":
                raise _fail(f'error: no history viewer has been implemented for "{_group_kind(info)}"')
            history: dict[int, core_pb2.PodTemplateSpec] = {}
            for rs in await _owned_replica_sets(client, obj):
                try:
                    v = _revision(rs)
                except ValueError:
                    continue
                t = core_pb2.PodTemplateSpec()
                t.CopyFrom(rs.spec.template)
                cause = rs.metadata.annotations.get(CHANGE_CAUSE, "")
                if cause:
                    t.metadata.annotations[CHANGE_CAUSE] = cause
                history[v] = t
            if not history:
                text = "No rollout history found."
            elif args.revision > 0:
                if args.revision not in history:
                    raise _fail("error: unable to find the specified revision")
                text = describe_pod_template(history[args.revision])
            else:
                rows = "REVISION\tCHANGE-CAUSE\n" + "".join(
                    f"{r}\t{history[r].metadata.annotations.get(CHANGE_CAUSE) or '<none>'}\n"
                    for r in sorted(history)
                )
                text = printers._tabwrite(rows, minwidth=0, padding=2)
            with_revision = f"with revision #{args.revision}" if args.revision > 0 else ""
            print(f"{m.ref(obj)} {with_revision}\n{text}")
        return 0

    return int(m.run_async(args, go))


def cmd_rollout_undo(args: argparse.Namespace) -> int:
    m = common
    targets = _one_deployment_like(args)
    ns = m.namespace_of(args)
    to = args.to_revision

    async def rollback(client: Client, name: str) -> str:
        if to < 0:
            raise _fail(f"error: unable to find specified revision {to} in history")
        try:
            d = await client.deployments.get(name, ns)
        except errors.ApiError as e:
            raise _fail(f"error: failed to retrieve Deployment {name}: {e.message}") from None
        latest: tuple[int, apps_pb2.ReplicaSet | None] = (-1, None)
        previous: tuple[int, apps_pb2.ReplicaSet | None] = (-1, None)
        chosen: apps_pb2.ReplicaSet | None = None
        for rs in await _owned_replica_sets(client, d):
            try:
                v = _revision(rs)
            except ValueError:
                continue
            if to == 0:
                if latest[0] < v:
                    previous, latest = latest, (v, rs)
                elif previous[0] < v:
                    previous = (v, rs)
            elif v == to:
                chosen = rs
                break
        if to > 0 and chosen is None:
            raise _fail(f"error: unable to find specified revision {to} in history")
        if to == 0:
            chosen = previous[1]
            if chosen is None:
                raise _fail(f'error: no rollout history found for deployment "{name}"')
        assert chosen is not None
        if args.dry_run == "client":
            return f"{m.ref(d)}\n{describe_pod_template(chosen.spec.template)}"
        if d.spec.paused:
            raise _fail("error: you cannot rollback a paused deployment; resume it first with 'kubemu rollout "
                        f"resume deployment/{name}' and try again")
        if _without_hash(chosen.spec.template) == _without_hash(d.spec.template):
            return f"{m.ref(d)} skipped rollback (current template already matches revision {to})"
        annotations = {k: v for k, v in d.metadata.annotations.items() if k in _ROLLBACK_SKIP}
        annotations.update({k: v for k, v in chosen.metadata.annotations.items() if k not in _ROLLBACK_SKIP})
        d.spec.template.CopyFrom(_without_hash(chosen.spec.template))
        d.metadata.annotations.clear()
        d.metadata.annotations.update(annotations)
        try:
            await client.deployments.update(d, dry_run=args.dry_run == "server")
        except errors.ApiError as e:
            raise _fail(f"error: failed restoring revision {to}: {e.message}") from None
        return f"{m.ref(d)} rolled back" + (" (server dry run)" if args.dry_run == "server" else "")

    async def go(client: Client) -> int:
        for info, name in targets:
            if info.kind != "Deployment":
                try:
                    await client.resource(info.kind).get(name, ns)
                except errors.NotFound as e:
                    raise _fail(m.server_error(e)) from None
                raise _fail(f'error: no rollbacker has been implemented for "{_group_kind(info)}"')
            print(await retry_on_conflict(lambda name=name: rollback(client, name)))  # type: ignore[misc]
        return 0

    return int(m.run_async(args, go))


def _patch_verb(args: argparse.Namespace, verb: str, mutate: Callable[[kinds.KindInfo, Any], str | None]) -> int:
    """pause/resume/restart: read, change, write each object; `mutate` returns an error text or None."""
    m = common
    targets = _one_deployment_like(args)
    ns = m.namespace_of(args)

    async def go(client: Client) -> int:
        failures: list[str] = []
        for info, name in targets:
            rc = client.resource(info.kind)

            async def attempt(
                info: kinds.KindInfo = info, name: str = name, rc: ResourceClient[Any] = rc
            ) -> str | None:
                cur = await rc.get(name, ns)
                problem = mutate(info, cur)
                if problem is not None:
                    return f'error: {_resource_string(info)} "{name}" {problem}'
                await rc.update(cur)
                print(f"{m.ref(cur)} {verb}")
                return None

            try:
                problem = await retry_on_conflict(attempt)
            except errors.NotFound as e:
                failures.append(m.server_error(e))
                continue
            except (errors.Invalid, errors.Forbidden, errors.BadRequest) as e:
                failures.append(f"failed to patch: {m.server_error(e)}")
                continue
            if problem:
                failures.append(problem)
        if failures:
            raise AggregateError(failures)
        return 0

    return _run(args, go)


def cmd_rollout_pause(args: argparse.Namespace) -> int:
    def mutate(info: kinds.KindInfo, obj: Any) -> str | None:
        if info.kind != "Deployment":
            return "pausing is not supported"
        if obj.spec.paused:
            return "is already paused"
        obj.spec.paused = True
        return None

    return _patch_verb(args, "paused", mutate)


def cmd_rollout_resume(args: argparse.Namespace) -> int:
    def mutate(info: kinds.KindInfo, obj: Any) -> str | None:
        if info.kind != "Deployment":
            return "resuming is not supported"
        if not obj.spec.paused:
            return "is not paused"
        obj.spec.paused = False
        return None

    return _patch_verb(args, "resumed", mutate)


def cmd_rollout_restart(args: argparse.Namespace) -> int:
    stamp = dt.datetime.now().astimezone().replace(microsecond=0).isoformat()
    if stamp.endswith("+00:00"):
        stamp = stamp[:-6] + "Z"

    def mutate(info: kinds.KindInfo, obj: Any) -> str | None:
        if info.kind not in ("Deployment", "DaemonSet"):
            return "restarting is not supported"
        if info.kind == "Deployment" and obj.spec.paused:
            return "can't restart paused deployment (run rollout resume first)"
        obj.spec.template.metadata.annotations[RESTARTED_AT] = stamp
        return None

    return _patch_verb(args, "restarted", mutate)


# ---- drain --------------------------------------------------------------------------------------------------------

_DS_FATAL = "DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"
_DS_WARNING = "ignoring DaemonSet-managed Pods"
_LOCAL_FATAL = "Pods with local storage (use --delete-emptydir-data to override)"
_LOCAL_WARNING = "deleting Pods with local storage"
_UNMANAGED_FATAL = "Pods declare no controller (use --force to override)"
_UNMANAGED_WARNING = "deleting Pods that declare no controller"

# (delete?, "okay" | "skip" | "warning" | "error", message)
_Status = tuple[bool, str, str]


async def _pods_for_deletion(
    client: Client, args: argparse.Namespace, node: str
) -> tuple[list[core_pb2.Pod], list[str], str]:
    """GetPodsForDeletion: the pods to evict, the fatal errors, and the warning line."""
    listed = await client.pods.list(None, field_selector=f"spec.nodeName={fields.escape_value(node)}",
                                    label_selector=args.pod_selector or "")
    deletable: list[core_pb2.Pod] = []
    fatal: dict[str, list[str]] = {}
    warn: dict[str, list[str]] = {}
    for pod in listed.items:
        status: _Status = (True, "okay", "")
        for flt in (_ds_filter, _mirror_filter, _local_storage_filter, _unreplicated_filter):
            status = await flt(client, args, pod)
            if not status[0]:
                break
        where = f"{pod.metadata.namespace}/{pod.metadata.name}"
        if status[1] == "error":
            fatal.setdefault(status[2], []).append(where)
        elif status[1] == "warning":
            warn.setdefault(status[2], []).append(where)
        if status[0]:
            deletable.append(pod)
    # kubectl walks a Go map here (any order); the filters' order is what its output usually shows.
    order = {m: i for i, m in enumerate((_DS_FATAL, _DS_WARNING, _LOCAL_FATAL, _LOCAL_WARNING, _UNMANAGED_FATAL,
                                         _UNMANAGED_WARNING))}
    errs = [f"cannot delete {msg}: {', '.join(pods)}"
            for msg, pods in sorted(fatal.items(), key=lambda kv: order.get(kv[0], -1))]
    warning = "; ".join(f"{msg}: {', '.join(pods)}"
                        for msg, pods in sorted(warn.items(), key=lambda kv: order.get(kv[0], -1)))
    return deletable, errs, warning


def _finished(pod: core_pb2.Pod) -> bool:
    return pod.status.phase in ("Succeeded", "Failed")


async def _ds_filter(client: Client, args: argparse.Namespace, pod: core_pb2.Pod) -> _Status:
    ctrl = _controller_of(pod.metadata)
    if ctrl is None or ctrl.kind != "DaemonSet" or _finished(pod):
        return True, "okay", ""
    try:
        await client.daemon_sets.get(ctrl.name, pod.metadata.namespace)
    except errors.NotFound as e:
        if args.force:
            return True, "warning", e.message
        return False, "error", e.message
    if not args.ignore_daemonsets:
        return False, "error", _DS_FATAL
    return False, "warning", _DS_WARNING


async def _mirror_filter(client: Client, args: argparse.Namespace, pod: core_pb2.Pod) -> _Status:
    if MIRROR in pod.metadata.annotations:
        return False, "skip", ""
    return True, "okay", ""


async def _local_storage_filter(client: Client, args: argparse.Namespace, pod: core_pb2.Pod) -> _Status:
    if not any(v.HasField("empty_dir") for v in pod.spec.volumes) or _finished(pod):
        return True, "okay", ""
    if not args.delete_emptydir_data:
        return False, "error", _LOCAL_FATAL
    return True, "warning", _LOCAL_WARNING


async def _unreplicated_filter(client: Client, args: argparse.Namespace, pod: core_pb2.Pod) -> _Status:
    if _finished(pod) or _controller_of(pod.metadata) is not None:
        return True, "okay", ""
    if args.force:
        return True, "warning", _UNMANAGED_WARNING
    return False, "error", _UNMANAGED_FATAL


async def _evict(client: Client, args: argparse.Namespace, pod: core_pb2.Pod) -> None:
    """Evict (delete) one pod and wait until it is gone or replaced (a new uid), then say so."""
    ns, name = pod.metadata.namespace, pod.metadata.name
    print(f"evicting pod {ns}/{name}", flush=True)
    grace = args.grace_period if args.grace_period >= 0 else None
    try:
        await client.pods.delete(name, ns, grace_period_seconds=grace)
    except errors.NotFound:
        return
    while True:
        try:
            cur = await client.pods.get(name, ns)
        except errors.NotFound:
            break
        if cur.metadata.uid != pod.metadata.uid:
            break
        await asyncio.sleep(0.2)
    print(f"pod/{name} {'deleted' if args.disable_eviction else 'evicted'}", flush=True)


async def _drain_node(client: Client, args: argparse.Namespace, node: str) -> AggregateError | str | None:
    """Evict one node's pods; None when drained, else the failure (an aggregate or one message)."""
    pods, errs, warning = await _pods_for_deletion(client, args, node)
    if errs:
        return AggregateError(errs)
    if warning:
        print(f"Warning: {warning}", file=sys.stderr, flush=True)
    if args.dry_run == "client":
        for pod in pods:
            print(f"evicting pod {pod.metadata.namespace}/{pod.metadata.name} (dry run)")
        return None
    work = asyncio.gather(*(_evict(client, args, p) for p in pods))
    try:
        if args.timeout > 0:
            async with asyncio.timeout(args.timeout):
                await work
        else:
            await work
    except TimeoutError:
        err = f"drain did not complete within {go_duration(args.timeout)}"
        pending, _errs, _w = await _pods_for_deletion(client, args, node)
        if pending:
            print(f'There are pending pods in node "{node}" when an error occurred: {err}', file=sys.stderr)
            for p in pending:
                print(f"pod/{p.metadata.name}", file=sys.stderr)
        return err
    return None


def cmd_drain(args: argparse.Namespace) -> int:
    m = common
    if not args.nodes and not args.selector:
        raise _fail("error: USAGE: drain NODE [flags]\nSee 'kubemu drain -h' for help and examples")
    if args.nodes and args.selector:
        raise _fail("error: cannot specify both a node name and a --selector option\n"
                    "See 'kubemu drain -h' for help and examples")
    if args.pod_selector:
        try:
            labels.parse(args.pod_selector)
        except labels.SelectorError:
            raise _fail("error: --pod-selector=<pod_selector> must be a valid label selector") from None

    async def go(client: Client) -> int:
        if args.nodes:
            nodes = []
            for name in args.nodes:
                try:
                    nodes.append(await client.nodes.get(name))
                except errors.NotFound as e:
                    raise _fail(m.server_error(e)) from None
        else:
            nodes = (await client.nodes.list(label_selector=args.selector)).items
        for node in nodes:
            name = node.metadata.name

            async def cordon(name: str = name) -> str:
                cur = await client.nodes.get(name)
                if cur.spec.unschedulable:
                    return "already cordoned"
                cur.spec.unschedulable = True
                if args.dry_run != "client":
                    await client.nodes.update(cur, dry_run=args.dry_run == "server")
                return "cordoned"

            try:
                outcome = await retry_on_conflict(cordon)
            except errors.ApiError as e:
                print(f'error: unable to cordon node "{name}": {m.server_error(e)}', file=sys.stderr)
                continue
            suffix = {"server": " (server dry run)", "client": " (dry run)"}.get(args.dry_run, "")
            print(f"node/{name} {outcome}{suffix}", flush=True)
        drained: set[str] = set()
        for node in nodes:
            name = node.metadata.name
            failure = await _drain_node(client, args, name)
            if failure is None:
                drained.add(name)
                suffix = {"server": " (server dry run)", "client": " (dry run)"}.get(args.dry_run, "")
                print(f"node/{name} drained{suffix}", flush=True)
                continue
            text = _go_aggregate(failure.messages) if isinstance(failure, AggregateError) else failure
            print(f'error: unable to drain node "{name}" due to error:{text}, continuing command...',
                  file=sys.stderr)
            remaining = [n.metadata.name for n in nodes if n.metadata.name not in drained]
            if remaining:
                print("There are pending nodes to be drained:", file=sys.stderr)
                for r in remaining:
                    print(f" {r}", file=sys.stderr)
            if isinstance(failure, AggregateError):
                raise failure
            raise _fail(f"error: {failure}")
        return 0

    return _run(args, go)


# ---- wait ---------------------------------------------------------------------------------------------------------


def _condition_met(obj: Any, name: str, value: str) -> bool:
    """ConditionalWait.checkCondition on the object's JSON: case-folded type and status, stale ones ignored."""
    data = serialization.to_dict(obj)
    generation = data.get("metadata", {}).get("generation")
    for cond in data.get("status", {}).get("conditions", []) or []:
        if not isinstance(cond, dict) or str(cond.get("type", "")).casefold() != name.casefold():
            continue
        if "status" not in cond:
            continue
        observed = cond.get("observedGeneration", data.get("status", {}).get("observedGeneration"))
        if generation is not None and observed is not None and observed < generation:
            return False
        return str(cond["status"]).casefold() == value.casefold()
    return False


def cmd_wait(args: argparse.Namespace) -> int:
    m = common
    cond = args.for_condition or ""
    for_delete = cond.lower() == "delete"
    for_create = cond.lower() == "create"
    cond_name = cond_value = ""
    if cond.startswith("condition="):
        cond_name, _, rest = cond[len("condition="):].partition("=")
        cond_value = rest if "=" in cond[len("condition="):] else "true"
    elif not for_delete and not for_create:
        raise _fail(f'error: unrecognized condition: "{cond}"')
    timeout = args.timeout if args.timeout >= 0 else 168 * 3600.0

    async def one(client: Client, info: kinds.KindInfo, name: str, ns: str | None, deadline: float) -> Any:
        rc = client.resource(info.kind)
        timeout_error = f"error: timed out waiting for the condition on {info.plural}/{name}"
        if timeout == 0:
            try:
                obj = await rc.get(name, ns)
            except errors.NotFound as e:
                if for_delete:
                    return True
                raise _fail(m.server_error(e)) from None
            if for_create or (not for_delete and _condition_met(obj, cond_name, cond_value)):
                return obj
            raise _fail(f"error: condition not met for {info.plural}/{name}")

        async def watch() -> Any:
            async with contextlib.aclosing(_follow(rc, name, ns)) as events:
                async for etype, obj in events:
                    if for_delete:
                        if obj is None or etype == "DELETED":
                            return True
                    elif for_create:
                        if obj is not None and etype != "DELETED":
                            return obj
                    elif obj is None:
                        raise _fail(m.server_error(errors.NotFound(f'{info.resource} "{name}" not found')))
                    elif etype != "DELETED" and _condition_met(obj, cond_name, cond_value):
                        return obj
            return None

        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _fail(timeout_error)
        try:
            async with asyncio.timeout(remaining):
                return await watch()
        except TimeoutError:
            raise _fail(timeout_error) from None

    async def go(client: Client) -> int:
        deadline = time.monotonic() + timeout
        seen = 0
        for info, names in m.parse_type_args(list(args.resources)):
            ns = None if not info.namespaced else (None if args.all_namespaces else m.namespace_of(args))
            if names:
                pairs = [(n, ns or m.namespace_of(args)) for n in names]
                if not for_delete and not for_create:
                    for n, pns in pairs:
                        try:
                            await client.resource(info.kind).get(n, pns if info.namespaced else None)
                        except errors.NotFound as e:
                            raise _fail(m.server_error(e)) from None
            elif args.selector or args.all or args.field_selector:
                listed = await client.resource(info.kind).list(
                    ns, label_selector=args.selector or "", field_selector=args.field_selector or "")
                pairs = [(o.metadata.name, o.metadata.namespace) for o in listed.items]
            else:
                raise _fail("error: resource(s) were provided, but no name was specified")
            for n, pns in pairs:
                if for_delete:
                    try:
                        await client.resource(info.kind).get(n, pns if info.namespaced else None)
                    except errors.NotFound:
                        continue  # already gone: nothing to wait for, as kubectl's IgnoreErrors(IsNotFound)
                seen += 1
                await one(client, info, n, pns if info.namespaced else None, deadline)
                print(f"{m.qualified(info)}/{n} condition met", flush=True)
        if seen == 0 and not for_delete:
            raise _fail("error: no matching resources found")
        return 0

    return int(m.run_async(args, go))


# ---- registration -------------------------------------------------------------------------------------------------


def register(add: AddFn) -> None:
    """Add scale, set, rollout, drain and wait to the `kubemu` parser (`add` is build_parser's)."""
    dry = {"choices": ("none", "client", "server"), "default": "none", "nargs": "?", "const": "client"}

    s = add("scale", cmd_scale, "Set a new size for a deployment, replica set, or replication controller")
    s.add_argument("resources", nargs="+", metavar="TYPE NAME | TYPE/NAME")
    s.add_argument("--replicas", type=int, default=None, help="the new desired number of replicas (required)")
    s.add_argument("--current-replicas", type=int, default=-1, help="precondition for the current size")
    s.add_argument("--resource-version", default="", help="precondition for the resource version")
    s.add_argument("--timeout", type=parse_duration, default=0.0, help="wait this long for the new size (0: no)")
    s.add_argument("--selector", "-l", help="label selector")
    s.add_argument("--all", action="store_true", help="all resources of the type in the namespace")
    s.add_argument("--dry-run", **dry)  # type: ignore[arg-type]

    st = add("set", _help_only, "Set specific features on objects")
    set_add = _sub_adder(st, "SUBCOMMAND")
    im = set_add("image", cmd_set_image, "Update the image of a pod template")
    im.add_argument("items", nargs="+", metavar="TYPE NAME CONTAINER=IMAGE")
    im.add_argument("--selector", "-l", help="label selector")
    im.add_argument("--all", action="store_true", help="all resources of the type in the namespace")
    im.add_argument("--dry-run", **dry)  # type: ignore[arg-type]

    ro = add("rollout", _help_only, "Manage the rollout of a resource")
    ro_add = _sub_adder(ro, "SUBCOMMAND")
    rs = ro_add("status", cmd_rollout_status, "Show the status of the rollout")
    rs.add_argument("resources", nargs="*", metavar="TYPE NAME | TYPE/NAME")
    rs.add_argument("--watch", "-w", default=True, type=lambda v: v.lower() != "false", nargs="?", const=True,
                    help="watch the status of the rollout until it's done (default true)")
    rs.add_argument("--revision", type=int, default=0, help="pin to a specific revision")
    rs.add_argument("--timeout", type=parse_duration, default=0.0, help="give up after this long (0: never)")
    rh = ro_add("history", cmd_rollout_history, "View rollout history")
    rh.add_argument("resources", nargs="*", metavar="TYPE NAME | TYPE/NAME")
    rh.add_argument("--revision", type=int, default=0, help="see the details of this revision")
    ru = ro_add("undo", cmd_rollout_undo, "Undo a previous rollout")
    ru.add_argument("resources", nargs="*", metavar="TYPE NAME | TYPE/NAME")
    ru.add_argument("--to-revision", type=int, default=0, help="the revision to roll back to (0: the last)")
    ru.add_argument("--dry-run", **dry)  # type: ignore[arg-type]
    for name, fn, text in (("pause", cmd_rollout_pause, "Mark the provided resource as paused"),
                           ("resume", cmd_rollout_resume, "Resume a paused resource"),
                           ("restart", cmd_rollout_restart, "Restart a resource")):
        rp = ro_add(name, fn, text)
        rp.add_argument("resources", nargs="*", metavar="TYPE NAME | TYPE/NAME")

    d = add("drain", cmd_drain, "Drain node in preparation for maintenance")
    d.add_argument("nodes", nargs="*", metavar="NODE")
    d.add_argument("--ignore-daemonsets", action="store_true", help="ignore DaemonSet-managed pods")
    d.add_argument("--delete-emptydir-data", action="store_true", help="continue even with emptyDir pods")
    d.add_argument("--force", action="store_true", help="continue even with pods that declare no controller")
    d.add_argument("--grace-period", type=int, default=-1, help="seconds each pod gets to terminate (-1: its own)")
    d.add_argument("--timeout", type=parse_duration, default=0.0, help="give up after this long (0: never)")
    d.add_argument("--selector", "-l", help="select nodes by label")
    d.add_argument("--pod-selector", default="", help="only pods matching this label selector")
    d.add_argument("--disable-eviction", action="store_true", help="delete instead of evicting")
    d.add_argument("--dry-run", **dry)  # type: ignore[arg-type]

    w = add("wait", cmd_wait, "Experimental: Wait for a specific condition on one or many resources")
    w.add_argument("resources", nargs="+", metavar="TYPE NAME | TYPE/NAME")
    w.add_argument("--for", dest="for_condition", default="",
                   help="delete | create | condition=NAME[=VALUE] (default value: True)")
    w.add_argument("--timeout", type=parse_duration, default=30.0,
                   help="give up after this long (default 30s; 0: check once; negative: a week)")
    w.add_argument("--selector", "-l", help="label selector")
    w.add_argument("--field-selector", help="field selector")
    w.add_argument("--all", action="store_true", help="all resources of the type in the namespace")
    w.add_argument("--all-namespaces", "-A", action="store_true", help="across all namespaces")


def _help_only(args: argparse.Namespace) -> int:
    return 0
