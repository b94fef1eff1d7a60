"""What every `kubemu` command shares: finding the apiserver, running a command's async body with a client,
kubectl's error and naming formats, the resource argument forms, and the options every command takes."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

import yaml

from kubemu import kubeconfig
from kubemu.api import kinds, serialization
from kubemu.cli import cluster
from kubemu.client import errors
from kubemu.client.client import Client


class CliError(Exception):
    """A user-facing failure: the message is printed as is and the exit code is 1."""


# ---- plumbing -------------------------------------------------------------------------------------


def _access(args: argparse.Namespace) -> kubeconfig.Access | None:
    """The cluster a command talks to when --server does not say: `--kubeconfig`; else the cluster of an explicit
    state folder (--state-dir, $KUBEMU_STATE_DIR); else the current context of $KUBECONFIG's files or of
    ~/.kube/config when it is a kubemu cluster's; else the cluster of ~/.kubemu."""
    explicit = getattr(args, "kubeconfig", None)
    if explicit:
        try:
            found = kubeconfig.resolve(explicit)
        except kubeconfig.KubeconfigError as e:
            raise CliError(f"error: {e}") from None
        if not found.grpc_server and not _given_server(args):
            raise CliError(f'error: the cluster of context "{found.context}" in {explicit} has no kubemu gRPC address '
                           f"(extension {kubeconfig.EXTENSION}/{kubeconfig.GRPC_SERVER}): pass --server HOST:PORT")
        return found
    if getattr(args, "state_dir", None) or os.environ.get(cluster.STATE_ENV):
        return cluster.local_access(cluster.state_dir(args.state_dir))
    try:
        found = kubeconfig.resolve()
        if found.grpc_server:
            return found
    except kubeconfig.KubeconfigError:
        pass  # no kubeconfig, or not one of kubemu's: as before kubeconfigs, the default state folder's cluster
    return cluster.local_access(cluster.state_dir(None))


def _given_server(args: argparse.Namespace) -> str:
    return str(args.server or os.environ.get("KUBEMU_SERVER") or "")


def connection(args: argparse.Namespace) -> tuple[str, str]:
    """The apiserver's gRPC address and the token to send: --server or $KUBEMU_SERVER for the address (with the token
    of the kubeconfig context on that address, else keeping the current one's, as kubectl's --server does), else
    the kubeconfig's (see _access); --token for the token."""
    given = _given_server(args)
    found = _access(args)
    address = given or (found.grpc_server if found else "")
    if not address:
        raise CliError(
            "error: no kubemu apiserver is known: pass --server HOST:PORT, set KUBEMU_SERVER, "
            "or start a local cluster with 'kubemu up'"
        )
    # Unless --kubeconfig or a state folder picks the credentials, a kubeconfig context on the given gRPC address
    # has its token (several clusters' contexts may sit in one file); otherwise --server keeps the chosen user, as
    # kubectl's does. "" rather than None: the Client would
    # look for a token itself, and what this function found is the answer.
    explicit = (getattr(args, "kubeconfig", None) or getattr(args, "state_dir", None)
                or os.environ.get(cluster.STATE_ENV))
    named = kubeconfig.token_for(given) if given and not explicit else None
    return address, getattr(args, "token", None) or named or (found.token if found else None) or ""


def server_address(args: argparse.Namespace) -> str:
    return connection(args)[0]


def run_async(args: argparse.Namespace, fn: Callable[[Client], Awaitable[int]]) -> int:
    address, token = connection(args)

    async def go() -> int:
        async with Client(address, retry_for=float(args.request_timeout), token=token) as client:
            return await fn(client)

    try:
        return asyncio.run(go())
    except errors.Unavailable:
        raise CliError(
            f"The connection to the server {address} was refused - did you specify the right host or port?"
        ) from None
    except errors.Unauthorized:
        raise CliError("error: You must be logged in to the server (Unauthorized)") from None


def server_error(e: errors.ApiError) -> str:
    return f"Error from server ({e.reason}): {e.message}"


def ref(obj: Any) -> str:
    """`pod/web`, `deployment.apps/web`: how kubectl names an object in its messages."""
    info = kinds.of_message(obj)
    return f"{qualified(info)}/{obj.metadata.name}"


def qualified(info: kinds.KindInfo) -> str:
    return f"{info.singular}.{info.group}" if info.group else info.singular


def namespace_of(args: argparse.Namespace) -> str:
    return str(args.namespace or "default")


