"""The per-pod in-memory filesystem: paths, files, directories, errors, and emptyDir volumes mounted in containers.
Two containers mounting one Volume must see each other's files, as in the Kubernetes emptyDir examples."""

from __future__ import annotations

import errno
import pickle
from collections.abc import Callable

import pytest

from kubelet.runtime.fs import IMAGE_DIRS, ContainerFS, FileSystem, FsError, Mount, Volume, image_root, normpath

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("path", "cwd", "want"),
    [
        ("/", "/", "/"),
        ("/a/b", "/", "/a/b"),
        ("a/b", "/x", "/x/a/b"),
        ("a", "/x/", "/x/a"),
        ("./a/./b/", "/", "/a/b"),
        ("../..", "/x/y/z", "/x"),
        ("/../../a", "/", "/a"),
        ("//a//b", "/", "/a/b"),
        (".", "/tmp", "/tmp"),
        ("..", "/", "/"),
    ],
)
def test_normpath(path: str, cwd: str, want: str) -> None:
    assert normpath(path, cwd) == want


def test_normpath_of_empty_path_is_enoent() -> None:
    with pytest.raises(FsError) as e:
        normpath("")
    assert e.value.kind == "ENOENT"


def test_fserror_is_an_oserror_with_posix_fields() -> None:
    e = FsError("ENOENT", "/tmp/x")
    assert isinstance(e, OSError)
    assert (e.errno, e.strerror, e.filename) == (errno.ENOENT, "No such file or directory", "/tmp/x")
    assert (e.kind, e.message, e.path) == ("ENOENT", "No such file or directory", "/tmp/x")
    again = pickle.loads(pickle.dumps(e))
    assert (again.kind, again.path) == ("ENOENT", "/tmp/x")
    assert FsError("EROFS").message == "Read-only file system"


def kind(exc: pytest.ExceptionInfo[FsError]) -> str:
    return exc.value.kind


def test_write_read_append_and_overwrite() -> None:
    fs = FileSystem()
    fs.mkdir("/tmp")
    fs.write("/tmp/x", b"hello\n")
    assert fs.read("/tmp/x") == b"hello\n"
    fs.write("/tmp/x", b"world\n", append=True)
    assert fs.read("/tmp/x") == b"hello\nworld\n"
    fs.write("/tmp/x", b"new")
    assert fs.read("/tmp/x") == b"new"
    fs.write("/tmp/fresh", b"a", append=True)
    assert fs.read("/tmp/fresh") == b"a"
    assert fs.read("x", cwd="/tmp") == b"new"
    assert fs.is_file("/tmp/x") and not fs.is_dir("/tmp/x") and fs.exists("/tmp/x")


def test_file_errors() -> None:
    fs = FileSystem()
    fs.mkdir("/d")
    fs.write("/f", b"")
    with pytest.raises(FsError) as e:
        fs.read("/missing")
    assert kind(e) == "ENOENT"
    with pytest.raises(FsError) as e:
        fs.read("/d")
    assert kind(e) == "EISDIR"
    with pytest.raises(FsError) as e:
        fs.write("/d", b"x")
    assert kind(e) == "EISDIR"
    with pytest.raises(FsError) as e:
        fs.write("/nodir/x", b"x")
    assert kind(e) == "ENOENT"
    with pytest.raises(FsError) as e:
        fs.write("/f/x", b"x")
    assert kind(e) == "ENOTDIR"
    with pytest.raises(FsError) as e:
        fs.read("/f/x")
    assert kind(e) == "ENOTDIR"
    assert not fs.exists("/f/x") and not fs.is_dir("/missing") and not fs.is_file("/d")


