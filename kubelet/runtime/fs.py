"""Per-pod in-memory filesystem: directories and files, emptyDir volumes and each container's mount table.
Errors are FsError with an errno name and the POSIX message, so the shell prints busybox-style diagnostics."""

from __future__ import annotations

import errno
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

MESSAGES: dict[str, str] = {
    "ENOENT": "No such file or directory",
    "EEXIST": "File exists",
    "ENOTDIR": "Not a directory",
    "EISDIR": "Is a directory",
    "ENOTEMPTY": "Directory not empty",
    "EROFS": "Read-only file system",
    "EBUSY": "Resource busy",
    "EINVAL": "Invalid argument",
}
"""The strerror text for each error kind FsError carries (musl's wording, as in busybox-based images)."""


class FsError(OSError):
    """A failed filesystem operation: `kind` is the errno name (ENOENT, ...), `message` its POSIX text."""

    def __init__(self, kind: str, path: str = "") -> None:
        self.kind = kind
        self.message = MESSAGES[kind]
        self.path = path
        super().__init__(getattr(errno, kind), self.message, path)

    def __reduce__(self) -> tuple[type[FsError], tuple[str, str]]:
        # OSError pickles through its (errno, strerror, filename) args, which do not fit this signature.
        return (FsError, (self.kind, self.path))


def normpath(path: str, cwd: str = "/") -> str:
    """The absolute, normalised form of `path` (relative paths resolve against `cwd`; `..` stops at `/`)."""
    if path == "":
        # POSIX: the empty pathname names no file (open("") fails with ENOENT).
        raise FsError("ENOENT", path)
    if not path.startswith("/"):
        path = cwd.rstrip("/") + "/" + path
    parts: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts:
                parts.pop()
            continue
        parts.append(seg)
    return "/" + "/".join(parts)


