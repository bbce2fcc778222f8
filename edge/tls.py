"""An optional HTTPS listener for the staff tablets, beside the plain HTTP one diners use.

Diners' phones open the QR code's plain `http://` address (a self-signed certificate would
scare them off); staff tablets, which carry PINs and staff tokens and hear every diner's name
and phone, can use `https://<device>:<tls_port>/staff` instead. The certificate is the
installer's (`serve --tls-cert/--tls-key`) or a self-signed pair that `provision --tls` makes
in the data dir, whose SHA-256 fingerprint the installer compares on each tablet once.

Both listeners serve the same app context in the same process, so rate limits and the login
lockout count the TCP peer address whichever door a request came through.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edge.secret_files import write_secret

CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
# Long enough that a branch never meets an expired certificate on a busy night; a tablet trusts
# this one certificate, not a CA, so a shorter life would only mean re-trusting it more often.
VALIDITY_DAYS = 5 * 365


class TlsError(ValueError):
    """A certificate or key that cannot be served; the message says which file and why."""


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path


@dataclass(frozen=True)
class TlsListener:
    """A bound socket and the TLS context to serve on it."""

    sock: socket.socket
    context: ssl.SSLContext


def fingerprint(cert_pem: bytes) -> str:
    """`SHA256:AB:CD:...`, as browsers show it in a certificate's details."""
    digest = x509.load_pem_x509_certificate(cert_pem).fingerprint(hashes.SHA256())
    return "SHA256:" + ":".join(f"{byte:02X}" for byte in digest)


def _names(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def make_self_signed(data_dir: Path, common_name: str, hosts: list[str]) -> TlsFiles:
    """Write a self-signed ECDSA P-256 pair for `hosts` (DNS names or IP addresses), key 0600."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names(hosts)), critical=False)
        # An end-entity certificate: Firefox refuses a CA certificate used as a server's.
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    write_secret(data_dir, KEY_FILE, key_pem)
    (data_dir / CERT_FILE).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return TlsFiles(data_dir / CERT_FILE, data_dir / KEY_FILE)


def ensure_self_signed(data_dir: Path, common_name: str, base_url_host: str | None) -> str:
    """The data dir's pair (made the first time, kept after); returns its fingerprint."""
    if not (data_dir / CERT_FILE).exists() or not (data_dir / KEY_FILE).exists():
        hosts = [h for h in (base_url_host, socket.gethostname(), "localhost", "127.0.0.1") if h]
        make_self_signed(data_dir, common_name, hosts)
    return fingerprint((data_dir / CERT_FILE).read_bytes())


def resolve_files(data_dir: Path, cert: Path | None, key: Path | None) -> TlsFiles | None:
    """What `serve` listens with: the files given, else the data dir's pair, else no TLS."""
    if (cert is None) != (key is None):
        raise TlsError("--tls-cert and --tls-key go together: give both or neither")
    if cert is None or key is None:
        cert, key = data_dir / CERT_FILE, data_dir / KEY_FILE
        if not cert.exists() and not key.exists():
            return None
    return TlsFiles(cert, key)


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """The pair loaded before serving, so a bad file is one clear line, not a traceback."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(files.cert, files.key)
    except FileNotFoundError as exc:
        raise TlsError(f"TLS file {exc.filename} does not exist") from None
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise TlsError(
            f"cannot serve TLS with {files.cert} and {files.key}: not a matching PEM"
            f" certificate and unencrypted key ({exc})"
        ) from None
    return context
