"""`kubemu`: kubectl's verbs, flags, columns and messages against a kubemu apiserver, plus the local launcher."""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from kubemu.api import kinds, labels, serialization
from kubemu.cli import chaos, cluster, explain, printers, workloads
from kubemu.cli.common import (
    CliError,
    add_common,
    namespace_of,
    output_objects,
    parse_type_args,
    qualified,
    ref,
    run_async,
    select_objects,
    server_error,
)
from kubemu.cli.manifests import Manifest, ManifestError
from kubemu.cli.manifests import load as load_manifests
from kubemu.client import errors
from kubemu.client.client import Client, ResourceClient, retry_on_conflict
from kubemu.pb import core_pb2

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def now() -> float:
    return time.time()


# ---- get ------------------------------------------------------------------------------------------


def _table_opts(args: argparse.Namespace, several_kinds: bool) -> dict[str, Any]:
    return {
        "wide": args.output == "wide",
        "show_labels": args.show_labels,
        "label_columns": [c for cols in args.label_columns or [] for c in cols.split(",")],
        "with_namespace": args.all_namespaces,
        "with_kind": several_kinds,
        "no_headers": args.no_headers,
    }


def cmd_get(args: argparse.Namespace) -> int:
    if args.output not in (None, "wide", "yaml", "json", "name"):
        raise CliError(
            f'error: unable to match a printer suitable for the output format "{args.output}", allowed formats '
            "are: json,name,wide,yaml"
        )
    groups = parse_type_args(args.names)

    async def go(client: Client) -> int:
        failed = False
        all_objs: list[Any] = []
        rv = ""
        for info, names in groups:
            objs, rv, errs = await select_objects(client, args, info, names)
            for err in errs:
                print(err, file=sys.stderr)
                failed = True
            all_objs.extend(objs)
        if args.watch and len(groups) == 1:
            return await _watch(client, args, groups[0][0], all_objs, rv)
        if not all_objs:
            if not failed:
                where = "" if not groups[0][0].namespaced else (
                    " in any namespace" if args.all_namespaces else f" in {namespace_of(args)} namespace"
                )
                print(f"No resources found{where}.", file=sys.stderr)
            return 1 if failed else 0
        if args.output in ("yaml", "json", "name"):
            sys.stdout.write(output_objects(all_objs, args.output, rv))
        else:
            sys.stdout.write(printers.print_table(all_objs, now=now(), **_table_opts(args, len(groups) > 1)))
        return 1 if failed else 0

    return run_async(args, go)


async def _watch(client: Client, args: argparse.Namespace, info: kinds.KindInfo, initial: list[Any], rv: str) -> int:
    rc = client.resource(info.kind)
    opts = _table_opts(args, False)
    widths: list[int] = []  # shared by every row, so columns never shrink as changes stream in
    first = True
    names = set(args.names[1:]) if args.names and "/" not in args.names[0] else {
        n.partition("/")[2] for n in args.names
    }

    def show(obj: Any) -> None:
        nonlocal first
        if args.output in ("yaml", "json"):
            text = output_objects([obj], args.output)
            sys.stdout.write(("---\n" if args.output == "yaml" and not first else "") + text)
            first = False
        elif args.output == "name":
            sys.stdout.write(ref(obj) + "\n")
        else:
            sys.stdout.write(printers.print_watch_row(obj, now=now(), first=first, widths=widths, **opts))
            first = False
        sys.stdout.flush()

    for obj in initial:
        show(obj)
    if not rv:
        rv = (await rc.list(None if args.all_namespaces else namespace_of(args))).resource_version
    ns = None if args.all_namespaces else namespace_of(args)
    try:
        while True:
            async for ev in rc.watch(
                ns, resource_version=rv, label_selector=args.selector or "",
                field_selector=args.field_selector or "",
            ):
                rv = ev.resource_version
                if ev.object is None or (names and ev.object.metadata.name not in names):
                    continue
                show(ev.object)
    except errors.Gone:
        raise CliError("error: watch closed: too old resource version; run the command again") from None
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 0


