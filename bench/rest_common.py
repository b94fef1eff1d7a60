"""Shared by the REST benchmarks (rest-writes, rest-watch, rest-list): a cluster whose apiserver also serves the
Kubernetes REST API over HTTPS with a bearer token, and the cheap aiohttp clients that call it."""

from __future__ import annotations

import json
import shutil
import ssl
import tempfile
from pathlib import Path
from typing import Any

from bench import common as c

TOKEN = "kubemu-bench-token"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


class Credentials:
    """A CA, a serving certificate for 127.0.0.1 signed by it and a token file, made with `cryptography` (the
    shape of tests/support.py's RestCredentials, which a benchmark may not import)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="kubemu-bench-pki-"))
        self.ca = self.dir / "ca.crt"
        self.cert = self.dir / "apiserver.crt"
        self.key = self.dir / "apiserver.key"
        self.token_file = self.dir / "tokens.csv"
        self._write()

    def _write(self) -> None:
        import datetime as dt
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubemu-bench-ca")])
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
              .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
              .not_valid_after(now + dt.timedelta(days=1))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
                .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        self.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        self.token_file.write_text(f'{TOKEN},bench-admin,bench-admin-uid,"system:masters"\n')

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class RestCluster(c.Cluster):
    """c.Cluster whose apiserver serves the REST API too, on `rest_url`."""

    def __init__(self) -> None:
        super().__init__()
        self.creds = Credentials()
        self.rest_port = c.free_port()

    @property
    def rest_url(self) -> str:
        return f"https://127.0.0.1:{self.rest_port}"

    def start(self) -> RestCluster:
        self.redis.start()
        self.apiserver = c.Proc("apiserver", c.python_module(
            "apiserver.main", "--listen", self.address, "--redis", self.redis.url, "--log-format", "json",
            "--bookmark-interval", "0.5", "--config", str(self.config), "--secure-port", str(self.rest_port),
            "--tls-cert-file", str(self.creds.cert), "--tls-private-key-file", str(self.creds.key),
            "--token-auth-file", str(self.creds.token_file),
            "--disable-admission-plugins", "ServiceAccount")).start()  # as bench/common.py's Cluster
        c.wait_port(self.api_port, proc=self.apiserver.proc)
        c.wait_port(self.rest_port, proc=self.apiserver.proc)
        return self

    def stop(self) -> None:
        super().stop()
        self.creds.remove()


def session(creds: Credentials, connections: int = 1) -> Any:
    """An aiohttp client session with `connections` keep-alive connections at most, the token on every request
    and no cookie jar, reading and TLS being the only per-request work the client does beyond what it is asked."""
    import aiohttp

    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections, ssl=creds.ssl_context(), keepalive_timeout=300),
        headers={"Authorization": f"Bearer {TOKEN}"}, cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None, sock_read=None))


class PodBody:
    """The benchmark's pod (c.pod_dict) as JSON, encoded once around its name: a request's body is the two halves
    joined with the name, so the client spends nothing on JSON per create."""

    MARK = "\x00name\x00"

    def __init__(self, namespace: str, **kw: Any) -> None:
        encoded = json.dumps(c.pod_dict(self.MARK, namespace, **kw), separators=(",", ":")).encode()
        marker = json.dumps(self.MARK)[1:-1].encode()
        self.head, _, self.tail = encoded.partition(marker)

    def __call__(self, name: str) -> bytes:
        return self.head + name.encode() + self.tail