def test_mkdir() -> None:
    fs = FileSystem()
    fs.mkdir("/a")
    assert fs.is_dir("/a")
    with pytest.raises(FsError) as e:
        fs.mkdir("/a")
    assert kind(e) == "EEXIST"
    with pytest.raises(FsError) as e:
        fs.mkdir("/x/y")
    assert kind(e) == "ENOENT"
    fs.mkdir("/x/y/z", parents=True)
    assert fs.is_dir("/x/y/z")
    fs.mkdir("/x/y", parents=True)  # existing directories are fine with parents
    fs.write("/file", b"")
    with pytest.raises(FsError) as e:
        fs.mkdir("/file", parents=True)
    assert kind(e) == "EEXIST"
    with pytest.raises(FsError) as e:
        fs.mkdir("/file/sub", parents=True)
    assert kind(e) == "ENOTDIR"
    with pytest.raises(FsError) as e:
        fs.mkdir("/")
    assert kind(e) == "EEXIST"
    fs.mkdir("rel", cwd="/a")
    assert fs.is_dir("/a/rel")


def test_touch_creates_without_truncating() -> None:
    fs = FileSystem()
    fs.touch("/t")
    assert fs.read("/t") == b""
    fs.write("/t", b"keep")
    fs.touch("/t")
    assert fs.read("/t") == b"keep"
    with pytest.raises(FsError) as e:
        fs.touch("/no/t")
    assert kind(e) == "ENOENT"


def test_remove() -> None:
    fs = FileSystem()
    fs.mkdir("/d/sub", parents=True)
    fs.write("/d/sub/f", b"x")
    fs.write("/f", b"x")
    fs.remove("/f")
    assert not fs.exists("/f")
    with pytest.raises(FsError) as e:
        fs.remove("/f")
    assert kind(e) == "ENOENT"
    fs.remove("/f", force=True)
    with pytest.raises(FsError) as e:
        fs.remove("/d")
    assert kind(e) == "EISDIR"
    fs.remove("/d", recursive=True)
    assert not fs.exists("/d")
    fs.write("/g", b"")
    with pytest.raises(FsError) as e:
        fs.remove("/", recursive=True)
    assert kind(e) == "EBUSY"
    assert fs.listdir("/") == []


def test_listdir_is_sorted() -> None:
    fs = FileSystem()
    for name in ("b", "a", "C"):
        fs.write("/" + name, b"")
    fs.mkdir("/dir")
    assert fs.listdir("/") == ["C", "a", "b", "dir"]
    with pytest.raises(FsError) as e:
        fs.listdir("/a")
    assert kind(e) == "ENOTDIR"
    with pytest.raises(FsError) as e:
        fs.listdir("/nope")
    assert kind(e) == "ENOENT"


def test_image_root() -> None:
    fs = image_root("web-0")
    for d in IMAGE_DIRS:
        assert fs.is_dir(d)
    assert fs.read("/etc/hostname") == b"web-0\n"
    assert fs.read("/dev/null") == b""
    assert not image_root().exists("/etc/hostname")


def test_image_roots_are_each_their_own() -> None:
    # Every root starts from the same tree; what one container does to its root, however deep, no other sees.
    a, b = image_root("a"), image_root("b")
    a.write("/usr/bin/tool", b"x")
    a.write("/etc/hostname", b"changed\n")
    a.remove("/tmp", recursive=True)
    assert b.listdir("/usr/bin") == [] and b.read("/etc/hostname") == b"b\n" and b.is_dir("/tmp")
    c = image_root("c")
    assert c.listdir("/usr/bin") == [] and c.is_dir("/tmp") and c.read("/etc/hostname") == b"c\n"


def test_two_containers_share_an_emptydir() -> None:
    """The docs' two-container pod: debian writes /pod-data/index.html, nginx serves it from its html dir."""
    shared = Volume("shared-data")
    debian = ContainerFS(image_root(), {"/pod-data": shared})
    nginx = ContainerFS(image_root(), {"/usr/share/nginx/html": shared})
    debian.write("/pod-data/index.html", b"Hello from the debian container\n")
    assert nginx.read("/usr/share/nginx/html/index.html") == b"Hello from the debian container\n"
    assert nginx.listdir("/usr/share/nginx/html") == ["index.html"]
    assert shared.fs.read("/index.html") == b"Hello from the debian container\n"
    # Each container's root stays its own.
    debian.write("/tmp/only-debian", b"")
    assert not nginx.exists("/tmp/only-debian")
    nginx.remove("/usr/share/nginx/html/index.html")
    assert not debian.exists("/pod-data/index.html")