# ---- apply / create / run -------------------------------------------------------------------------


def _load(args: argparse.Namespace) -> list[tuple[Manifest, Any]]:
    if not args.filename:
        raise CliError("error: must specify one of -f and -k")
    out = []
    for m in load_manifests(args.filename, getattr(args, "recursive", False)):
        obj = m.decode()
        info = kinds.of_message(obj)
        if info.namespaced:
            if args.namespace and obj.metadata.namespace and obj.metadata.namespace != args.namespace:
                raise CliError(
                    f"error: the namespace from the provided object \"{obj.metadata.namespace}\" does not match "
                    f"the namespace \"{args.namespace}\". You must pass '--namespace={obj.metadata.namespace}' "
                    "to perform this operation."
                )
            obj.metadata.namespace = obj.metadata.namespace or namespace_of(args)
        out.append((m, obj))
    return out


def _invalid_message(m: Manifest, verb: str, e: errors.ApiError) -> str:
    field = e.causes[0].field if isinstance(e, errors.Invalid) and e.causes else ""
    return f'Error from server ({e.reason}): error when {verb} "{m.where(field)}": {e.message}'


def _merge_for_apply(existing: Any, desired: Any, applied_json: str) -> Any:
    """A simple apply: the manifest's spec wins; labels and annotations merge, dropping keys that the last
    apply set and this one does not (kubectl's three-way rule for maps)."""
    prev: dict[str, Any] = {}
    raw = existing.metadata.annotations.get(LAST_APPLIED)
    if raw:
        try:
            prev = json.loads(raw).get("metadata", {})
        except ValueError:
            prev = {}
    new = type(desired)()
    new.CopyFrom(desired)
    meta = new.metadata
    for field in ("labels", "annotations"):
        merged = dict(getattr(existing.metadata, field))
        for k in prev.get(field, {}) or {}:
            if k not in getattr(desired.metadata, field):
                merged.pop(k, None)
        merged.update(getattr(desired.metadata, field))
        getattr(meta, field).clear()
        getattr(meta, field).update(merged)
    meta.annotations[LAST_APPLIED] = applied_json
    meta.resource_version = existing.metadata.resource_version
    for name in ("finalizers", "owner_references"):
        if not getattr(desired.metadata, name):
            getattr(meta, name).extend(getattr(existing.metadata, name))
    if "status" in {f.name for f in type(existing).DESCRIPTOR.fields} and existing.HasField("status"):
        new.status.CopyFrom(existing.status)
    return new


def cmd_apply(args: argparse.Namespace) -> int:
    return _apply_or_create(args, apply=True)


def cmd_create(args: argparse.Namespace) -> int:
    return _apply_or_create(args, apply=False)


def _apply_or_create(args: argparse.Namespace, *, apply: bool) -> int:
    items = _load(args)
    dry = args.dry_run
    suffix = {"server": " (server dry run)", "client": " (dry run)"}.get(dry, "")

    async def plan(client: Client, commit: bool) -> list[str]:
        lines = []
        for m, obj in items:
            info = kinds.of_message(obj)
            rc = client.resource(info.kind)
            desired = type(obj)()
            desired.CopyFrom(obj)
            applied = json.dumps(serialization.to_dict(obj), separators=(",", ":"), sort_keys=True) + "\n"
            verb = "creating"
            try:
                if not apply:
                    if commit:
                        obj = await rc.create(desired)
                    else:
                        await rc.create(desired, dry_run=True)
                    lines.append(f"{ref(obj)} created{suffix}")
                    continue
                desired.metadata.annotations[LAST_APPLIED] = applied
                try:
                    existing = await rc.get(obj.metadata.name, obj.metadata.namespace or None)
                except errors.NotFound:
                    await rc.create(desired, dry_run=not commit)
                    lines.append(f"{ref(obj)} created{suffix}")
                    continue
                if existing.metadata.annotations.get(LAST_APPLIED) == applied:
                    lines.append(f"{ref(obj)} unchanged{suffix}")
                    continue
                verb = "applying"
                merged = _merge_for_apply(existing, desired, applied)
                await rc.update(merged, dry_run=not commit)
                lines.append(f"{ref(obj)} configured{suffix}")
            except (errors.AlreadyExists, errors.Invalid, errors.BadRequest, errors.Forbidden, errors.NotFound,
                    errors.Conflict) as e:
                raise CliError(_invalid_message(m, verb, e)) from None
        return lines

    async def go(client: Client) -> int:
        # Every object is checked by the server first, so a bad document leaves nothing half-applied.
        await plan(client, commit=False)
        if dry in ("server", "client"):
            lines = await plan(client, commit=False)
        else:
            lines = await plan(client, commit=True)
        for line in lines:
            print(line)
        return 0

    if dry == "client":
        for _m, obj in items:
            print(f"{ref(obj)} {'configured' if apply else 'created'} (dry run)")
        return 0
    return run_async(args, go)


