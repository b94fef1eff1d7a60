"""`kubemu explain TYPE[.FIELD...]`: a kind's or a field's type and its fields, from the API's schema, as kubectl
explain prints them (kubectl's OpenAPI v3 template). Upstream's descriptions are not shipped, so there are none,
and each field takes one line."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from kubemu.api import kinds, openapi
from kubemu.cli.common import CliError

AddFn = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def explain(target: str) -> str:
    """The text for `kubemu explain TARGET` (`pods`, `pod.spec.containers.livenessProbe`, `deploy.spec`)."""
    resource, _, path = target.partition(".")
    try:
        info = kinds.by_resource(resource)
    except kinds.UnknownKind as e:
        raise CliError(f"error: {e}") from None
    try:
        field = openapi.field(info, path)
    except openapi.FieldNotFound as e:
        raise CliError(f"error: {e}") from None
    version = info.api_version.rpartition("/")[2]
    lines = [f"KIND:       {info.kind}"]
    if info.group:
        lines.append(f"GROUP:      {info.group}")
    lines += [f"VERSION:    {version}", ""]
    if path:
        lines.append(f"FIELD: {field.name} <{field.type_name}>")
        if field.enum:
            lines += ["ENUM:", *(f"    {value}" for value in field.enum)]
        lines.append("")
    children = field.children()
    if children:
        lines.append("FIELDS:")
        for child in children:
            lines.append(f"  {child.name}\t<{child.type_name}>" + (" -required-" if child.required else ""))
            if child.enum:
                lines.append(f"  enum: {', '.join(child.enum)}")
    return "\n".join(lines).rstrip("\n") + "\n"


def cmd_explain(args: argparse.Namespace) -> int:
    print(explain(args.target), end="")
    return 0


def register(add: AddFn) -> None:
    e = add("explain", cmd_explain, "Get documentation for a resource")
    e.add_argument("target", metavar="TYPE[.FIELD...]", help="e.g. pods, pod.spec.containers.livenessProbe")
