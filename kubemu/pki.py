"""A cluster's credentials, as kubeadm's certs phase and kind make them: a CA, the apiserver's serving certificate
signed by it, the service-account key pair that signs and checks ServiceAccount tokens (kubeadm's sa.key and
sa.pub), and a bearer token in kube-apiserver's static token file; made once per folder, reused while valid."""

from __future__ import annotations

import contextlib
import csv
import datetime
import fcntl
import ipaddress
import os
import secrets
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT, CA_KEY = "ca.crt", "ca.key"
SERVING_CERT, SERVING_KEY = "apiserver.crt", "apiserver.key"
TOKEN_FILE = "tokens.csv"
SA_KEY, SA_PUB = "sa.key", "sa.pub"
"""kubeadm's names: the private key kube-apiserver signs ServiceAccount tokens with
(--service-account-signing-key-file) and the public key it checks them with (--service-account-key-file)."""
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
"""kubeadm's --service-account-issuer (and so the tokens' default audience)."""
SA_KEY_BITS = 2048
"""RSA, as kubeadm's: tokens are signed RS256, which every OIDC client of the issuer accepts."""

ADMIN_USER = "kubemu-admin"
ADMIN_GROUPS = ("system:masters",)
"""The token's user, in the group kubeadm's admin.conf user is in (cluster-admin by default RBAC)."""

CA_VALIDITY = datetime.timedelta(days=3650)
SERVING_VALIDITY = datetime.timedelta(days=365)
"""kubeadm's: ten years for the CA, one year for the certificates it signs."""
RENEW_BEFORE = datetime.timedelta(days=30)
"""A serving certificate this close to its end is made again rather than reused."""
CLOCK_SKEW = datetime.timedelta(minutes=5)
"""Certificates are valid from a little before now, so a peer whose clock is behind still accepts them."""


@dataclass(frozen=True)
class Pki:
    """Where one cluster's credentials are, and its token."""

    folder: Path
    token: str

    @property
    def ca_file(self) -> Path:
        return self.folder / CA_CERT

    @property
    def cert_file(self) -> Path:
        return self.folder / SERVING_CERT

    @property
    def key_file(self) -> Path:
        return self.folder / SERVING_KEY

    @property
    def token_file(self) -> Path:
        return self.folder / TOKEN_FILE

    @property
    def sa_key_file(self) -> Path:
        return self.folder / SA_KEY

    @property
    def sa_pub_file(self) -> Path:
        return self.folder / SA_PUB

    def ca_data(self) -> bytes:
        """The CA certificate, PEM: what a kubeconfig's certificate-authority-data carries."""
        return self.ca_file.read_bytes()


def default_hosts() -> list[str]:
    """The names a local apiserver is reached by: loopback in both families, localhost and this host's name."""
    return _unique(["127.0.0.1", "::1", "localhost", socket.gethostname()])


def ensure(folder: Path, hosts: Iterable[str] = (), *, now: datetime.datetime | None = None) -> Pki:
    """The CA, a serving certificate for `hosts` (IP addresses and DNS names) and a token in `folder`: what is
    there is kept when it is valid (the CA, a certificate it signed that covers `hosts` and is not near its end, a
    non-empty token), the rest is made. Secrets are 0600; concurrent callers (several apiservers) wait in turn."""
    now = now or datetime.datetime.now(datetime.UTC)
    wanted = _unique(hosts) or default_hosts()
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder):
        ca = _load_ca(folder, now)
        if ca is None:
            ca = _make_ca(folder, now)
        if not _serving_valid(folder, ca[0], wanted, now):
            _make_serving(folder, ca, wanted, now)
        if not _sa_valid(folder):
            _make_sa(folder)
        token = read_token(folder / TOKEN_FILE)
        if token is None:
            token = secrets.token_urlsafe(32)
            groups = ",".join(ADMIN_GROUPS)
            _write(folder / TOKEN_FILE, f'{token},{ADMIN_USER},{ADMIN_USER},"{groups}"\n'.encode(), secret=True)
        return Pki(folder, token)


