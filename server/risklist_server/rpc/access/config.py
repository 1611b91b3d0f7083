"""How risklist-server authenticates callers: the TLS and partners files, read and checked.

Loaded by the supervisor before it forks (no grpc here), so a bad file at start is one clear error;
every worker gets the same bytes, builds its grpc credentials itself, and re-reads the files when
they change (risklist_server.rpc.access.reload).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from risklist_server.core.errors import AccessFileError, ConfigError
from risklist_server.core.partners import Partner, load_partners


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The server's certificate chain and key, and the CA its partners' client certificates must chain to."""

    cert_chain: bytes
    private_key: bytes
    client_ca: bytes


@dataclass(frozen=True, slots=True)
class SecurityFiles:
    """The files mutual TLS is served with (--tls-cert, --tls-key, --client-ca, --partners), not read yet."""

    tls_cert: str
    tls_key: str
    client_ca: str
    partners: str


@dataclass(frozen=True, slots=True)
class Security:
    """Mutual TLS with the network's members, or (tls None) the plaintext development mode."""

    tls: TlsFiles | None
    partners: dict[str, Partner] | None
    files: SecurityFiles | None = None
    """Where `tls` and `partners` were read from, watched for changes by each worker; None: not from files."""

    @property
    def version(self) -> str:
        """A short fingerprint of the certificate, the client CA and the members in force (never of the key)."""
        if self.tls is None:
            return "insecure-dev"
        digest = hashlib.sha256()
        for part in (self.tls.cert_chain, self.tls.client_ca):
            digest.update(hashlib.sha256(part).digest())
        for partner in sorted((self.partners or {}).values(), key=lambda partner: partner.id):
            digest.update(repr((partner.id, sorted(partner.roles), partner.quota)).encode())
            if partner.ingest_sources:  # only then: files without them keep the version they had
                digest.update(repr(sorted(partner.ingest_sources)).encode())
        return digest.hexdigest()[:16]


INSECURE_DEV = Security(tls=None, partners=None)
"""--insecure-dev: plaintext, every caller is the development partner `dev` with every role."""


def load_security(files: SecurityFiles | None) -> Security:
    """The files read and checked (AccessFileError naming the file and why); None: --insecure-dev."""
    if files is None:
        return INSECURE_DEV
    from cryptography import x509  # here: risklist-server's flags parse before heavy imports
    from cryptography.hazmat.primitives import serialization

    cert_chain = _certificates(files.tls_cert, "--tls-cert")
    private_key = _read(files.tls_key, "--tls-key")
    try:
        key = serialization.load_pem_private_key(private_key, password=None)
    except (ValueError, TypeError) as error:
        raise AccessFileError(files.tls_key, f"--tls-key {files.tls_key}: not an unencrypted PEM private key "
                              f"({error})") from None
    leaf = x509.load_pem_x509_certificates(cert_chain)[0]
    if key.public_key() != leaf.public_key():
        raise AccessFileError(files.tls_key, f"--tls-key {files.tls_key} is not the key of the certificate in "
                              f"--tls-cert {files.tls_cert}")
    client_ca = _certificates(files.client_ca, "--client-ca")
    try:
        partners = load_partners(files.partners)
    except ConfigError as error:
        raise AccessFileError(files.partners, str(error)) from None
    return Security(TlsFiles(cert_chain, private_key, client_ca), partners, files)


def _read(path: str, flag: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise AccessFileError(path, f"{flag} {path}: cannot read it ({error.strerror})") from None


def _certificates(path: str, flag: str) -> bytes:
    from cryptography import x509

    data = _read(path, flag)
    try:
        x509.load_pem_x509_certificates(data)
    except ValueError as error:
        raise AccessFileError(path, f"{flag} {path}: not a PEM certificate ({error})") from None
    return data


def describe_security(security: Security) -> dict[str, object]:
    """Log fields saying how callers authenticate and which configuration is in force (never a key)."""
    if security.tls is None:
        return {"auth": "insecure-dev", "dev_partner": "dev"}
    return {"auth": "mutual-tls", "partners": len(security.partners or {}), "access_version": security.version}
