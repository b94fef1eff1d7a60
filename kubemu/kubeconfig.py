"""Kubeconfig files as kubectl reads them and kind writes them: loading and merging (`--kubeconfig`, `$KUBECONFIG`,
~/.kube/config), a context's server, CA, token and kubemu's gRPC address, and adding or removing a cluster's context."""

from __future__ import annotations

import base64
import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ENV = "KUBECONFIG"
EXTENSION = "kubemu"
GRPC_SERVER = "grpc-server"
"""The cluster entry's `extensions: [{name: kubemu, extension: {grpc-server: HOST:PORT}}]`: where kubemu's SDK finds
the gRPC address of a cluster whose `server` is the REST API's URL; kubectl and client-go ignore extensions."""
NAMED_LISTS = ("clusters", "users", "contexts")
LOCK_TIMEOUT_SECONDS = 10.0


class KubeconfigError(Exception):
    """A kubeconfig cannot be read, or lacks what is asked of it; the message says which file or entry."""


def recommended_path() -> Path:
    """~/.kube/config (clientcmd.RecommendedHomeFile)."""
    return Path.home() / ".kube" / "config"


def loading_paths(explicit: str | os.PathLike[str] | None = None) -> list[Path]:
    """kubectl's loading order: the `--kubeconfig` file alone; else every file of $KUBECONFIG (colon-separated,
    empty entries and repeats dropped); else ~/.kube/config."""
    if explicit:
        return [Path(explicit).expanduser()]
    env = os.environ.get(ENV, "")
    if env:
        paths: list[Path] = []
        for part in env.split(os.pathsep):
            if part and Path(part).expanduser() not in paths:
                paths.append(Path(part).expanduser())
        if paths:
            return paths
    return [recommended_path()]


def write_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The file a new context goes to, as `kind create cluster` picks it: `--kubeconfig`, else the first file of
    $KUBECONFIG, else ~/.kube/config."""
    return loading_paths(explicit)[0]


def empty() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": [], "users": [], "contexts": [],
            "current-context": ""}


def read_file(path: Path, *, resolve_paths: bool = True) -> dict[str, Any]:
    """One file, its relative file references made absolute (kubectl resolves them against the file's folder)
    unless it is read to be written back; an empty config for an empty file."""
    try:
        text = path.read_text()
    except OSError as e:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {e.strerror or e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise KubeconfigError(f"invalid kubeconfig {path}: {e}") from None
    if data is None:
        return empty()
    if not isinstance(data, dict):
        raise KubeconfigError(f"invalid kubeconfig {path}: not a mapping")
    for key in NAMED_LISTS:
        entries = data.get(key) or []
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise KubeconfigError(f"invalid kubeconfig {path}: {key} is not a list of named entries")
        data[key] = entries
    for entry in data["clusters"] if resolve_paths else ():
        _absolute(entry.get("cluster"), ("certificate-authority",), path.parent)
    for entry in data["users"] if resolve_paths else ():
        _absolute(entry.get("user"), ("client-certificate", "client-key", "tokenFile"), path.parent)
    return data


def _absolute(section: Any, keys: tuple[str, ...], base: Path) -> None:
    if isinstance(section, dict):
        for key in keys:
            value = section.get(key)
            if isinstance(value, str) and value and not os.path.isabs(value):
                section[key] = str(base / value)


def load(paths: Sequence[Path], *, must_exist: bool = False) -> dict[str, Any]:
    """The files merged as kubectl merges them: the first file to name a cluster, user or context wins that name,
    and the first to set current-context wins it. Missing files are skipped unless `must_exist` (--kubeconfig)."""
    merged = empty()
    seen: dict[str, set[str]] = {key: set() for key in NAMED_LISTS}
    for path in paths:
        if not path.exists():
            if must_exist:
                raise KubeconfigError(f"stat {path}: no such file or directory")
            continue
        data = read_file(path)
        for key in NAMED_LISTS:
            for entry in data[key]:
                name = str(entry.get("name", ""))
                if name not in seen[key]:
                    seen[key].add(name)
                    merged[key].append(entry)
        if not merged["current-context"] and data.get("current-context"):
            merged["current-context"] = str(data["current-context"])
        if not merged["preferences"] and data.get("preferences"):
            merged["preferences"] = data["preferences"]
    return merged


def find(config: dict[str, Any], key: str, name: str) -> dict[str, Any] | None:
    """The body of the entry `name` of clusters, users or contexts (its `cluster`, `user` or `context` mapping)."""
    for entry in config.get(key) or []:
        if entry.get("name") == name:
            body = entry.get(key[:-1])
            return body if isinstance(body, dict) else {}
    return None


@dataclass(frozen=True)
class Access:
    """How to reach and authenticate to the cluster of one context."""

    context: str
    server: str
    """The REST API's URL (the cluster's `server`)."""
    grpc_server: str
    """kubemu's gRPC address(es), from the cluster's kubemu extension; "" when it has none (not a kubemu cluster)."""
    ca_data: bytes | None = None
    token: str | None = None
    insecure_skip_tls_verify: bool = False


def grpc_server_of(cluster: dict[str, Any]) -> str:
    for ext in cluster.get("extensions") or []:
        if isinstance(ext, dict) and ext.get("name") == EXTENSION and isinstance(ext.get("extension"), dict):
            return str(ext["extension"].get(GRPC_SERVER) or "")
    return ""


def access(config: dict[str, Any], context: str | None = None) -> Access:
    """What the context (default: the current one) names; KubeconfigError when it or its cluster is missing."""
    name = context or str(config.get("current-context") or "")
    if not name:
        raise KubeconfigError("current-context is not set")
    ctx = find(config, "contexts", name)
    if ctx is None:
        raise KubeconfigError(f'context "{name}" does not exist')
    cluster = find(config, "clusters", str(ctx.get("cluster", "")))
    if cluster is None:
        raise KubeconfigError(f'cluster "{ctx.get("cluster", "")}" of context "{name}" does not exist')
    user = find(config, "users", str(ctx.get("user", ""))) or {}
    ca: bytes | None = None
    if cluster.get("certificate-authority-data"):
        ca = base64.b64decode(str(cluster["certificate-authority-data"]))
    elif cluster.get("certificate-authority"):
        ca = _read_bytes(str(cluster["certificate-authority"]))
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = _read_bytes(str(user["tokenFile"])).decode().strip()
    return Access(name, str(cluster.get("server") or ""), grpc_server_of(cluster), ca,
                  str(token) if token else None, bool(cluster.get("insecure-skip-tls-verify")))


def _read_bytes(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise KubeconfigError(f"cannot read {path}: {e.strerror or e}") from None


def resolve(explicit: str | os.PathLike[str] | None = None, context: str | None = None) -> Access:
    """The context's access from kubectl's loading order (`explicit` is --kubeconfig, which must exist)."""
    return access(load(loading_paths(explicit), must_exist=bool(explicit)), context)


def token_for(grpc_server: str) -> str | None:
    """The token kubectl's loading order gives for the kubemu cluster at `grpc_server` (its extension's address, as
    `kubemu up` wrote it): the current context's user when that context is on this cluster, else the first such
    context's; None when no kubeconfig names it. Unreadable kubeconfigs count as none."""
    try:
        config = load(loading_paths())
    except KubeconfigError:
        return None
    ours = {str(e.get("name")) for e in config["clusters"]
            if isinstance(e.get("cluster"), dict) and grpc_server_of(e["cluster"]) == grpc_server}
    if not ours:
        return None
    contexts = [str(e.get("name")) for e in config["contexts"]
                if isinstance(e.get("context"), dict) and e["context"].get("cluster") in ours]
    contexts.sort(key=lambda name: name != config.get("current-context"))
    for name in contexts:
        with contextlib.suppress(KubeconfigError):
            token = access(config, name).token
            if token:
                return token
    return None