def read_token(path: Path) -> str | None:
    """The first token of a static token file, None when there is no usable one."""
    try:
        with open(path, newline="") as f:
            for record in csv.reader(f):
                if len(record) >= 3 and record[0]:
                    return record[0]
    except (OSError, csv.Error):
        return None
    return None


def sans(cert: x509.Certificate) -> set[str]:
    """The certificate's subject alternative names, IP addresses and DNS names alike, as text."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(ip) for ip in ext.get_values_for_type(x509.IPAddress)} | set(ext.get_values_for_type(x509.DNSName))


# ---- making -------------------------------------------------------------------------------------------------


def _key() -> ec.EllipticCurvePrivateKey:
    # ECDSA P-256: made in a millisecond (an RSA key takes a noticeable part of a second), and every TLS client
    # kubemu meets (Go's crypto/tls, OpenSSL, browsers) takes it.
    return ec.generate_private_key(ec.SECP256R1())


def _make_ca(folder: Path, now: datetime.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubemu-ca")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW).not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    # The key first: a CA certificate without its key on disk would be loaded as valid and sign nothing.
    _write(folder / CA_KEY, _key_pem(key), secret=True)
    _write(folder / CA_CERT, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _make_serving(
    folder: Path, ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], hosts: list[str], now: datetime.datetime
) -> None:
    ca_cert, ca_key = ca
    key = _key()
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW).not_valid_after(min(now + SERVING_VALIDITY, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(folder / SERVING_KEY, _key_pem(key), secret=True)
    _write(folder / SERVING_CERT, cert.public_bytes(serialization.Encoding.PEM))


def _make_sa(folder: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=SA_KEY_BITS)
    _write(folder / SA_KEY, _key_pem(key), secret=True)
    _write(folder / SA_PUB, key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))


def _sa_valid(folder: Path) -> bool:
    """The key pair is there and its halves match (a token signed by one must check with the other)."""
    try:
        key = serialization.load_pem_private_key((folder / SA_KEY).read_bytes(), password=None)
        pub = serialization.load_pem_public_key((folder / SA_PUB).read_bytes())
    except (OSError, ValueError, TypeError):
        return False
    return isinstance(key, rsa.RSAPrivateKey) and key.public_key() == pub


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


# ---- checking what is there ---------------------------------------------------------------------------------


def _load_ca(folder: Path, now: datetime.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        cert = x509.load_pem_x509_certificate((folder / CA_CERT).read_bytes())
        key = serialization.load_pem_private_key((folder / CA_KEY).read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        return None
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return None
    if not is_ca or not cert.not_valid_before_utc <= now < cert.not_valid_after_utc - RENEW_BEFORE:
        return None
    return cert, key


def _serving_valid(folder: Path, ca_cert: x509.Certificate, hosts: list[str], now: datetime.datetime) -> bool:
    try:
        cert = x509.load_pem_x509_certificate((folder / SERVING_CERT).read_bytes())
        key = serialization.load_pem_private_key((folder / SERVING_KEY).read_bytes(), password=None)
        cert.verify_directly_issued_by(ca_cert)
    except (OSError, ValueError, TypeError, InvalidSignature):
        return False
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        return False
    if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc - RENEW_BEFORE:
        return False
    return {_canonical(h) for h in hosts} <= {_canonical(s) for s in sans(cert)}


def _canonical(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host.lower()


def _unique(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item and item not in out:
            out.append(item)
    return out


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    """Write-then-rename, created with its final mode, so that a reader never sees half a key nor a key readable
    by others for an instant."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # a leftover of a crashed run would keep its own mode
    mode = 0o600 if secret else 0o644
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), mode)  # whatever the umask
        f.write(data)
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with open(folder / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