def test_mount_point_is_a_directory_visible_in_its_parent() -> None:
    c = ContainerFS(image_root(), {"/cache": Volume(), "/srv/www/": Volume()})
    assert c.is_dir("/cache") and c.is_mount_point("/cache") and c.is_mount_point("/srv/www")
    assert "cache" in c.listdir("/")
    assert c.listdir("/srv") == ["www"]
    assert set(c.mounts) == {"/cache", "/srv/www"}
    with pytest.raises(FsError) as e:
        c.mkdir("/cache")
    assert kind(e) == "EEXIST"


def test_relative_paths_route_through_mounts() -> None:
    v = Volume()
    c = ContainerFS(image_root(), {"/data": v})
    c.write("f", b"x", cwd="/data")
    c.write("../data/g", b"y", cwd="/tmp")
    assert v.fs.listdir("/") == ["f", "g"]
    assert c.read("./f", cwd="/data") == b"x"


def test_read_only_mount_refuses_writes() -> None:
    v = Volume("config")
    v.fs.write("/app.conf", b"k=v\n")
    c = ContainerFS(image_root(), {"/etc/app": Mount(v, read_only=True)})
    assert c.read("/etc/app/app.conf") == b"k=v\n"
    ops: list[Callable[[], None]] = [
        lambda: c.write("/etc/app/app.conf", b"x"),
        lambda: c.write("/etc/app/new", b"x", append=True),
        lambda: c.touch("/etc/app/t"),
        lambda: c.mkdir("/etc/app/d"),
        lambda: c.remove("/etc/app/app.conf"),
    ]
    for op in ops:
        with pytest.raises(FsError) as e:
            op()
        assert kind(e) == "EROFS"
        assert e.value.message == "Read-only file system"
    assert v.fs.read("/app.conf") == b"k=v\n"


def test_sub_path_mount() -> None:
    v = Volume()
    a = ContainerFS(image_root(), {"/var/www": Mount(v, sub_path="html")})
    b = ContainerFS(image_root(), {"/vol": v})
    assert v.fs.is_dir("/html")
    a.write("/var/www/index.html", b"hi")
    assert b.read("/vol/html/index.html") == b"hi"
    assert a.listdir("/var/www") == ["index.html"]


def test_nested_mount_takes_precedence() -> None:
    outer, inner = Volume("outer"), Volume("inner")
    c = ContainerFS(image_root(), {"/data": outer, "/data/cache": inner})
    c.write("/data/a", b"1")
    c.write("/data/cache/b", b"2")
    assert outer.fs.listdir("/") == ["a", "cache"]
    assert inner.fs.listdir("/") == ["b"]


def test_mount_point_cannot_be_removed() -> None:
    v = Volume()
    c = ContainerFS(image_root(), {"/usr/share/nginx/html": v})
    c.write("/usr/share/nginx/html/index.html", b"x")
    with pytest.raises(FsError) as e:
        c.remove("/usr", recursive=True)
    assert kind(e) == "EBUSY"
    with pytest.raises(FsError) as e:
        c.remove("/usr/share/nginx/html")
    assert kind(e) == "EISDIR"
    with pytest.raises(FsError) as e:
        c.remove("/usr/share/nginx/html", recursive=True)
    assert kind(e) == "EBUSY"
    assert v.fs.listdir("/") == []  # like rm -r on a mount point: the contents went
    assert c.is_dir("/usr/share/nginx/html")


def test_errors_name_the_container_path() -> None:
    c = ContainerFS(image_root(), {"/pod-data": Volume()})
    with pytest.raises(FsError) as e:
        c.read("/pod-data/missing")
    assert e.value.path == "/pod-data/missing"


def test_dev_null() -> None:
    c = ContainerFS(image_root())
    c.write("/dev/null", b"discarded")
    c.write("/dev/null", b"discarded", append=True)
    assert c.read("/dev/null") == b""
