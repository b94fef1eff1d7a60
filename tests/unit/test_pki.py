"""The cluster's credentials (kubemu/pki.py): a CA that signed the serving certificate, the names the certificate
covers, secret files only their owner reads, and reuse of what is valid on a later `kubemu up`."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kubemu import pki

pytestmark = pytest.mark.unit

HOSTS = ["127.0.0.1", "::1", "localhost", "apiserver"]


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_the_serving_certificate_names_every_host_and_is_signed_by_the_ca(tmp_path: Path) -> None:
    made = pki.ensure(tmp_path, HOSTS)
    ca, cert = load(made.ca_file), load(made.cert_file)
    cert.verify_directly_issued_by(ca)  # raises when the signature does not verify
    assert pki.sans(cert) == {"127.0.0.1", "::1", "localhost", "apiserver"}
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("::1") in ext.get_values_for_type(x509.IPAddress)  # an IP SAN, not a DNS name
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in cert.extensions.get_extension_for_class(
        x509.ExtendedKeyUsage).value
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert made.ca_data() == made.ca_file.read_bytes()


def test_the_default_hosts_are_loopback_localhost_and_this_host() -> None:
    import socket

    assert pki.default_hosts()[:3] == ["127.0.0.1", "::1", "localhost"]
    assert socket.gethostname() in pki.default_hosts()


def handshake(made: pki.Pki, server_hostname: str) -> None:
    """A TLS handshake in memory: a client trusting only the CA and checking the name, against the serving pair."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(made.cert_file, made.key_file)  # fails when the key does not match the certificate
    client_ctx = ssl.create_default_context(cafile=str(made.ca_file))
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=server_hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, end, out, peer_in in (("client", client, c_out, s_in), ("server", server, s_out, c_in)):
            if not done[name]:
                try:
                    end.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
            peer_in.write(out.read())
        if all(done.values()):
            return
    raise AssertionError("handshake did not finish")


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "apiserver"])
def test_a_tls_client_trusting_the_ca_accepts_the_certificate_for_each_name(tmp_path: Path, host: str) -> None:
    handshake(pki.ensure(tmp_path, HOSTS), host)


def test_a_name_the_certificate_lacks_fails_verification(tmp_path: Path) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(pki.ensure(tmp_path, HOSTS), "elsewhere.example")


def test_secrets_are_0600_and_the_token_file_is_kube_apiserver_s_format(tmp_path: Path) -> None:
    made = pki.ensure(tmp_path, HOSTS)
    for name in (pki.CA_KEY, pki.SERVING_KEY, pki.TOKEN_FILE):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    assert made.token_file.read_text() == f'{made.token},kubemu-admin,kubemu-admin,"system:masters"\n'
    assert len(made.token) >= 32
    key = serialization.load_pem_private_key(made.key_file.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)


def test_a_second_ensure_reuses_everything_valid(tmp_path: Path) -> None:
    first = pki.ensure(tmp_path, HOSTS)
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir() if not p.name.startswith(".")}
    second = pki.ensure(tmp_path, HOSTS)
    assert second.token == first.token
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if not p.name.startswith(".")} == files
    # Fewer names than the certificate has: still covered, still reused.
    pki.ensure(tmp_path, ["localhost"])
    assert first.cert_file.read_bytes() == files[pki.SERVING_CERT]


def test_a_new_name_gets_a_new_serving_certificate_from_the_same_ca(tmp_path: Path) -> None:
    first = pki.ensure(tmp_path, HOSTS)
    ca_before, cert_before = first.ca_file.read_bytes(), first.cert_file.read_bytes()
    again = pki.ensure(tmp_path, [*HOSTS, "kubemu.example"])
    assert again.ca_file.read_bytes() == ca_before and again.token == first.token
    assert again.cert_file.read_bytes() != cert_before
    assert "kubemu.example" in pki.sans(load(again.cert_file))
    load(again.cert_file).verify_directly_issued_by(load(again.ca_file))


def test_a_certificate_near_its_end_or_signed_by_another_ca_is_made_again(tmp_path: Path) -> None:
    made = pki.ensure(tmp_path, HOSTS)
    cert_before = made.cert_file.read_bytes()
    later = datetime.datetime.now(datetime.UTC) + pki.SERVING_VALIDITY - datetime.timedelta(days=1)
    pki.ensure(tmp_path, HOSTS, now=later)
    assert made.cert_file.read_bytes() != cert_before

    other = pki.ensure(tmp_path / "other", HOSTS)
    (tmp_path / pki.SERVING_CERT).write_bytes(other.cert_file.read_bytes())
    (tmp_path / pki.SERVING_KEY).write_bytes(other.key_file.read_bytes())
    pki.ensure(tmp_path, HOSTS)
    load(made.cert_file).verify_directly_issued_by(load(made.ca_file))


def test_a_damaged_ca_or_token_is_made_again(tmp_path: Path) -> None:
    made = pki.ensure(tmp_path, HOSTS)
    ca_before = made.ca_file.read_bytes()
    (tmp_path / pki.CA_KEY).write_text("not a key")
    (tmp_path / pki.TOKEN_FILE).write_text("")
    again = pki.ensure(tmp_path, HOSTS)
    assert again.ca_file.read_bytes() != ca_before
    load(again.cert_file).verify_directly_issued_by(load(again.ca_file))  # the old certificate went with its CA
    assert again.token and again.token != made.token
