"""The bootstrap RBAC policy every cluster has (kube-apiserver's plugin/pkg/auth/authorizer/rbac/bootstrappolicy,
created by its rbac/bootstrap-roles post-start hook): read once from bootstrap.yaml beside this module."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

from kubemu.api import kinds
from kubemu.api.serialization import fill_message

POLICY_FILE = Path(__file__).resolve().parent / "bootstrap.yaml"
BOOTSTRAP_LABEL = "kubernetes.io/bootstrapping"


@functools.cache
def _documents() -> tuple[dict[str, Any], ...]:
    with open(POLICY_FILE) as f:
        # libyaml where PyYAML has it: the pure-Python loader takes half a second over these 5000 lines.
        return tuple(d for d in yaml.load_all(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if d)


def objects(kind: str) -> tuple[Any, ...]:
    """Fresh objects of `kind` (ClusterRole, ClusterRoleBinding, Role, RoleBinding) of the bootstrap policy."""
    info = kinds.by_kind(kind)
    out = []
    for doc in _documents():
        if doc["kind"] != kind:
            continue
        obj = info.message()
        fill_message(obj, {k: v for k, v in doc.items() if k not in ("apiVersion", "kind")})
        out.append(obj)
    return tuple(out)
