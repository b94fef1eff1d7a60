"""Patch semantics over Kubernetes JSON documents, shared by the REST and gRPC faces: JSON patch, JSON merge patch,
strategic merge patch and server-side apply with managedFields, as kube-apiserver applies them."""

from kubemu.api.patch.apply import apply, record_update
from kubemu.api.patch.json import json_patch
from kubemu.api.patch.merge import merge_patch
from kubemu.api.patch.strategic import strategic_merge_patch

__all__ = ["apply", "json_patch", "merge_patch", "record_update", "strategic_merge_patch"]
