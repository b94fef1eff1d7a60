"""`kubemu create token NAME`: a ServiceAccount token from the TokenRequest API, with kubectl's flags and words
(staging/src/k8s.io/kubectl/pkg/cmd/create/create_token.go)."""

from __future__ import annotations

import argparse
import json
from typing import Any

import yaml

from kubemu.api.serialization import message_to_dict
from kubemu.cli import common
from kubemu.cli.common import CliError
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.durations import parse_duration
from kubemu.pb import authentication_pb2

BOUND_KINDS = {"Node": "v1", "Pod": "v1", "Secret": "v1"}


def _fail(message: str) -> Exception:
    err: Exception = CliError(message)
    return err


def build_request(args: argparse.Namespace) -> authentication_pb2.TokenRequest:
    """The TokenRequest the flags ask for, refused with kubectl's words where they do not go together."""
    if len(args.names) != 1:
        raise _fail(f"error: exactly one NAME is required, got {len(args.names)}\n"
                    "See 'kubemu create token -h' for help and examples")
    req = authentication_pb2.TokenRequest()
    for audience in args.audience or []:
        if not audience:
            raise _fail("error: --audience must not be an empty string")
        req.spec.audiences.append(audience)
    seconds = parse_duration(args.duration) if args.duration else 0.0
    if seconds < 0:
        raise _fail("error: --duration must be greater than or equal to 0")
    if seconds != int(seconds):
        raise _fail("error: --duration cannot be expressed in units less than seconds")
    if seconds:
        req.spec.expiration_seconds = int(seconds)
    kind, name, uid = args.bound_object_kind or "", args.bound_object_name or "", args.bound_object_uid or ""
    if kind:
        if kind not in BOUND_KINDS:
            raise _fail(f"error: supported --bound-object-kind values are {', '.join(sorted(BOUND_KINDS))}")
        if not name:
            raise _fail("error: --bound-object-name is required if --bound-object-kind is provided")
        ref = req.spec.bound_object_ref
        ref.kind, ref.api_version, ref.name = kind, BOUND_KINDS[kind], name
        if uid:
            ref.uid = uid
    elif name:
        raise _fail("error: --bound-object-name can only be set if --bound-object-kind is provided")
    elif uid:
        raise _fail("error: --bound-object-uid can only be set if --bound-object-kind is provided")
    return req


def _document(tr: authentication_pb2.TokenRequest) -> dict[str, Any]:
    doc: dict[str, Any] = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest"}
    doc.update(message_to_dict(tr))
    return doc


def cmd_create_token(args: argparse.Namespace) -> int:
    req = build_request(args)

    async def go(client: Client) -> int:
        try:
            tr = await client.service_accounts.create_token(args.names[0], common.namespace_of(args), req)
        except errors.ApiError as e:
            raise _fail(f"error: failed to create token: {e.message}") from None
        if args.output == "json":
            print(json.dumps(_document(tr), indent=4))
        elif args.output == "yaml":
            print(yaml.safe_dump(_document(tr), sort_keys=True, default_flow_style=False), end="")
        elif args.output == "name":
            print(f"tokenrequest.authentication.k8s.io/{tr.metadata.name}")
        else:
            print(tr.status.token)
        return 0

    return int(common.run_async(args, go))


def register(subs: Any, parent: argparse.ArgumentParser) -> None:
    """`create token` beside `create deployment`."""
    text = "Request a service account token"
    sp = subs.add_parser("token", help=text, description=text, parents=[parent])
    sp.set_defaults(func=cmd_create_token)
    sp.add_argument("names", nargs="*", metavar="SERVICE_ACCOUNT_NAME")
    sp.add_argument("--audience", action="append",
                    help="intended audience of the token (repeatable; default: the API server's)")
    sp.add_argument("--duration", help="requested lifetime of the token, e.g. 1h (default: the server's, 1h)")
    sp.add_argument("--bound-object-kind", help="kind of the object to bind the token to: Node, Pod, Secret")
    sp.add_argument("--bound-object-name", help="name of that object")
    sp.add_argument("--bound-object-uid", help="UID of that object")
    sp.add_argument("--output", "-o", choices=("yaml", "json", "name"))
