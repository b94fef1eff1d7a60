"""What a pod's simulated servers answer on a forwarded port (pods/portforward): an HTTP request gets the image's
page (nginx, httpd, or a line naming the simulated server); a port nobody listens on is refused as upstream's."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from email.utils import formatdate

from kubelet import images
from kubelet.runtime.fs import ContainerFS, FsError

NGINX_WELCOME = b"""<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>
</body>
</html>
"""
HTTPD_WORKS = b"<html><body><h1>It works!</h1></body></html>\n"

_DOC_ROOTS = {"nginx": ("/usr/share/nginx/html", "nginx/1.27.3", NGINX_WELCOME),
              "httpd": ("/usr/local/apache2/htdocs", "Apache/2.4.62 (Unix)", HTTPD_WORKS),
              "apache": ("/usr/local/apache2/htdocs", "Apache/2.4.62 (Unix)", HTTPD_WORKS)}
MAX_REQUEST_HEAD = 64 * 1024
"""A request head larger than this is answered 431 (nginx's large_client_header_buffers is smaller)."""


def refused_message(pod_uid: str, port: int) -> str:
    """The kubelet's error (`error forwarding port ...`) around containerd's, for a port nothing listens on.

    The sandbox id and network namespace are made up from the pod's uid, stable for the pod's life."""
    sandbox = hashlib.sha256(pod_uid.encode()).hexdigest()
    netns = f"/var/run/netns/cni-{uuid.UUID(sandbox[:32])}"
    return (f"error forwarding port {port} to pod {sandbox}, uid : failed to execute portforward in network "
            f'namespace "{netns}": failed to connect to localhost:{port} inside namespace "{sandbox}", IPv4: dial '
            f"tcp4 127.0.0.1:{port}: connect: connection refused IPv6 dial tcp6 [::1]:{port}: connect: connection "
            "refused ")


def request_complete(data: bytes) -> bool:
    """Whether `data` holds a whole request head (the simulated servers ignore request bodies)."""
    return b"\r\n\r\n" in data or b"\n\n" in data or len(data) > MAX_REQUEST_HEAD


def _response(code: int, reason: str, server: str, body: bytes, content_type: str, head: bool, now: float) -> bytes:
    headers = [f"HTTP/1.1 {code} {reason}", f"Server: {server}", f"Date: {formatdate(now, usegmt=True)}",
               f"Content-Type: {content_type}", f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + (b"" if head else body)


HOSTNAME_IMAGES = frozenset({"serve_hostname", "serve-hostname"})
"""Images whose server answers every request with the pod's hostname (as do `agnhost serve-hostname`, and
hello-app on its last line)."""


def _hostname_body(image: str, args: Sequence[str], hostname: str) -> bytes | None:
    name = images.image_name(image)
    if name in HOSTNAME_IMAGES or (name == "agnhost" and args and args[0] == "serve-hostname"):
        return hostname.encode()
    if name == "hello-app":
        tag = image.split("@", 1)[0].rsplit("/", 1)[-1].partition(":")[2]
        version = "2.0.0" if tag.startswith("2") else "1.0.0"
        return f"Hello, world!\nVersion: {version}\nHostname: {hostname}\n".encode()
    return None


def answer(image: str, port: int, fs: ContainerFS, data: bytes, now: float, *, hostname: str = "",
           args: Sequence[str] = ()) -> bytes:
    """The answer of the server of `image` on `port` to the request head in `data` (b"" when it is not HTTP:
    the server waits for more, as a real one would). `hostname` and `args` are the pod's and the container's:
    hostname servers answer with the one."""
    line = data.split(b"\n", 1)[0].decode("latin-1").strip()
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return b""
    method, target = parts[0], parts[1].split("?", 1)[0]
    head = method == "HEAD"
    if len(data) > MAX_REQUEST_HEAD:
        return _response(431, "Request Header Fields Too Large", "kubemu", b"", "text/plain", head, now)
    name = images.image_name(image)
    own = _hostname_body(image, args, hostname) if hostname else None
    if own is not None:
        return _response(200, "OK", "kubemu", own, "text/plain; charset=utf-8", head, now)
    site = _DOC_ROOTS.get(name)
    if site is None:
        body = f"kubemu: simulated server of image {image} listening on port {port}\n".encode()
        return _response(200, "OK", "kubemu", body, "text/plain; charset=utf-8", head, now)
    root, server, default = site
    path = root + (target + "index.html" if target.endswith("/") else target)
    try:
        body = fs.read(path)
    except FsError:
        if target != "/":
            body = (f"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found"
                    f"</h1></center>\r\n<hr><center>{server.split(' ')[0]}</center>\r\n</body>\r\n</html>\r\n").encode()
            return _response(404, "Not Found", server, body, "text/html", head, now)
        body = default
    return _response(200, "OK", server, body, "text/html", head, now)