def _key_values(pairs: list[str], flag: str) -> dict[str, str]:
    out = {}
    for p in pairs:
        for item in p.split(","):
            k, sep, v = item.partition("=")
            if not sep or not k:
                raise CliError(f"error: invalid {flag} \"{item}\": expected KEY=VALUE")
            out[k] = v
    return out


def cmd_run(args: argparse.Namespace) -> int:
    if not args.image:
        raise CliError("error: required flag(s) \"image\" not set")
    pod = core_pb2.Pod()
    pod.metadata.name = args.name
    pod.metadata.namespace = namespace_of(args)
    pod.metadata.labels.update(_key_values([args.labels], "--labels") if args.labels else {"run": args.name})
    c = pod.spec.containers.add(name=args.name, image=args.image)
    if args.image_pull_policy:
        c.image_pull_policy = args.image_pull_policy
    if args.port:
        c.ports.add(container_port=int(args.port))
    for k, v in _key_values(args.env or [], "--env").items():
        c.env.add(name=k, value=v)
    if args.command:
        if not args.args:
            raise CliError("error: --command requires arguments after --")
        c.command.extend(args.args)
    else:
        c.args.extend(args.args)
    pod.spec.restart_policy = args.restart
    pod.spec.dns_policy = "ClusterFirst"
    for err in (labels.validate_label_key(k) for k in pod.metadata.labels):
        if err:
            raise CliError(f"error: {err[0]}")

    async def go(client: Client) -> int:
        try:
            created = await client.pods.create(pod, dry_run=args.dry_run == "server")
        except (errors.AlreadyExists, errors.Invalid, errors.BadRequest, errors.NotFound) as e:
            raise CliError(server_error(e)) from None
        if args.output in ("yaml", "json"):
            sys.stdout.write(output_objects([created], args.output))
        else:
            print(f"{ref(created)} created" + (" (server dry run)" if args.dry_run == "server" else ""))
        return 0

    return run_async(args, go)


# ---- describe -------------------------------------------------------------------------------------


def cmd_describe(args: argparse.Namespace) -> int:
    groups = parse_type_args(args.names)

    async def go(client: Client) -> int:
        failed = False
        first = True
        for info, names in groups:
            objs, _rv, errs = await select_objects(client, args, info, names)
            for err in errs:
                print(err, file=sys.stderr)
                failed = True
            for obj in objs:
                sel = f"involvedObject.name={obj.metadata.name},involvedObject.kind={info.kind}"
                try:
                    evs = (await client.events.list(obj.metadata.namespace or None, field_selector=sel)).items
                except errors.ApiError:
                    evs = []
                # kubectl describe orders events by time; equal times keep the order they were recorded in.
                evs.sort(key=lambda e: (serialization.time_value(e.last_timestamp),
                                        int(e.metadata.resource_version or 0)))
                extra: dict[str, Any] = {}
                if info.kind == "Namespace":
                    # kubectl's describer lists the namespace's quotas and limit ranges (none when it may not).
                    extra = {"quotas": await _list_or_none(client, "ResourceQuota", obj.metadata.name),
                             "limit_ranges": await _list_or_none(client, "LimitRange", obj.metadata.name)}
                if not first:
                    print()
                first = False
                sys.stdout.write(printers.describe(obj, evs, now=now(), **extra))
        if first and not failed:
            print(f"No resources found in {namespace_of(args)} namespace.", file=sys.stderr)
        return 1 if failed else 0

    return run_async(args, go)