def _is_resource(name: str) -> bool:
    try:
        kinds.by_resource(name)
    except kinds.UnknownKind:
        return False
    return True


def parse_type_args(names: list[str]) -> list[tuple[kinds.KindInfo, list[str]]]:
    """`pods`, `pods web db`, `pod/web deploy/x`, `pods,nodes`: kubectl's resource argument forms."""
    if not names:
        raise CliError(
            "error: You must specify the type of resource to get. Use \"kubemu api-resources\" for a complete list"
        )
    out: list[tuple[kinds.KindInfo, list[str]]] = []
    try:
        if all("/" in n for n in names):
            for n in names:
                t, _, name = n.partition("/")
                info = kinds.by_resource(t)
                if out and out[-1][0] is info:
                    out[-1][1].append(name)
                else:
                    out.append((info, [name]))
            return out
        if any("/" in n for n in names):
            raise CliError("error: there is no need to specify a resource type as a separate argument when "
                           "passing arguments in resource/name form (e.g. 'kubemu get resource/<resource_name>' "
                           "instead of 'kubemu get resource resource/<resource_name>'")
        types = names[0].split(",")
        if len(types) > 1 and len(names) > 1:
            raise CliError("error: you may only specify a single resource type when naming objects")
        for t in types:
            category = kinds.in_category(t.lower())
            if category and not _is_resource(t):
                out += [(info, list(names[1:])) for info in category]  # `all`: what the category names
            else:
                out.append((kinds.by_resource(t), list(names[1:])))
    except kinds.UnknownKind as e:
        raise CliError(f"error: {e}") from None
    return out


def add_common(parser: argparse.ArgumentParser, *, sub: bool) -> None:
    """The options every command takes, before or after the command name. On subcommands they default to
    SUPPRESS so that a value given before the command is not overwritten by the subcommand's default."""

    def d(value: Any) -> Any:
        return argparse.SUPPRESS if sub else value

    parser.add_argument("--server", "-s", default=d(None), help="apiserver gRPC address HOST:PORT (else "
                        "$KUBEMU_SERVER, else the kubeconfig's or the local cluster's: see --kubeconfig)")
    parser.add_argument("--kubeconfig", default=d(None), metavar="PATH",
                        help="kubeconfig whose current context names the cluster (kubemu's gRPC address in its "
                             "extension) and the token; without it: the cluster of --state-dir or $KUBEMU_STATE_DIR "
                             "when given, else the current context of $KUBECONFIG (or ~/.kube/config) when it is a "
                             "kubemu cluster's, else the cluster of ~/.kubemu")
    parser.add_argument("--token", default=d(None), help="bearer token for the apiserver (else the kubeconfig's)")
    parser.add_argument("--state-dir", default=d(None),
                        help="local cluster state folder (else $KUBEMU_STATE_DIR, else ~/.kubemu)")
    parser.add_argument("--namespace", "-n", default=d(None), help="namespace (default: default)")
    parser.add_argument("--request-timeout", default=d(5.0), type=float,
                        help="seconds to keep retrying an unreachable apiserver")


def output_objects(objs: list[Any], fmt: str, list_rv: str = "") -> str:
    if fmt == "name":
        return "".join(ref(o) + "\n" for o in objs)
    dicts = [serialization.to_dict(o) for o in objs]
    if len(dicts) == 1:
        data: Any = dicts[0]
    else:
        data = {"apiVersion": "v1", "items": dicts, "kind": "List", "metadata": {"resourceVersion": list_rv}}
    if fmt == "json":
        return json.dumps(data, indent=4) + "\n"
    return yaml.safe_dump(data, sort_keys=True, default_flow_style=False)


async def select_objects(
    client: Client, args: argparse.Namespace, info: kinds.KindInfo, names: list[str]
) -> tuple[list[Any], str, list[str]]:
    """Objects named, or selected by -l/--field-selector; returns them, the list revision, and errors."""
    rc = client.resource(info.kind)
    ns = None if getattr(args, "all_namespaces", False) else namespace_of(args)
    if names:
        objs, errs = [], []
        for name in names:
            try:
                objs.append(await rc.get(name, ns))
            except errors.NotFound as e:
                errs.append(server_error(e))
        return objs, "", errs
    listed = await rc.list(
        ns, label_selector=getattr(args, "selector", "") or "",
        field_selector=getattr(args, "field_selector", "") or "",
    )
    return listed.items, listed.resource_version, []