# ---- writing ------------------------------------------------------------------------------------------------


def cluster_config(name: str, server: str, grpc_server: str, ca_data: bytes, token: str) -> dict[str, Any]:
    """A cluster's own kubeconfig (what `kind get kubeconfig` prints): one cluster, user and context named `name`,
    current, with the gRPC address in the cluster's kubemu extension."""
    config = empty()
    config["clusters"] = [{"name": name, "cluster": {
        "server": server,
        "certificate-authority-data": base64.b64encode(ca_data).decode(),
        "extensions": [{"name": EXTENSION, "extension": {GRPC_SERVER: grpc_server}}],
    }}]
    config["users"] = [{"name": name, "user": {"token": token}}]
    config["contexts"] = [{"name": name, "context": {"cluster": name, "user": name}}]
    config["current-context"] = name
    return config


def dump(config: dict[str, Any]) -> str:
    return str(yaml.safe_dump(config, sort_keys=False, default_flow_style=False))


def write(path: Path, config: dict[str, Any]) -> None:
    """Write-then-rename, created 0600 (a kubeconfig holds credentials), so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(dump(config))
    os.replace(tmp, path)


def add(path: Path, own: dict[str, Any]) -> str:
    """Put the cluster, user and context of `own` (a cluster_config) into the file at `path`, replacing entries of
    the same names and keeping every other, and make its context current, as `kind create cluster` does. Returns
    the current-context the file had before ("" for none)."""
    with _locked(path):
        config = read_file(path, resolve_paths=False) if path.exists() else empty()
        previous = str(config.get("current-context") or "")
        for key in NAMED_LISTS:
            for entry in own[key]:
                config[key] = [e for e in config[key] if e.get("name") != entry["name"]] + [entry]
        config["current-context"] = own["current-context"]
        write(path, config)
        return previous


def remove(path: Path, name: str, grpc_server: str, previous: str) -> bool:
    """Take out of `path` what `add` put there: the cluster, user and context named `name`, but only while the
    cluster is still ours (its gRPC address is `grpc_server`: a later `kubemu up` may have replaced it), and make
    `previous` current again when ours still is. Whether anything was removed; a missing file is left missing."""
    if not path.exists():
        return False
    with _locked(path):
        config = read_file(path, resolve_paths=False)
        cluster = find(config, "clusters", name)
        if cluster is None or grpc_server_of(cluster) != grpc_server:
            return False
        for key in NAMED_LISTS:
            config[key] = [e for e in config[key] if e.get("name") != name]
        if config.get("current-context") == name:
            config["current-context"] = previous
        write(path, config)
        return True


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """kubectl's lock: `<file>.lock` created exclusively for the time of a read-modify-write, then removed (kubectl
    and client-go take the same one when they edit the file)."""
    lock = path.with_name(path.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
    while True:
        try:
            os.close(os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise KubeconfigError(f"cannot lock {path}: {lock} exists (remove it if no kubectl is running)") \
                    from None
            time.sleep(0.05)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
