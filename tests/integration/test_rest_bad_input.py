"""The REST face under bad input, against the session's real apiserver process over HTTPS on loopback: garbage bodies,
wrong content types, truncated chunked uploads, oversize bodies, unknown paths, bad query values, a watcher that
never reads, and 1,000 random requests. Every answer is a well-formed metav1.Status or the object, the process
survives (same PID, /readyz 200), and nothing refused is stored."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import ApiServer, unique

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
API_PREFIXES = ("/api/", "/apis/", "/openapi/")


def pod(name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}, **extra}


class Raw:
    """A plain synchronous HTTPS client of the REST API (http.client): one keep-alive connection, opened again after
    any answer that closes it."""

    def __init__(self, server: ApiServer) -> None:
        assert server.rest is not None and server.rest_port is not None
        self.port = server.rest_port
        self.token = server.rest.token
        self.ctx = ssl.create_default_context(cafile=str(server.rest.ca))
        self.conn: http.client.HTTPSConnection | None = None

    def _connection(self) -> http.client.HTTPSConnection:
        if self.conn is None:
            self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=30)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def call(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        hdrs = {"Authorization": f"Bearer {self.token}"}
        if content_type is not None:
            hdrs["Content-Type"] = content_type
        hdrs.update(headers or {})
        conn = self._connection()
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if r.getheader("Connection", "").lower() == "close" or r.will_close:
            self.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def json(self, method: str, path: str, doc: Any = None, **kw: Any) -> tuple[int, Any]:
        body = json.dumps(doc).encode() if doc is not None else None
        code, _, data = self.call(method, path, body, "application/json" if body is not None else None, **kw)
        return code, json.loads(data)

    def pod_names(self, namespace: str) -> set[str]:
        code, doc = self.json("GET", f"/api/v1/namespaces/{namespace}/pods")
        assert code == 200, doc
        return {i["metadata"]["name"] for i in doc["items"]}


@pytest.fixture
def raw(apiserver: ApiServer) -> Iterator[Raw]:
    r = Raw(apiserver)
    yield r
    r.close()


@pytest.fixture
def ns(raw: Raw) -> str:
    name = unique("bad")
    code, doc = raw.json("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": name}})
    assert code == 201, doc
    return name


@pytest.fixture(autouse=True)
def survives(apiserver: ApiServer, raw: Raw) -> Iterator[None]:
    """Whatever a test sends, the apiserver process is the same afterwards and ready."""
    assert apiserver.proc is not None
    pid = apiserver.proc.pid
    yield
    assert apiserver.proc.poll() is None and apiserver.proc.pid == pid, apiserver.tail()
    code, _, body = raw.call("GET", "/readyz")
    assert (code, body) == (200, b"ok")


def assert_status(code: int, headers: dict[str, str], body: bytes, expected: int | None = None) -> dict[str, Any]:
    """A well-formed failure: a metav1.Status as JSON whose code is the HTTP status."""
    if expected is not None:
        assert code == expected, body[:500]
    assert headers.get("content-type", "").startswith("application/json"), (headers, body[:300])
    doc = json.loads(body)
    assert isinstance(doc, dict), doc
    assert (doc.get("kind"), doc.get("apiVersion"), doc.get("code")) == ("Status", "v1", code), doc
    assert doc.get("status") == "Failure" and isinstance(doc.get("message"), str) and doc.get("reason"), doc
    return doc


# ---- bodies and content types ---------------------------------------------------------------------------------------


GARBAGE = [
    b"", b"{", b"}", b"[]", b"null", b"42", b'"pod"', b"\x00\xff\xfe garbage", b"\xff" * 64, b'{"kind": ',
    b'{"apiVersion":"v1","kind":"Pod","metadata":', b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" +
    b"}" * 50_000, b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":"nope"}}',
    b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":7}]}}',
    b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":["x"]}}', b'{"apiVersion":"v1","kind":"Pod","metadata":7}',
    b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","labels":{"a":1}}}',
    b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"c","image":"i",'
    b'"resources":{"requests":{"cpu":"lots"}}}]}}',
    b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"c","image":"i",'
    b'"ports":[{"containerPort":"eighty"}]}]}}',
    b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","creationTimestamp":"yesterday"}}',
    '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\u00e9\u4e2d"}}'.encode(),
    b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"c","image":"i"}],'
    b'"priority":1e400}}',
]

YAML_GARBAGE = [b"a: [", b"- - -\n  : :", b"!!python/object:os.system ls", b"&a [*a]", (
                b"a: &a ['x','x','x','x','x','x','x','x']\n"
                b"b: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b]\n"
                b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e]\n"),
                b"apiVersion: v1\nkind: Pod\nmetadata: {name: [x]}\n", b"\t\x00"]


def test_garbage_bodies_get_a_status_and_store_nothing(raw: Raw, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/pods"
    for body in GARBAGE:
        code, headers, data = raw.call("POST", path, body, "application/json")
        doc = assert_status(code, headers, data)
        assert code in (400, 422), (body[:80], doc)
    for body in YAML_GARBAGE:
        code, headers, data = raw.call("POST", path, body, "application/yaml")
        doc = assert_status(code, headers, data)
        assert code in (400, 422), (body[:80], doc)
    # The same garbage as an update of a pod that exists leaves the pod as it was.
    code, created = raw.json("POST", path, pod("keep"))
    assert code == 201, created
    for body in GARBAGE:
        code, headers, data = raw.call("PUT", f"{path}/keep", body, "application/json")
        assert_status(code, headers, data)
        assert code in (400, 409, 422), (body[:80], data[:300])
    code, now = raw.json("GET", f"{path}/keep")
    assert now["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert raw.pod_names(ns) == {"keep"}


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml",
                                   "multipart/form-data; boundary=x", "application/x-www-form-urlencoded",
                                   "application/json-patch+json", "garbage", "application/json; charset=ebcdic"])
def test_wrong_content_types_get_415(raw: Raw, ns: str, ctype: str) -> None:
    body = json.dumps(pod("typed")).encode()
    code, headers, data = raw.call("POST", f"/api/v1/namespaces/{ns}/pods", body, ctype)
    if ctype.startswith("application/json;"):
        # A parameter does not change the media type (upstream ignores an unknown charset for JSON).
        assert code in (201, 415), data[:300]
        if code == 201:
            return
    assert_status(code, headers, data, 415)
    assert raw.pod_names(ns) == set()


def test_json_sent_as_kubernetes_protobuf_is_refused_without_the_magic_and_nothing_stored(raw: Raw, ns: str) -> None:
    # kube-apiserver's protobuf serializer wants its 4-byte prefix "k8s\x00" before anything else (400).
    body = json.dumps(pod("typed")).encode()
    code, headers, data = raw.call("POST", f"/api/v1/namespaces/{ns}/pods", body, "application/vnd.kubernetes.protobuf")
    assert_status(code, headers, data, 400)
    assert b"expected prefix [107 56 115 0]" in data
    assert raw.pod_names(ns) == set()


def test_a_patch_with_a_type_that_is_not_a_patch_gets_415(raw: Raw, ns: str) -> None:
    code, _ = raw.json("POST", f"/api/v1/namespaces/{ns}/pods", pod("p"))
    assert code == 201
    for ctype in ("application/json", "text/plain", "application/yaml"):
        code, headers, data = raw.call("PATCH", f"/api/v1/namespaces/{ns}/pods/p", b"{}", ctype)
        assert_status(code, headers, data, 415)


# ---- chunked and oversize uploads ----------------------------------------------------------------------------------


def _tls_socket(apiserver: ApiServer, rcvbuf: int | None = None) -> ssl.SSLSocket:
    assert apiserver.rest is not None and apiserver.rest_port is not None
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", apiserver.rest_port))
    ctx = ssl.create_default_context(cafile=str(apiserver.rest.ca))
    return ctx.wrap_socket(sock, server_hostname="127.0.0.1")


def _head(apiserver: ApiServer, method: str, path: str, extra: str = "") -> bytes:
    assert apiserver.rest is not None
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {apiserver.rest.token}\r\n"
            f"{extra}\r\n").encode()


@pytest.mark.parametrize("cut", ["in the chunk size", "mid-chunk", "after a chunk", "before the last chunk"])
def test_truncated_chunked_uploads_store_nothing(apiserver: ApiServer, raw: Raw, ns: str, cut: str) -> None:
    body = json.dumps(pod("chunked")).encode()
    head = _head(apiserver, "POST", f"/api/v1/namespaces/{ns}/pods",
                 "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n")
    chunk = f"{len(body):x}\r\n".encode() + body + b"\r\n"
    sent = {"in the chunk size": head + b"1", "mid-chunk": head + chunk[:len(chunk) // 2],
            "after a chunk": head + chunk, "before the last chunk": head + chunk + b"0\r\n"}[cut]
    with _tls_socket(apiserver) as s:
        s.sendall(sent)
        time.sleep(0.2)
    with _tls_socket(apiserver) as s:  # a half-closed upload: the client shuts its side down and waits
        s.sendall(sent)
        s.shutdown(socket.SHUT_WR)
        try:
            answer = s.recv(65536)
        except (OSError, ssl.SSLError):
            answer = b""
        assert not answer.startswith(b"HTTP/1.1 201"), answer[:300]
    time.sleep(0.2)
    assert raw.pod_names(ns) == set()
    # A whole chunked upload is taken, as upstream takes one.
    with _tls_socket(apiserver) as s:
        s.sendall(head + chunk + b"0\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 201")
    assert raw.pod_names(ns) == {"chunked"}


def test_bodies_over_3_mib_get_413(apiserver: ApiServer, raw: Raw, ns: str) -> None:
    big = pod("big")
    big["metadata"]["annotations"] = {"a": "x" * (3 * MIB + 10)}
    body = json.dumps(big).encode()
    path = f"/api/v1/namespaces/{ns}/pods"
    code, headers, data = raw.call("POST", path, body, "application/json")
    assert_status(code, headers, data, 413)
    # Chunked, so that no Content-Length announces it: refused while it is read.
    head = _head(apiserver, "POST", path, "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n")
    with _tls_socket(apiserver) as s:
        s.sendall(head)
        answer = b""
        try:
            for i in range(0, len(body), 256 * 1024):
                part = body[i:i + 256 * 1024]
                s.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may answer and close before the rest is sent
        try:
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                more = s.recv(65536)
                if not more:
                    break
                answer += more
        except OSError:
            pass
    head_part, _, payload = answer.partition(b"\r\n\r\n")
    assert head_part.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b'"reason":"RequestEntityTooLarge"' in payload, payload[:300]
    assert raw.pod_names(ns) == set()


# ---- paths and query values ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/api/v2/pods", "/api/v1/nothings", "/apis/nope.example.com/v1/things", "/apis/apps/v9/deployments",
    "/api/v1/namespaces/x/nothings", "/api/v1/namespaces/x/pods/a/b/c", "/api/v1/namespaces/x/pods/a/bogus",
    "/api/v1/namespaces/x/nodes", "/apis/apps/v1/namespaces/x/pods",
    "/api/v1/namespaces/x/pods/%2F", "/openapi/v3/nope/v1",
])
def test_unknown_paths_get_404_status(raw: Raw, path: str) -> None:
    code, headers, data = raw.call("GET", path)
    assert_status(code, headers, data, 404)


def test_paths_outside_the_api_get_upstreams_plain_404(raw: Raw) -> None:
    for path in ("/", "/nope", "/api2", "/metrics/../x"):
        code, _, data = raw.call("GET", path)
        assert (code, data) == (404, b"404 page not found\n")


@pytest.mark.parametrize(("query", "expected"), [
    ({"limit": "-1"}, 200),  # upstream: no limit at all, a whole list
    ({"limit": "abc"}, 400),
    ({"timeoutSeconds": "x"}, 400),
    ({"resourceVersion": "abc"}, 400),
    ({"resourceVersion": "abc", "watch": "true"}, 400),
    ({"timeoutSeconds": "x", "watch": "true"}, 400),
    ({"resourceVersionMatch": "Sometimes", "resourceVersion": "0"}, 400),
    ({"continue": "not-a-token"}, 400),
    ({"labelSelector": "a in (b"}, 400),
    ({"fieldSelector": "spec.nope=1"}, 400),
    ({"includeObject": "All"}, 200),  # only read for a Table
])
def test_bad_query_values_get_a_status(raw: Raw, ns: str, query: dict[str, str], expected: int) -> None:
    code, headers, data = raw.call("GET", f"/api/v1/namespaces/{ns}/pods?{urlencode(query)}")
    if expected == 200:
        assert code == 200 and json.loads(data)["kind"] == "PodList", data[:300]
    else:
        assert_status(code, headers, data, expected)


def test_watch_maybe_is_answered_and_ends(raw: Raw, ns: str) -> None:
    # Upstream reads any value but "false" and "0" as true; kubemu answers either a list or a watch, never an error.
    code, _, data = raw.call("GET", f"/api/v1/namespaces/{ns}/pods?watch=maybe&timeoutSeconds=0")
    assert code == 200, data[:300]


# ---- a watcher that never reads ------------------------------------------------------------------------------------


def test_a_watcher_that_never_reads_is_dropped_and_others_are_served(apiserver: ApiServer, raw: Raw,
                                                                     ns: str) -> None:
    from apiserver.rest.watch import WRITE_BOUND

    path = f"/api/v1/namespaces/{ns}/pods"
    slow = _tls_socket(apiserver, rcvbuf=4096)
    slow.sendall(_head(apiserver, "GET", f"{path}?watch=true&timeoutSeconds=600"))
    # A reader beside it, which must see every write while the slow one is stuck.
    seen: list[str] = []
    reader = Raw(apiserver)
    conn = reader._connection()
    conn.request("GET", f"{path}?watch=true&timeoutSeconds=600", headers={"Authorization": f"Bearer {reader.token}"})
    stream = conn.getresponse()
    assert stream.status == 200

    def read() -> None:
        try:
            for line in stream:
                seen.append(json.loads(line)["object"]["metadata"]["name"])
        except (OSError, ValueError, http.client.HTTPException):
            pass

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    body = pod("x")
    body["metadata"]["annotations"] = {"fill": "y" * 200_000}  # ~200 KB an event: the buffers fill in a few
    made: list[str] = []
    started = time.monotonic()
    i = 0
    while time.monotonic() - started < WRITE_BOUND + 5:
        body["metadata"]["name"] = f"w{i}"
        code, doc = raw.json("POST", path, body)
        assert code == 201, doc
        made.append(f"w{i}")
        i += 1
        time.sleep(0.05)
        code, _, _ = raw.call("GET", "/readyz")
        assert code == 200
    # The reader kept up; the slow watcher has been dropped: what it can still read ends (EOF or reset) soon,
    # and is bounded by what was buffered for it when it was dropped.
    deadline = time.monotonic() + 10
    while len(seen) < len(made) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen[:len(made)] == made
    slow.settimeout(5)
    buffered = 0
    try:
        while True:
            part = slow.recv(1 << 20)
            if not part:
                break
            buffered += len(part)
            assert buffered < 32 * MIB, "the slow watcher is still being written to"
    except (OSError, ssl.SSLError) as e:
        assert not isinstance(e, TimeoutError), f"the slow watcher is still open after {buffered} bytes"
    slow.close()
    reader.close()
    thread.join(5)


# ---- 1,000 random requests -----------------------------------------------------------------------------------------

REAL_RESOURCES = ["pods", "replicationcontrollers", "events", "deployments", "replicasets"]
LISTED = {"pods": "/api/v1", "replicationcontrollers": "/api/v1", "deployments": "/apis/apps/v1",
          "replicasets": "/apis/apps/v1"}
QUERY_KEYS = ["limit", "continue", "watch", "resourceVersion", "resourceVersionMatch", "timeoutSeconds",
              "labelSelector", "fieldSelector", "dryRun", "fieldValidation", "fieldManager", "force", "pretty",
              "propagationPolicy", "gracePeriodSeconds", "includeObject", "allowWatchBookmarks", "garbage"]
CONTENT_TYPES = ["application/json", "application/yaml", "application/merge-patch+json",
                 "application/strategic-merge-patch+json", "application/json-patch+json",
                 "application/apply-patch+yaml", "text/plain", "application/vnd.kubernetes.protobuf", "", "x/y"]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]

segment = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
json_scalar = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | segment
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    segment, inner, max_size=4), max_leaves=12)


def mostly(real: st.SearchStrategy[str], garbage: st.SearchStrategy[str] = segment) -> st.SearchStrategy[str]:
    """`real` seven times in eight: random requests that mostly reach a handler, so most exercise more than the
    router."""
    return st.tuples(st.booleans(), st.booleans(), st.booleans(), real, garbage).map(
        lambda t: t[4] if t[0] and t[1] and t[2] else t[3])


@st.composite
def pod_like(draw: st.DrawFn) -> dict[str, Any]:
    """A valid pod, sometimes with one field replaced by anything: some are stored, most refused."""
    doc = pod(draw(st.sampled_from(["r-a", "r-b", "r-c"]) | st.from_regex(r"\A[a-z0-9.-]{0,12}\Z")))
    if draw(st.booleans()) and draw(st.booleans()):
        where = draw(st.sampled_from([doc, doc["metadata"], doc["spec"], doc["spec"]["containers"][0]]))
        where[draw(st.sampled_from([*where, "extra"]) | segment)] = draw(json_value)
    return doc


@st.composite
def requests(draw: st.DrawFn, namespace: str) -> tuple[str, str, bytes | None, str | None]:
    method = draw(st.sampled_from([*METHODS, "GET", "POST", "POST", "PUT"]))
    prefix = draw(mostly(st.sampled_from(["/api/v1", "/api/v1", "/api/v1", "/apis/apps/v1", "/apis/apps/v1",
                                          "/apis/batch/v1", "/api", "/apis", "/openapi/v3", "/version", "/readyz",
                                          ""]),
                         segment.map(lambda s: "/" + quote(s, safe=""))))
    real = [
        mostly(st.sampled_from(["namespaces"] * 8 + REAL_RESOURCES)),
        mostly(st.sampled_from([namespace, namespace, namespace, "kube-system-nope"])),
        mostly(st.sampled_from(["pods", "pods", *REAL_RESOURCES])),
        mostly(st.sampled_from(["r-a", "r-b", "r-c"])),
        mostly(st.sampled_from(["status", "scale", "binding", "log", "exec", "eviction"])),
    ]
    parts = [draw(s) for s in real[:draw(st.sampled_from([0, 1, 2, 3, 3, 3, 3, 3, 4, 4, 5]))]]
    if draw(st.booleans()):  # aimed at the pods that exist or may (as a client would), the rest anywhere
        prefix, parts = "/api/v1", ["namespaces", namespace, "pods", *draw(st.sampled_from(
            [[], [], ["r-a"], ["r-b"], ["r-c", "status"]]))]
    path = prefix + "".join("/" + quote(p, safe="") for p in parts) or "/"  # a request line needs a path
    query = draw(st.dictionaries(st.sampled_from(QUERY_KEYS), st.sampled_from(["true", "0", "-1", "All", "abc", ""])
                                 | segment, max_size=3))
    if "watch" in query:
        query["timeoutSeconds"] = "0"  # a watch that is served ends after its initial events
    if query:
        path += "?" + urlencode(query)
    kind = draw(st.sampled_from([0, 1, 2, 3, 3, 3, 3, 3]))
    body: bytes | None
    if kind == 0:
        body = None
    elif kind == 1:
        body = draw(st.binary(max_size=64))
    elif kind == 2:
        body = json.dumps(draw(json_value)).encode()
    else:
        body = json.dumps(draw(pod_like())).encode()
    ctype = draw(mostly(st.sampled_from(CONTENT_TYPES[:2]), st.sampled_from(CONTENT_TYPES))) if body is not None \
        else None
    return method, path, body, ctype


def _well_formed(method: str, path: str, code: int, headers: dict[str, str], data: bytes) -> None:
    if method == "HEAD":
        return
    bare = path.split("?")[0]
    if code == 404 and not bare.startswith(API_PREFIXES) and data == b"404 page not found\n":
        return  # outside the API, as kube-apiserver's mux answers
    ctype = headers.get("content-type", "")
    if code >= 400:
        assert_status(code, headers, data)
        return
    if ctype.startswith("text/plain"):
        assert bare in ("/healthz", "/livez", "/readyz"), (path, data[:200])
        return
    if "watch" in path.split("?", 1)[-1] and headers.get("transfer-encoding") == "chunked":
        for line in data.splitlines():
            event = json.loads(line)
            assert event["type"] in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"), event
        return
    if ctype.startswith("application/yaml"):
        return
    doc = json.loads(data)
    assert isinstance(doc, dict) and (doc.get("kind") or "paths" in doc or "swagger" in doc or "openapi" in doc or
                                      "gitVersion" in doc), (path, data[:200])


@pytest.mark.timeout(600)
def test_random_requests_are_answered_well_and_store_only_what_was_taken(raw: Raw, ns: str) -> None:
    stored: dict[str, set[str]] = {r: set() for r in LISTED}
    count = [0]
    codes: dict[int, int] = {}
    started = time.monotonic()

    @settings(max_examples=1000, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def one(data: st.DataObject) -> None:
        method, path, body, ctype = data.draw(requests(ns))
        bare = path.split("?")[0]
        if method == "DELETE" and bare.rstrip("/") == f"/api/v1/namespaces/{ns}":
            return  # the test's own namespace stays
        count[0] += 1
        code, headers, answer = raw.call(method, path, body, ctype)
        codes[code] = codes.get(code, 0) + 1
        _well_formed(method, path, code, headers, answer)
        if code in (200, 201) and method in ("POST", "PUT", "PATCH") and "dryRun" not in path:
            resource = bare.rpartition(f"/namespaces/{ns}/")[2].split("/")[0]
            if resource in stored and bare.startswith(f"{LISTED[resource]}/namespaces/{ns}/{resource}"):
                doc = json.loads(answer)
                if doc.get("kind") != "Status":
                    stored[resource].add(doc["metadata"]["name"])

    one()
    # The requests reached the handlers, not only the router: some were taken, many refused for their content.
    assert codes.get(201, 0) > 0 and sum(n for c, n in codes.items() if c in (400, 409, 415, 422)) > 50, codes
    assert count[0] >= 900 and time.monotonic() - started < 600
    for resource, names in stored.items():
        code, doc = raw.json("GET", f"{LISTED[resource]}/namespaces/{ns}/{resource}")
        assert code == 200, doc
        listed = {i["metadata"]["name"] for i in doc["items"]}
        assert listed <= names, (resource, listed - names)