def _split(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


@dataclass
class _File:
    data: bytearray = field(default_factory=bytearray)
    mode: int = 0o644
    """The permission bits (what `stat -c %a` prints); kubemu enforces none of them."""


@dataclass
class _Dir:
    children: dict[str, _Dir | _File] = field(default_factory=dict)


class FileSystem:
    """A tree of directories and byte files, rooted at `/`; every path argument may be relative to `cwd`."""

    def __init__(self) -> None:
        self._root = _Dir()

    def _node(self, path: str) -> _Dir | _File:
        node: _Dir | _File = self._root
        for name in _split(path):
            if not isinstance(node, _Dir):
                raise FsError("ENOTDIR", path)
            child = node.children.get(name)
            if child is None:
                raise FsError("ENOENT", path)
            node = child
        return node

    def _parent(self, path: str) -> tuple[_Dir, str]:
        """The directory that holds `path`'s last component, which must exist; and that component."""
        parts = _split(path)
        if not parts:
            raise FsError("EBUSY", path)
        parent = self._node("/" + "/".join(parts[:-1]))
        if not isinstance(parent, _Dir):
            raise FsError("ENOTDIR", path)
        return parent, parts[-1]

    def exists(self, path: str, *, cwd: str = "/") -> bool:
        try:
            self._node(normpath(path, cwd))
        except FsError:
            return False
        return True

    def is_dir(self, path: str, *, cwd: str = "/") -> bool:
        try:
            return isinstance(self._node(normpath(path, cwd)), _Dir)
        except FsError:
            return False

    def is_file(self, path: str, *, cwd: str = "/") -> bool:
        try:
            return isinstance(self._node(normpath(path, cwd)), _File)
        except FsError:
            return False

    def mkdir(self, path: str, parents: bool = False, *, cwd: str = "/") -> None:
        """Create a directory; with `parents`, also missing ancestors, and an existing directory is fine."""
        p = normpath(path, cwd)
        if parents:
            node: _Dir = self._root
            for name in _split(p):
                child = node.children.get(name)
                if child is None:
                    child = node.children[name] = _Dir()
                elif not isinstance(child, _Dir):
                    raise FsError("EEXIST" if name == _split(p)[-1] else "ENOTDIR", p)
                node = child
            return
        if p == "/":
            raise FsError("EEXIST", p)
        parent, name = self._parent(p)
        if name in parent.children:
            raise FsError("EEXIST", p)
        parent.children[name] = _Dir()

    def write(self, path: str, data: bytes, append: bool = False, *, cwd: str = "/", mode: int | None = None) -> None:
        """Create or truncate (or with `append`, extend) a file; its directory must exist. A new file gets `mode`
        (0644 if not given); an existing one keeps its mode unless `mode` is given."""
        p = normpath(path, cwd)
        if p == "/":
            raise FsError("EISDIR", p)
        parent, name = self._parent(p)
        node = parent.children.get(name)
        if isinstance(node, _Dir):
            raise FsError("EISDIR", p)
        if node is None or not append:
            keep = node.mode if node is not None else 0o644
            parent.children[name] = _File(bytearray(data), keep if mode is None else mode)
        else:
            node.data.extend(data)
            if mode is not None:
                node.mode = mode

    def mode(self, path: str, *, cwd: str = "/") -> int:
        """The permission bits of a file (0755 for a directory)."""
        node = self._node(normpath(path, cwd))
        return node.mode if isinstance(node, _File) else 0o755

    def read(self, path: str, *, cwd: str = "/") -> bytes:
        node = self._node(normpath(path, cwd))
        if isinstance(node, _Dir):
            raise FsError("EISDIR", path)
        return bytes(node.data)

    def touch(self, path: str, *, cwd: str = "/") -> None:
        """Create an empty file unless `path` exists (there are no timestamps to update)."""
        p = normpath(path, cwd)
        if p == "/":
            return
        parent, name = self._parent(p)
        parent.children.setdefault(name, _File())

    def remove(self, path: str, recursive: bool = False, force: bool = False, *, cwd: str = "/") -> None:
        """Remove a file, or with `recursive` a directory tree; `force` ignores a missing path.

        Removing `/` recursively empties it and then fails with EBUSY, as rmdir of a mount point does.
        """
        p = normpath(path, cwd)
        try:
            node = self._node(p)
        except FsError as e:
            if force and e.kind == "ENOENT":
                return
            raise
        if isinstance(node, _Dir) and not recursive:
            raise FsError("EISDIR", p)
        if p == "/":
            self._root.children.clear()
            raise FsError("EBUSY", p)
        parent, name = self._parent(p)
        del parent.children[name]

    def listdir(self, path: str, *, cwd: str = "/") -> list[str]:
        """The names in a directory, sorted like `ls` sorts them in the C locale."""
        p = normpath(path, cwd)
        node = self._node(p)
        if not isinstance(node, _Dir):
            raise FsError("ENOTDIR", p)
        return sorted(node.children)


IMAGE_DIRS = ("/bin", "/dev", "/etc", "/home", "/proc", "/root", "/tmp", "/usr/bin", "/var/log", "/var/tmp", "/data")
"""The directories every simulated image starts with: a generic minimal Linux root, no image specifics."""


def _image_template() -> _Dir:
    fs = FileSystem()
    for d in IMAGE_DIRS:
        fs.mkdir(d, parents=True)
    fs.write("/dev/null", b"")
    return fs._root


_IMAGE_TEMPLATE = _image_template()


def _copy(d: _Dir) -> _Dir:
    return _Dir({name: _copy(c) if isinstance(c, _Dir) else _File(bytearray(c.data), c.mode)
                 for name, c in d.children.items()})


class _ImageRoot(FileSystem):
    """image_root's filesystem: the tree is copied from a template the first time anything looks at it. Every
    container start makes one and most are never read or written (path by path, making them was ~8% of a
    kubelet's CPU in churn)."""

    def __init__(self, hostname: str) -> None:  # no FileSystem.__init__: _root comes on first use
        self._hostname = hostname

    @cached_property
    def _root(self) -> _Dir:  # type: ignore[override]
        root = _copy(_IMAGE_TEMPLATE)
        if self._hostname:
            etc = root.children["etc"]
            assert isinstance(etc, _Dir)
            etc.children["hostname"] = _File(bytearray(self._hostname.encode() + b"\n"))
        return root


def image_root(hostname: str = "") -> FileSystem:
    """A fresh container root filesystem: IMAGE_DIRS, an empty /dev/null and, if given, /etc/hostname."""
    return _ImageRoot(hostname)


class Volume:
    """An emptyDir: one tree shared by every container of the pod that mounts it; it lives as long as the pod."""

    def __init__(self, name: str = "", fs: FileSystem | None = None) -> None:
        self.name = name
        self.fs = fs if fs is not None else FileSystem()

    def __repr__(self) -> str:
        return f"Volume({self.name!r})"


@dataclass(frozen=True)
class Mount:
    """A volumeMount: which volume, whether it refuses writes, and which sub-directory of it is mounted."""

    volume: Volume
    read_only: bool = False
    sub_path: str = ""


class ContainerFS:
    """One container's view: its own root filesystem with volumes mounted over paths of it.

    Paths under a mount path are routed to that volume (the longest mount path wins, as with nested
    mounts); `/dev/null` swallows writes and reads empty.
    """

    def __init__(self, root: FileSystem, mounts: Mapping[str, Volume | Mount] | None = None) -> None:
        self.root = root
        self.mounts: dict[str, Mount] = {}
        for path, m in (mounts or {}).items():
            mount = m if isinstance(m, Mount) else Mount(m)
            mp = normpath(path)
            self.mounts[mp] = mount
            if mount.sub_path and not mount.volume.fs.exists(normpath(mount.sub_path)):
                # The kubelet creates a missing subPath directory in the volume before starting the container (a
                # subPath naming a file, a ConfigMap key say, mounts that file).
                mount.volume.fs.mkdir(normpath(mount.sub_path), parents=True)
        # Longest first, so a mount nested inside another mount's path takes precedence.
        self._order = sorted(self.mounts, key=len, reverse=True)
        for mp in sorted(self.mounts, key=len):
            if mp == "/":
                continue
            # The runtime creates each mount point in whatever holds its parent (the root or an outer
            # volume), so `ls` of the parent shows it.
            parent, name = mp.rsplit("/", 1)
            _, fs, inner, _ = self._route(parent or "/", "/")
            try:
                fs.mkdir(inner.rstrip("/") + "/" + name, parents=True)
            except FsError:
                pass

    def _route(self, path: str, cwd: str) -> tuple[str, FileSystem, str, bool]:
        """(absolute path, the filesystem holding it, the path inside that filesystem, read-only)."""
        p = normpath(path, cwd)
        for mp in self._order:
            if p == mp or p.startswith(mp.rstrip("/") + "/"):
                m = self.mounts[mp]
                rest = p[len(mp) :] if mp != "/" else p
                inner = normpath(m.sub_path + "/" + rest.lstrip("/")) if m.sub_path else normpath(rest or "/")
                return p, m.volume.fs, inner, m.read_only
        return p, self.root, p, False

    @staticmethod
    def _as(p: str, e: FsError) -> FsError:
        # Errors raised inside a volume name the volume's path; the caller asked about the container's path.
        return FsError(e.kind, p)

    def _writable(self, path: str, cwd: str) -> tuple[str, FileSystem, str]:
        p, fs, inner, ro = self._route(path, cwd)
        if ro:
            raise FsError("EROFS", p)
        return p, fs, inner

    def exists(self, path: str, *, cwd: str = "/") -> bool:
        try:
            _, fs, inner, _ = self._route(path, cwd)
        except FsError:
            return False
        return fs.exists(inner)

    def is_dir(self, path: str, *, cwd: str = "/") -> bool:
        try:
            _, fs, inner, _ = self._route(path, cwd)
        except FsError:
            return False
        return fs.is_dir(inner)

    def is_file(self, path: str, *, cwd: str = "/") -> bool:
        try:
            _, fs, inner, _ = self._route(path, cwd)
        except FsError:
            return False
        return fs.is_file(inner)

    def is_mount_point(self, path: str, *, cwd: str = "/") -> bool:
        return normpath(path, cwd) in self.mounts

    def mkdir(self, path: str, parents: bool = False, *, cwd: str = "/") -> None:
        p, fs, inner = self._writable(path, cwd)
        try:
            fs.mkdir(inner, parents=parents)
        except FsError as e:
            raise self._as(p, e) from None

    def write(self, path: str, data: bytes, append: bool = False, *, cwd: str = "/") -> None:
        if normpath(path, cwd) == "/dev/null":
            return
        p, fs, inner = self._writable(path, cwd)
        try:
            fs.write(inner, data, append=append)
        except FsError as e:
            raise self._as(p, e) from None

    def mode(self, path: str, *, cwd: str = "/") -> int:
        p, fs, inner, _ = self._route(path, cwd)
        try:
            return fs.mode(inner)
        except FsError as e:
            raise self._as(p, e) from None

    def read(self, path: str, *, cwd: str = "/") -> bytes:
        p, fs, inner, _ = self._route(path, cwd)
        if p == "/dev/null":
            return b""
        try:
            return fs.read(inner)
        except FsError as e:
            raise self._as(p, e) from None

    def touch(self, path: str, *, cwd: str = "/") -> None:
        p, fs, inner = self._writable(path, cwd)
        try:
            fs.touch(inner)
        except FsError as e:
            raise self._as(p, e) from None

    def remove(self, path: str, recursive: bool = False, force: bool = False, *, cwd: str = "/") -> None:
        """Like FileSystem.remove; a mount point (or a directory holding one) cannot itself be removed (EBUSY)."""
        p = normpath(path, cwd)
        if recursive and any(mp != p and mp.startswith(p.rstrip("/") + "/") for mp in self.mounts):
            raise FsError("EBUSY", p)
        p, fs, inner = self._writable(p, "/")
        if p in self.mounts:
            # Like rm -r on a real mount point: the contents go, the mount point itself stays (EBUSY).
            if not recursive:
                raise FsError("EISDIR", p)
            for name in fs.listdir(inner):
                fs.remove(inner.rstrip("/") + "/" + name, recursive=True)
            raise FsError("EBUSY", p)
        try:
            fs.remove(inner, recursive=recursive, force=force)
        except FsError as e:
            raise self._as(p, e) from None

    def listdir(self, path: str, *, cwd: str = "/") -> list[str]:
        p, fs, inner, _ = self._route(path, cwd)
        try:
            names = set(fs.listdir(inner))
        except FsError as e:
            raise self._as(p, e) from None
        prefix = p.rstrip("/") + "/"
        for mp in self.mounts:
            if mp != p and mp.startswith(prefix) and "/" not in mp[len(prefix) :]:
                names.add(mp[len(prefix) :])
        return sorted(names)