async def _list_or_none(client: Client, kind: str, namespace: str) -> list[Any]:
    try:
        return list((await client.resource(kind).list(namespace)).items)
    except errors.ApiError:
        return []


# ---- delete ---------------------------------------------------------------------------------------


def cmd_delete(args: argparse.Namespace) -> int:
    if args.force and args.grace_period not in (None, 0):
        raise CliError("error: --force and --grace-period greater than 0 cannot be specified together")
    grace = 0 if args.force and args.grace_period is None else args.grace_period
    if args.now:
        grace = 1
    targets: list[tuple[kinds.KindInfo, str, str]] = []

    async def collect(client: Client) -> None:
        if args.filename:
            for _m, obj in _load(args):
                targets.append((kinds.of_message(obj), obj.metadata.namespace, obj.metadata.name))
            return
        groups = parse_type_args(args.names)
        for info, names in groups:
            if not names and not args.selector and not args.all and not args.field_selector:
                raise CliError("error: resource(s) were provided, but no name was specified")
            if names:
                targets.extend((info, namespace_of(args), n) for n in names)
            else:
                objs, _rv, _errs = await select_objects(client, args, info, [])
                targets.extend((info, o.metadata.namespace, o.metadata.name) for o in objs)

    async def go(client: Client) -> int:
        await collect(client)
        if args.force and grace == 0:
            print("Warning: Immediate deletion does not wait for confirmation that the running resource has been "
                  "terminated. The resource may continue to run on the cluster indefinitely.", file=sys.stderr)
        if not targets:
            print("No resources found", file=sys.stderr)
            return 0
        failed = False
        for info, ns, name in targets:
            rc = client.resource(info.kind)
            try:
                obj = await rc.delete(
                    name, ns or None, grace_period_seconds=grace,
                    propagation_policy={"background": "Background", "foreground": "Foreground",
                                        "orphan": "Orphan"}[args.cascade],
                )
            except errors.NotFound as e:
                print(server_error(e), file=sys.stderr)
                failed = True
                continue
            verb = "force deleted" if args.force and grace == 0 else "deleted"
            print(f'{qualified(info)} "{name}" {verb}')
            if args.wait:
                await _wait_gone(client, info, ns, name, obj.metadata.uid, args.timeout)
        return 1 if failed else 0

    return run_async(args, go)


async def _wait_gone(
    client: Client, info: kinds.KindInfo, ns: str, name: str, uid: str, timeout: float  # noqa: ASYNC109
) -> None:
    rc = client.resource(info.kind)
    deadline = time.monotonic() + (timeout if timeout > 0 else float("inf"))
    while time.monotonic() < deadline:
        try:
            cur = await rc.get(name, ns or None)
        except errors.NotFound:
            return
        if cur.metadata.uid != uid:
            return
        await asyncio.sleep(0.2)
    raise CliError(f'error: timed out waiting for the condition on {qualified(info)}/{name}')


# ---- label / annotate -----------------------------------------------------------------------------


def _parse_changes(items: list[str], what: str) -> tuple[dict[str, str], list[str]]:
    sets: dict[str, str] = {}
    removes: list[str] = []
    for item in items:
        if item.endswith("-") and "=" not in item:
            removes.append(item[:-1])
        elif "=" in item:
            k, _, v = item.partition("=")
            sets[k] = v
        else:
            raise CliError(f"error: invalid {what} format: {item}")
    for k, v in sets.items():
        errs = labels.validate_label_key(k)
        if errs:
            raise CliError(f"error: invalid {what} format: {k}: {'; '.join(errs)}")
        if what == "label":
            verrs = labels.validate_label_value(v)
            if verrs:
                raise CliError(f"error: invalid label value: \"{k}={v}\": {'; '.join(verrs)}")
    return sets, removes


