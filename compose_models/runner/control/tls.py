"""TLS for the runner: the certificate it serves (the user's, or one it issues from a local CA it keeps in
``$COMPOSE_MODELS_HOME/runner/tls/``), and how this machine's CLI trusts it.

The CLI pins the served certificate itself (read from the file the state names) rather than checking a
host name, so a certificate the user brings for ``gpu-box.lan`` works from ``127.0.0.1`` too; a
certificate that is not a CA cannot vouch for any other. Others trust the CA (``ca.pem``), given to
them as a file (``httpx.Client(verify="ca.pem")``, ``SSL_CERT_FILE``, ``NODE_EXTRA_CA_CERTS``)."""

import ipaddress
import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from compose_models.errors import UserError
from compose_models.home import runner_dir

CERT_VARIABLE = "COMPOSE_MODELS_TLS_CERT"
KEY_VARIABLE = "COMPOSE_MODELS_TLS_KEY"
SELF_SIGNED_VARIABLE = "COMPOSE_MODELS_TLS_SELF_SIGNED"
FOR_CONTAINERS_VARIABLE = "COMPOSE_MODELS_TLS_FOR_CONTAINERS"
CA_DAYS = 3650
CERT_DAYS = 397  # the longest validity browsers and Apple's clients accept for a server certificate


@dataclass(frozen=True)
class TlsFiles:
    cert: Path  # the served chain, leaf first
    key: Path
    ca: Path | None  # what others trust: the local CA's certificate; None for the user's own certificate


def tls_dir() -> Path:
    return runner_dir() / "tls"


def _flag(variable: str) -> bool:
    return os.environ.get(variable, "").strip().lower() in ("1", "true", "yes")


def for_containers() -> bool:
    """``serve --tls-for-containers``: the Docker bridge serves TLS too and containers get ``https://`` URLs."""
    return _flag(FOR_CONTAINERS_VARIABLE)


def export_tls_options(cert: Path | None, key: Path | None, self_signed: bool, containers: bool) -> None:
    """``serve``'s TLS options into the environment, where the runner (detached or not) reads them; a
    missing or unreadable file is refused now, not in a detached child."""
    if self_signed and (cert or key):
        raise UserError("--tls-self-signed issues its own certificate: give it without --tls-cert and --tls-key")
    if bool(cert) != bool(key):
        raise UserError("--tls-cert and --tls-key go together: the certificate (chain, PEM) and its private key (PEM)")
    if containers and not (cert or self_signed):
        raise UserError("--tls-for-containers needs TLS: add --tls-self-signed or --tls-cert F --tls-key F")
    if cert and key:
        for option, path in (("--tls-cert", cert), ("--tls-key", key)):
            if not path.expanduser().is_file():
                raise UserError(f"{option} {path}: no such file")
        _check_pair(cert.expanduser(), key.expanduser())
        os.environ[CERT_VARIABLE] = str(cert.expanduser().resolve())
        os.environ[KEY_VARIABLE] = str(key.expanduser().resolve())
    if self_signed:
        os.environ[SELF_SIGNED_VARIABLE] = "1"
    if containers:
        os.environ[FOR_CONTAINERS_VARIABLE] = "1"


def _check_pair(cert: Path, key: Path) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as error:
        raise UserError(f"--tls-cert {cert} / --tls-key {key}: not a PEM certificate and its private key ({error})") from None


def configured_tls(names: list[str]) -> TlsFiles | None:
    """The runner's TLS files from the environment: the user's, or a certificate for ``names`` issued now."""
    if os.environ.get(CERT_VARIABLE):
        if not os.environ.get(KEY_VARIABLE):
            raise UserError(f"${CERT_VARIABLE} is set without ${KEY_VARIABLE}: the certificate's private key (PEM)")
        cert, key = Path(os.environ[CERT_VARIABLE]), Path(os.environ[KEY_VARIABLE])
        _check_pair(cert, key)
        return TlsFiles(cert, key, None)
    if _flag(SELF_SIGNED_VARIABLE):
        return issue_self_signed(names)
    return None


def issue_self_signed(names: list[str], folder: Path | None = None) -> TlsFiles:
    """A certificate for ``names`` (host names and addresses) from the local CA, which is made once and
    kept, so a client that trusts ``ca.pem`` keeps trusting the runner across restarts."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = folder or tls_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_path, ca_key_path = folder / "ca.pem", folder / "ca-key.pem"
    now = datetime.now(UTC)
    if ca_path.is_file() and ca_key_path.is_file():
        ca_cert = x509.load_pem_x509_certificate(ca_path.read_bytes())
        # the EC key this module wrote beside the CA (below)
        ca_key = cast(ec.EllipticCurvePrivateKey, serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None))
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "compose-models local CA")])
        ca_cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )  # fmt: skip
        _write_private(ca_key_path, ca_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    key = ec.generate_private_key(ec.SECP256R1())
    alternative_names: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):
        try:
            alternative_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            if name.isascii() and name:  # a host name a certificate cannot carry is left out
                alternative_names.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "compose-models runner")]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    _write_private(key_path, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM))
    return TlsFiles(cert_path, key_path, ca_path)


def _write_private(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.replace(temporary, path)


def server_context(files: TlsFiles, small_clients: bool = False) -> ssl.SSLContext:
    """``small_clients``: also for TLS 1.2 clients that send no signature algorithms (busybox's wget, which
    the reach probe runs), which OpenSSL's default security level turns away; for the Docker bridge only,
    whose traffic does not leave the machine. Clients that offer more still get TLS 1.3."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if small_clients:
        context.set_ciphers("ECDHE+AESGCM:ECDHE+CHACHA20:@SECLEVEL=0")
    context.load_cert_chain(files.cert, files.key)
    return context


def pinned_context(cert: Path) -> ssl.SSLContext:
    """The CLI's trust in its own runner: exactly the certificate it serves (the first in ``cert``)."""
    try:
        text = cert.read_text()
    except OSError as error:
        raise UserError(f"the runner serves TLS but its certificate {cert} cannot be read: {error.strerror}") from None
    end = "-----END CERTIFICATE-----"
    leaf = text[: text.find(end) + len(end)] if end in text else text
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # the pinned certificate is the identity; see the module's note
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    try:
        context.load_verify_locations(cadata=leaf)
    except ssl.SSLError as error:
        raise UserError(f"the runner's certificate {cert} is not a PEM certificate ({error})") from None
    return context


@dataclass(frozen=True)
class CertificateFacts:
    names: list[str]
    not_after: datetime


def certificate_facts(cert: Path) -> CertificateFacts:
    """The names a certificate (the first in ``cert``) is for and when it expires, for ``doctor``."""
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    try:
        alternative = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(entry.value) for entry in alternative]
    except x509.ExtensionNotFound:
        names = []
    return CertificateFacts(names, certificate.not_valid_after_utc)
