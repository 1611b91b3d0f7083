"""`risklist-admin certs`: a development CA, the server's certificate and one client certificate per partner.

The partner id is the client certificate's Subject common name (CN); the server reads it
from the verified certificate (docs/operations.md). Keys are ECDSA P-256.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from risklist_server.cli.admin_command import Command, UsageError
from risklist_server.core.errors import ConfigError
from risklist_server.core.partners import partner_id_problem

CA_NAME = "risklist development CA"
SERVER_NAME = "risklist-server"
DEFAULT_SERVER_NAMES = ("localhost", "127.0.0.1", "::1")
ORGANISATION = "risklist network"

PrivateKey = ec.EllipticCurvePrivateKey


@dataclass(frozen=True, slots=True)
class Issued:
    """What `issue` wrote, for the summary it prints."""

    directory: Path
    ca_reused: bool
    partners: tuple[str, ...]
    server_names: tuple[str, ...]
    days: int


def issue(out: Path, partners: list[str], *, days: int = 365, server_names: list[str] | None = None) -> Issued:
    """Write ca.pem/ca.key (reused if both exist), server.pem/server.key and ID.pem/ID.key per partner."""
    for partner in partners:
        problem = partner_id_problem(partner)
        if problem is not None:
            raise UsageError(f"--partner {partner!r}: {problem}")
    if len(set(partners)) != len(partners):
        raise UsageError("a --partner is given twice")
    if not 1 <= days <= 3650:
        raise UsageError(f"--days must be from 1 to 3650, got {days}")
    names = list(dict.fromkeys([*DEFAULT_SERVER_NAMES, *(server_names or [])]))
    out.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert, reused = _certificate_authority(out, days)
    _write(out, "server", *_leaf(ca_key, ca_cert, SERVER_NAME, days, server_names=names))
    for partner in partners:
        _write(out, partner, *_leaf(ca_key, ca_cert, partner, days))
    return Issued(out, reused, tuple(partners), tuple(names), days)


def _certificate_authority(out: Path, days: int) -> tuple[PrivateKey, x509.Certificate, bool]:
    cert_path, key_path = out / "ca.pem", out / "ca.key"
    if cert_path.exists() and key_path.exists():
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except (ValueError, TypeError) as error:
            raise ConfigError(f"{out}: ca.pem/ca.key exist but cannot be read ({error}); "
                              "remove them to issue a new CA (every certificate must then be reissued)") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
            raise ConfigError(f"{out}: ca.key is not the key of ca.pem; remove both to issue a new CA")
        return key, cert, True
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(out, "ca", key, cert)
    return key, cert, False


def _leaf(
    ca_key: PrivateKey, ca_cert: x509.Certificate, common_name: str, days: int, *, server_names: list[str] | None = None
) -> tuple[PrivateKey, x509.Certificate]:
    """A server certificate (with `server_names` as SANs) or a partner's client certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    not_after = min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
                                 x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False)  # type: ignore[arg-type]
    )
    if server_names is None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    else:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(n) for n in server_names]),
                                        critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _write(out: Path, stem: str, key: PrivateKey, cert: x509.Certificate) -> None:
    key_path = out / f"{stem}.key"
    key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    key_path.unlink(missing_ok=True)
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(key_bytes)
    (out / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# ---- the subcommand -------------------------------------------------------------------


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="directory to write into (created; an existing ca.pem/ca.key there is reused)")
    parser.add_argument("--partner", action="append", required=True, metavar="ID", dest="partners",
                        help="a partner id (repeat for several); its certificate's CN carries it")
    parser.add_argument("--days", type=int, default=365, help="validity in days (default %(default)s)")
    parser.add_argument("--server-name", action="append", default=[], metavar="NAME", dest="server_names",
                        help="another DNS name or IP the server is reached by (localhost, 127.0.0.1 "
                        "and ::1 are always in)")


def _run(args: argparse.Namespace) -> int:
    issued = issue(args.out, args.partners, days=args.days, server_names=args.server_names)
    where = issued.directory
    print(f"{'reused' if issued.ca_reused else 'new'} development CA: {where / 'ca.pem'} (key {where / 'ca.key'})")
    print(f"server: {where / 'server.pem'}, {where / 'server.key'} for {', '.join(issued.server_names)}")
    for partner in issued.partners:
        print(f"partner {partner}: {where / (partner + '.pem')}, {where / (partner + '.key')}")
    print(f"valid {issued.days} days. Serve with: risklist-server --tls-cert {where / 'server.pem'} "
          f"--tls-key {where / 'server.key'} --client-ca {where / 'ca.pem'} --partners FILE ...")
    return 0


COMMAND = Command(
    name="certs",
    help="issue a development CA, the server's certificate and partners' client certificates",
    description="Issue development certificates (never for production: docs/operations.md says how a "
    "real CA plugs in). Writes ca.pem/ca.key, server.pem/server.key and ID.pem/ID.key per --partner; "
    "private keys are mode 0600.",
    add_arguments=_arguments,
    run=_run,
)