def _mutate_map(args: argparse.Namespace, field: str, what: str, past: str) -> int:
    words = list(args.items)
    # kubectl: TYPE NAME... KEY=VAL... or TYPE/NAME KEY=VAL ...
    split = next((i for i, w in enumerate(words) if "=" in w or (w.endswith("-") and i > 0)), len(words))
    resources, changes = words[:split], words[split:]
    if not changes:
        raise CliError(f"error: at least one {what} update is required")
    sets, removes = _parse_changes(changes, what)
    groups = parse_type_args(resources)

    async def go(client: Client) -> int:
        failed = False
        for info, names in groups:
            if not names and not args.selector and not args.all:
                raise CliError("error: resource(s) were provided, but no name was specified")
            objs, _rv, errs = await select_objects(client, args, info, names)
            for err in errs:
                print(err, file=sys.stderr)
                failed = True
            for obj in objs:
                rc = client.resource(info.kind)
                outcome = await retry_on_conflict(
                    functools.partial(_apply_map_changes, rc, obj.metadata.name, obj.metadata.namespace, field,
                                      sets, removes, args.overwrite, past)
                )
                print(f"{ref(obj)} {outcome}")
        return 1 if failed else 0

    return run_async(args, go)


async def _apply_map_changes(
    rc: ResourceClient[Any], name: str, ns: str, field: str, sets: dict[str, str], removes: list[str],
    overwrite: bool, past: str,
) -> str:
    """One read-modify-write of labels or annotations; returns kubectl's outcome word."""
    cur = await rc.get(name, ns or None)
    m = getattr(cur.metadata, field)
    before = dict(m)
    for k, v in sets.items():
        if k in m and m[k] != v and not overwrite:
            raise CliError(f"error: '{k}' already has a value ({m[k]}), and --overwrite is false")
        m[k] = v
    for k in removes:
        m.pop(k, None)
    if dict(m) == before:
        return f"not {past}"
    await rc.update(cur)
    return past if sets else f"un{past}"


def cmd_label(args: argparse.Namespace) -> int:
    return _mutate_map(args, "labels", "label", "labeled")


def cmd_annotate(args: argparse.Namespace) -> int:
    return _mutate_map(args, "annotations", "annotation", "annotated")


def _pod_target(args: argparse.Namespace) -> str:
    name = args.pod
    if "/" in name:
        t, _, name = name.partition("/")
        try:
            if kinds.by_resource(t).kind != "Pod":
                raise CliError(f"error: cannot {args.verb} into a {t}: only pods are supported")
        except kinds.UnknownKind as e:
            raise CliError(f"error: {e}") from None
    return str(name)


def cmd_logs(args: argparse.Namespace) -> int:
    name = _pod_target(args)

    async def go(client: Client) -> int:
        try:
            async for line in client.pods.logs(
                name, namespace_of(args), container=args.container or "", previous=args.previous,
                follow=args.follow, tail_lines=args.tail if args.tail >= 0 else None,
            ):
                print(line, flush=args.follow)
        except (errors.NotFound, errors.BadRequest, errors.Invalid, errors.Forbidden) as e:
            raise CliError(server_error(e)) from None
        return 0

    return run_async(args, go)


def cmd_exec(args: argparse.Namespace) -> int:
    name = _pod_target(args)
    if not args.cmd:
        raise CliError("error: you must specify at least one command for the container")

    async def go(client: Client) -> int:
        try:
            output, code = await client.pods.exec(name, args.cmd, namespace_of(args), container=args.container or "")
        except (errors.NotFound, errors.BadRequest, errors.Invalid, errors.Forbidden) as e:
            raise CliError(server_error(e)) from None
        for line in output:
            print(line)
        if code != 0:
            print(f"command terminated with exit code {code}", file=sys.stderr)
        return code

    return run_async(args, go)


