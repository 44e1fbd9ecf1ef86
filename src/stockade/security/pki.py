"""The internal certificate authority (``cryptography``): a CA, and server and client certificates.

Files under the workspace's ``pki/`` folder (keys 0600)::

    ca.crt  ca.key                 the CA (ECDSA P-384, 10 years by default)
    certs/NAME.crt  certs/NAME.key a server (default NAME: server) or client certificate (P-256)

``serve --tls`` uses ``default_server_tls(pki)`` when no certificate is named.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from stockade.core.errors import StockadeError
from stockade.core.workspace import DIRECTORY_MODE, SECRET_FILE_MODE

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
HOST = re.compile(
    r"^(?=.{1,253}$)(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
CA_CERT, CA_KEY, CERTS = "ca.crt", "ca.key", "certs"
SERVER_NAME = "server"


class PkiError(StockadeError):
    exit_code = 2


@dataclass(frozen=True)
class TlsPaths:
    cert: Path
    key: Path
    client_ca: Path  # the CA that signs client certificates (for mTLS)


@dataclass(frozen=True)
class IssuedCertificate:
    name: str
    cert: Path
    key: Path
    serial: int
    sha256: str
    not_after: str
    hosts: list[str]
    ips: list[str]
    client: bool


def _write_private(path: Path, data: bytes, *, force: bool) -> None:
    if force and path.exists():
        path.unlink()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def _prepare(folder: Path) -> None:
    folder.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    os.chmod(folder, DIRECTORY_MODE)


def create_ca(
    pki: Path, *, common_name: str = "Stockade internal CA", days: int = 3650, force: bool = False
) -> str:
    """Create the CA; return its SHA-256 fingerprint. Refuses to replace one unless ``force``."""
    _prepare(pki)
    if (pki / CA_KEY).exists() and not force:
        raise PkiError(
            "a CA exists already",
            where=str(pki / CA_KEY),
            fix="keep it, or pass --force (every certificate must be reissued)",
        )
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Stockade"),
        ]
    )
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA384())
    )
    _write_private(pki / CA_KEY, _key_pem(key), force=force)
    (pki / CA_CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return _fingerprint(cert)


def load_ca(pki: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    if not (pki / CA_KEY).is_file() or not (pki / CA_CERT).is_file():
        raise PkiError(
            "there is no internal CA yet", where=str(pki), fix="create it with `stockade pki init`"
        )
    cert = x509.load_pem_x509_certificate((pki / CA_CERT).read_bytes())
    key = serialization.load_pem_private_key((pki / CA_KEY).read_bytes(), password=None)
    return cert, key  # type: ignore[return-value]


def _subject_alternative_names(hosts: list[str], ips: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        if not HOST.match(host):
            raise PkiError(
                f"{host[:80]!r} is not a host name", where="--host", fix="e.g. --host llm.bank.internal"
            )
        names.append(x509.DNSName(host.lower()))
    for text in ips:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(text)))
        except ValueError:
            raise PkiError(
                f"{text[:80]!r} is not an IP address", where="--ip", fix="e.g. --ip 10.0.0.5"
            ) from None
    if not names:
        raise PkiError(
            "a certificate needs at least one --host or --ip",
            fix="e.g. --host llm.bank.internal --ip 10.0.0.5",
        )
    return names


def issue_certificate(
    pki: Path,
    *,
    hosts: list[str],
    ips: list[str],
    name: str | None = None,
    client: bool = False,
    days: int = 397,
    force: bool = False,
) -> IssuedCertificate:
    """Sign a server (or, with ``client``, a client) certificate with SANs for ``hosts`` and ``ips``."""
    name = name or (hosts[0].replace(".", "-") if client and hosts else SERVER_NAME)
    if not NAME.match(name):
        raise PkiError(
            f"{name[:80]!r} is not a certificate name", where="--name", fix="letters, digits, - and _ only"
        )
    sans = _subject_alternative_names(hosts, ips)
    ca_cert, ca_key = load_ca(pki)
    folder = pki / CERTS
    _prepare(folder)
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    if key_path.exists() and not force:
        raise PkiError(
            "a certificate with this name exists",
            where=str(cert_path),
            fix="choose --name, or --force to replace it",
        )
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    common_name = (hosts or ips)[0][:64]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key), force=force)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + (pki / CA_CERT).read_bytes())
    return IssuedCertificate(
        name,
        cert_path,
        key_path,
        cert.serial_number,
        _fingerprint(cert),
        cert.not_valid_after_utc.isoformat(),
        hosts,
        ips,
        client,
    )


def default_server_tls(pki: Path) -> TlsPaths:
    """The certificate ``serve --tls`` uses when none is named; a clear error when it is missing."""
    paths = TlsPaths(pki / CERTS / f"{SERVER_NAME}.crt", pki / CERTS / f"{SERVER_NAME}.key", pki / CA_CERT)
    if not paths.cert.is_file() or not paths.key.is_file():
        raise PkiError(
            "no server certificate in the workspace",
            where=str(paths.cert),
            fix="create one: `stockade pki init` then `stockade pki issue --host NAME --ip ADDR`, "
            "or name yours with tls_cert / tls_key",
        )
    return paths


def certificate_names(cert_path: Path) -> list[str]:
    """The DNS names and IP addresses a certificate's SAN extension lists (empty without one)."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    ips = [str(address) for address in san.get_values_for_type(x509.IPAddress)]
    return [*san.get_values_for_type(x509.DNSName), *ips]


def name_covered(host: str, names: list[str]) -> bool:
    """Whether a client asking for ``host`` accepts a certificate for ``names`` (``*.`` covers one label)."""
    host = host.lower().rstrip(".")
    for name in (n.lower().rstrip(".") for n in names):
        if name == host:
            return True
        if (
            name.startswith("*.")
            and "." in host
            and host.split(".", 1)[1] == name[2:]
            and not host.startswith("*")
        ):
            return True
    return False


def server_name_problem(cert_path: Path, server_name: str) -> str | None:
    """Why clients asking for ``server_name`` would refuse this certificate, or None (``_``: any name)."""
    if server_name in ("_", ""):
        return None
    names = certificate_names(cert_path)
    if name_covered(server_name, names):
        return None
    return (
        f"the server certificate's names ({', '.join(names) or 'none'}) do not include {server_name}: "
        f"clients connecting to https://{server_name} would refuse it"
    )
