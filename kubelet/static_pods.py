"""Static pods from --static-pod-path: a file added starts a pod, changed replaces it, removed stops it, with
or without an apiserver. Names, annotations and tolerations as upstream (pkg/kubelet/config/common.go)."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from kubemu.api.serialization import DecodeError, from_dict, set_time
from kubemu.pb import core_pb2

log = structlog.get_logger()

CONFIG_HASH = "kubernetes.io/config.hash"
CONFIG_SOURCE = "kubernetes.io/config.source"
CONFIG_SEEN = "kubernetes.io/config.seen"
CONFIG_MIRROR = "kubernetes.io/config.mirror"


@dataclass
class StaticPod:
    path: Path
    pod: core_pb2.Pod
    hash: str


def load_static_pod(path: Path, node_name: str, text: str) -> core_pb2.Pod:
    """Parse one manifest file into the static pod the kubelet runs."""
    import yaml

    data: Any = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a Pod manifest")
    try:
        pod = from_dict(data)
    except DecodeError as e:
        raise ValueError(f"{path}: {e}") from None
    if not isinstance(pod, core_pb2.Pod):
        raise ValueError(f"{path}: expected kind Pod, got {data.get('kind')}")
    digest = hashlib.md5(text.encode() + node_name.encode()).hexdigest()
    meta = pod.metadata
    meta.name = f"{meta.name}-{node_name.lower()}"
    meta.namespace = meta.namespace or "default"
    meta.uid = str(uuid.UUID(digest))
    meta.annotations[CONFIG_HASH] = digest
    meta.annotations[CONFIG_SOURCE] = "file"
    meta.annotations[CONFIG_SEEN] = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())
    set_time(meta.creation_timestamp, float(int(time.time())))
    pod.spec.node_name = node_name
    if not any(t.operator == "Exists" and not t.key and t.effect == "NoExecute" for t in pod.spec.tolerations):
        pod.spec.tolerations.add(operator="Exists", effect="NoExecute")
    if not pod.spec.restart_policy:
        pod.spec.restart_policy = "Always"
    pod.status.phase = "Pending"
    return pod


class StaticPodSource:
    def __init__(self, folder: Path | None, node_name: str) -> None:
        self.folder = folder
        self.node_name = node_name
        self.pods: dict[Path, StaticPod] = {}
        self._mtimes: dict[Path, tuple[float, int]] = {}
        self.log = log.bind(component="kubelet", node=node_name)

    def present(self) -> bool:
        """Whether a scan could find anything: the folder exists, or pods from it still run."""
        return self.folder is not None and (bool(self.pods) or self.folder.is_dir())

    def scan(self) -> tuple[list[StaticPod], list[StaticPod], list[StaticPod]]:
        """Compare the folder with what runs: (added, changed, removed). Dot-files are ignored, as upstream."""
        if self.folder is None or not self.folder.is_dir():
            files: list[Path] = []
        else:
            files = sorted(p for p in self.folder.iterdir()
                           if p.is_file() and not p.name.startswith(".") and p.suffix in (".yaml", ".yml", ".json"))
        added, changed, removed = [], [], []
        sigs: dict[Path, tuple[float, int]] = {}
        for path in files:
            try:
                st = path.stat()
            except OSError:  # removed since the listing (a manifest being replaced): gone for this scan
                continue
            sigs[path] = (st.st_mtime, st.st_size)
        for path, sig in sigs.items():
            if self._mtimes.get(path) == sig:
                continue
            self._mtimes[path] = sig
            try:
                text = path.read_text()
                pod = load_static_pod(path, self.node_name, text)
            except (OSError, ValueError) as e:
                self.log.warning("static_pod.invalid", file=str(path), error=str(e))
                continue
            sp = StaticPod(path, pod, pod.metadata.annotations[CONFIG_HASH])
            old = self.pods.get(path)
            if old is None:
                added.append(sp)
            elif old.hash != sp.hash:
                changed.append(sp)
            else:
                continue
            self.pods[path] = sp
        for path in [p for p in self.pods if p not in sigs]:
            removed.append(self.pods.pop(path))
            self._mtimes.pop(path, None)
        return added, changed, removed


def mirror_of(static: core_pb2.Pod, node: core_pb2.Node | None) -> core_pb2.Pod:
    """The mirror pod that shows a static pod in the API."""
    mirror = core_pb2.Pod()
    mirror.CopyFrom(static)
    mirror.metadata.uid = ""
    mirror.metadata.resource_version = ""
    mirror.metadata.annotations[CONFIG_MIRROR] = static.metadata.annotations[CONFIG_HASH]
    if node is not None:
        mirror.metadata.owner_references.add(api_version="v1", kind="Node", name=node.metadata.name,
                                             uid=node.metadata.uid, controller=True)
    mirror.ClearField("status")
    return mirror