_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _parse_taints(specs: list[str]) -> tuple[list[core_pb2.Taint], list[tuple[str, str]]]:
    """kubectl's taint arguments: `key=value:Effect` adds, `key:Effect-` / `key-` / `key=value:Effect-` removes."""
    add: list[core_pb2.Taint] = []
    remove: list[tuple[str, str]] = []
    for spec in specs:
        if spec.endswith("-"):
            body = spec[:-1]
            kv, _, effect = body.partition(":")
            key = kv.partition("=")[0]
            if effect and effect not in _EFFECTS:
                raise CliError(f"error: invalid taint spec: {spec}, unsupported taint effect {effect}")
            remove.append((key, effect))
            continue
        kv, sep, effect = spec.partition(":")
        if not sep or not effect:
            raise CliError(f"error: invalid taint spec: {spec}, taint effect is required")
        if effect not in _EFFECTS:
            raise CliError(f'error: invalid taint spec: {spec}, invalid taint effect: {effect}, unsupported '
                           'taint effect')
        key, _, value = kv.partition("=")
        errs = labels.validate_label_key(key)
        if errs:
            raise CliError(f"error: invalid taint spec: {spec}, {'; '.join(errs)}")
        taint = core_pb2.Taint(key=key, value=value, effect=effect)
        if effect == "NoExecute":
            serialization.set_time(taint.time_added, float(int(now())))  # as kubectl does
        add.append(taint)
    return add, remove


def cmd_taint(args: argparse.Namespace) -> int:
    words = list(args.items)
    try:
        is_node = kinds.by_resource(words[0]).kind == "Node"
    except kinds.UnknownKind as e:
        raise CliError(f"error: {e}") from None
    if len(words) < 2 or not is_node:
        raise CliError("error: at least one taint update is required" if len(words) >= 2 else
                       "error: you must specify a node, e.g. kubemu taint nodes node-1 key=value:NoSchedule")
    split = next((i for i, w in enumerate(words[1:], 1) if ":" in w or "=" in w or w.endswith("-")), len(words))
    names, specs = words[1:split], words[split:]
    if not specs:
        raise CliError("error: at least one taint update is required")
    add, remove = _parse_taints(specs)

    async def one(client: Client, name: str) -> str:
        async def attempt() -> str:
            node = await client.nodes.get(name)
            taints = list(node.spec.taints)
            for key, effect in remove:
                kept = [t for t in taints if not (t.key == key and (not effect or t.effect == effect))]
                if len(kept) == len(taints):
                    raise CliError(f'error: taint "{key}{":" + effect if effect else ""}" not found')
                taints = kept
            for t in add:
                same = [x for x in taints if x.key == t.key and x.effect == t.effect]
                if same and not args.overwrite:
                    raise CliError(f"error: node {name} already has {t.key} taint(s) with same effect(s) and "
                                   "--overwrite is false")
                taints = [x for x in taints if not (x.key == t.key and x.effect == t.effect)] + [t]
            del node.spec.taints[:]
            node.spec.taints.extend(taints)
            await client.nodes.update(node)
            return f"node/{name} {'tainted' if add else 'untainted'}"

        return await retry_on_conflict(attempt)

    async def go(client: Client) -> int:
        for name in names:
            try:
                print(await one(client, name))
            except errors.NotFound as e:
                raise CliError(server_error(e)) from None
        return 0

    return run_async(args, go)


def _set_unschedulable(args: argparse.Namespace, value: bool) -> int:
    verb = "cordoned" if value else "uncordoned"

    async def go(client: Client) -> int:
        for name in args.nodes:
            async def attempt(name: str = name) -> str:
                node = await client.nodes.get(name)
                if node.spec.unschedulable == value:
                    return f"node/{name} already {verb}"
                node.spec.unschedulable = value
                await client.nodes.update(node)
                return f"node/{name} {verb}"

            try:
                print(await retry_on_conflict(attempt))
            except errors.NotFound as e:
                raise CliError(server_error(e)) from None
        return 0

    return run_async(args, go)


def cmd_cordon(args: argparse.Namespace) -> int:
    return _set_unschedulable(args, True)


def cmd_uncordon(args: argparse.Namespace) -> int:
    return _set_unschedulable(args, False)


def cmd_api_resources(args: argparse.Namespace) -> int:
    rows = [("NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND")]
    for k in kinds.all_kinds():
        rows.append((k.plural, ",".join(k.short_names), k.api_version, str(k.namespaced).lower(), k.kind))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        print("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


# ---- parser ---------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    add_common(common, sub=True)
    p = argparse.ArgumentParser(prog="kubemu", description="kubemu: a Kubernetes cluster of real processes with "
                                "simulated containers. Commands behave like kubectl's.")
    add_common(p, sub=False)
    sub = p.add_subparsers(dest="verb", metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help, parents=[common])
        sp.set_defaults(func=fn)
        return sp

    def selection(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--selector", "-l", help="label selector, e.g. 'env in (prod,debug),app!=db'")
        sp.add_argument("--field-selector", help="field selector, e.g. spec.nodeName=node-1")
        sp.add_argument("--all-namespaces", "-A", action="store_true", help="across all namespaces")

    g = add("get", cmd_get, "Display one or many resources")
    g.add_argument("names", nargs="*", metavar="TYPE[.NAME]", help="TYPE [NAME...] or TYPE/NAME...")
    g.add_argument("--output", "-o", help="wide|yaml|json|name")
    selection(g)
    g.add_argument("--show-labels", action="store_true", help="show all labels as the last column")
    g.add_argument("--label-columns", "-L", action="append", help="labels to show as columns")
    g.add_argument("--watch", "-w", action="store_true", help="after listing, watch for changes")
    g.add_argument("--no-headers", action="store_true", help="do not print headers")

    for name, fn, text in (("apply", cmd_apply, "Apply a configuration to a resource by file name or stdin"),
                           ("create", cmd_create, "Create a resource from a file or from stdin")):
        a = add(name, fn, text)
        a.add_argument("--filename", "-f", action="append", help="file, folder or - for stdin")
        a.add_argument("--recursive", "-R", action="store_true", help="process folders recursively")
        a.add_argument("--dry-run", choices=("none", "client", "server"), default="none", nargs="?",
                       const="client")
        if name == "create":
            workloads.register_create(a)  # `create deployment NAME --image=...` beside `create -f`

    r = add("run", cmd_run, "Run a particular image in a pod")
    r.add_argument("name")
    r.add_argument("--image", help="the container image")
    r.add_argument("--labels", help="comma-separated labels, e.g. app=web,tier=front")
    r.add_argument("--env", action="append", help="environment variable KEY=VALUE (repeatable)")
    r.add_argument("--port", help="the port the container exposes")
    r.add_argument("--restart", default="Always", choices=("Always", "OnFailure", "Never"))
    r.add_argument("--image-pull-policy", choices=("Always", "IfNotPresent", "Never"))
    r.add_argument("--command", action="store_true", help="use the arguments after -- as the command")
    r.add_argument("--dry-run", choices=("none", "client", "server"), default="none")
    r.add_argument("--output", "-o", choices=("yaml", "json"))
    r.add_argument("args", nargs="*", help="arguments (after --)")

    d = add("describe", cmd_describe, "Show details of a specific resource or group of resources")
    d.add_argument("names", nargs="*", metavar="TYPE[.NAME]")
    selection(d)

    x = add("delete", cmd_delete, "Delete resources by file names, stdin, resources and names, or by selector")
    x.add_argument("names", nargs="*", metavar="TYPE[.NAME]")
    x.add_argument("--filename", "-f", action="append", help="file, folder or - for stdin")
    x.add_argument("--recursive", "-R", action="store_true")
    selection(x)
    x.add_argument("--all", action="store_true", help="delete all resources of the type in the namespace")
    x.add_argument("--grace-period", type=int, default=None, help="seconds to give the resource to terminate")
    x.add_argument("--force", action="store_true", help="delete at once, without waiting for the kubelet")
    x.add_argument("--now", action="store_true", help="grace period of 1 second")
    x.add_argument("--cascade", choices=("background", "foreground", "orphan"), default="background")
    x.add_argument("--wait", default=True, type=lambda v: v.lower() != "false", nargs="?", const=True,
                   help="wait until the resource is gone (default true)")
    x.add_argument("--timeout", type=float, default=0, help="seconds to wait (0: forever)")

    for name, fn, text in (("label", cmd_label, "Update the labels on a resource"),
                           ("annotate", cmd_annotate, "Update the annotations on a resource")):
        lab = add(name, fn, text)
        lab.add_argument("items", nargs="+", metavar="TYPE NAME KEY=VAL|KEY-")
        lab.add_argument("--overwrite", action="store_true", help="allow changing existing values")
        lab.add_argument("--selector", "-l")
        lab.add_argument("--all", action="store_true")
        lab.set_defaults(all_namespaces=False, field_selector="")

    lg = add("logs", cmd_logs, "Print the logs for a container in a pod")
    lg.add_argument("pod", metavar="POD")
    lg.add_argument("--container", "-c", help="the container (default: the pod's only container)")
    lg.add_argument("--previous", "-p", action="store_true", help="the previous, terminated instance")
    lg.add_argument("--follow", "-f", action="store_true", help="stream the log as it grows")
    lg.add_argument("--tail", type=int, default=-1, help="lines of the end of the log to show (-1: all)")

    ex = add("exec", cmd_exec, "Execute a command in a container")
    ex.add_argument("pod", metavar="POD")
    ex.add_argument("--container", "-c", help="the container (default: the pod's only container)")
    ex.add_argument("--stdin", "-i", action="store_true", help="accepted for kubectl compatibility")
    ex.add_argument("--tty", "-t", action="store_true", help="accepted for kubectl compatibility")
    ex.add_argument("cmd", nargs="*", metavar="-- COMMAND", help="the command, after --")

    t = add("taint", cmd_taint, "Update the taints on one or more nodes")
    t.add_argument("items", nargs="+", metavar="nodes NAME KEY=VAL:EFFECT|KEY:EFFECT-|KEY-")
    t.add_argument("--overwrite", action="store_true", help="replace a taint with the same key and effect")
    for name, fn, text in (("cordon", cmd_cordon, "Mark node as unschedulable"),
                           ("uncordon", cmd_uncordon, "Mark node as schedulable")):
        cp = add(name, fn, text)
        cp.add_argument("nodes", nargs="+", metavar="NODE")

    add("api-resources", cmd_api_resources, "Print the supported API resources")
    workloads.register(add)
    explain.register(add)
    cluster.register(sub, common)
    chaos.register(sub, common)
    return p


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    # Everything after `--` belongs to the container (run, exec), as in kubectl; argparse would mix it in.
    tail: list[str] | None = None
    if "--" in argv:
        i = argv.index("--")
        argv, tail = argv[:i], argv[i + 1:]
    args = parser.parse_args(argv)
    if tail is not None:
        if getattr(args, "verb", None) == "run":
            args.args = list(args.args) + tail
        elif getattr(args, "verb", None) == "exec":
            args.cmd = list(args.cmd) + tail
        elif getattr(args, "verb", None) == "create" and getattr(args, "create_kind", None):
            args.command = tail
        else:
            parser.error(f"unrecognized arguments: -- {' '.join(tail)}")
    if not getattr(args, "func", None):
        parser.print_help()
        sys.exit(0)
    try:
        code = args.func(args)
    except CliError as e:
        print(str(e), file=sys.stderr)
        code = 1
    except ManifestError as e:
        print(str(e), file=sys.stderr)
        code = 1
    except errors.ApiError as e:
        print(server_error(e), file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
