"""How risklist-server authenticates callers: the TLS and --partners flags, checked and loaded once.

Loaded by the supervisor before it forks (no grpc here), so a bad file is one clear error;
every worker gets the same bytes and builds its grpc credentials itself.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from risklist_server.core.errors import ConfigError
from risklist_server.core.partners import Partner, load_partners

TLS_FLAGS = ("--tls-cert", "--tls-key", "--client-ca")


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The server's certificate chain and key, and the CA its partners' client certificates must chain to."""

    cert_chain: bytes
    private_key: bytes
    client_ca: bytes


@dataclass(frozen=True, slots=True)
class Security:
    """Mutual TLS with the network's members, or (tls None) the plaintext development mode."""

    tls: TlsFiles | None
    partners: dict[str, Partner] | None


INSECURE_DEV = Security(tls=None, partners=None)
"""--insecure-dev: plaintext, every caller is the development partner `dev` with every role."""


def add_security_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags: --tls-cert/--tls-key/--client-ca with --partners, or --insecure-dev."""
    group = parser.add_argument_group(
        "authentication", "mutual TLS on both addresses (all of --tls-cert, --tls-key, --client-ca and "
        "--partners), or --insecure-dev for plaintext")
    group.add_argument("--tls-cert", metavar="FILE", help="the server's certificate chain (PEM)")
    group.add_argument("--tls-key", metavar="FILE", help="the server's private key (PEM, unencrypted)")
    group.add_argument("--client-ca", metavar="FILE",
                       help="CA certificate(s) (PEM) that partners' client certificates must chain to")
    group.add_argument("--partners", metavar="FILE",
                       help="the members: partner ids, roles and quotas (TOML; docs/operations.md)")
    group.add_argument("--insecure-dev", action="store_true",
                       help="plaintext, no client certificates; every caller is partner 'dev' with every "
                       "role and no quota. Development only")


def security_usage_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the combination of flags (a usage error), or None."""
    given = [flag for flag in TLS_FLAGS if getattr(args, flag[2:].replace("-", "_")) is not None]
    if args.insecure_dev:
        if given or args.partners is not None:
            return (f"--insecure-dev excludes {', '.join([*given, *(['--partners'] if args.partners else [])])}; "
                    "drop --insecure-dev to serve with mutual TLS")
        return None
    if not given and args.partners is None:
        return ("say how callers authenticate: --tls-cert FILE --tls-key FILE --client-ca FILE --partners FILE "
                "for mutual TLS (risklist-admin certs issues development certificates), or --insecure-dev "
                "for plaintext during development")
    missing = [flag for flag in TLS_FLAGS if flag not in given]
    if missing:
        return f"mutual TLS needs all of {', '.join(TLS_FLAGS)}; missing {', '.join(missing)}"
    if args.partners is None:
        return "mutual TLS needs --partners FILE: the members, their roles and quotas (docs/operations.md)"
    return None


def load_security(args: argparse.Namespace) -> Security:
    """The files the flags name, read and checked (ConfigError saying which file and why)."""
    if args.insecure_dev:
        return INSECURE_DEV
    from cryptography import x509  # here: risklist-server's flags parse before heavy imports
    from cryptography.hazmat.primitives import serialization

    cert_chain = _certificates(args.tls_cert, "--tls-cert")
    private_key = _read(args.tls_key, "--tls-key")
    try:
        key = serialization.load_pem_private_key(private_key, password=None)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"--tls-key {args.tls_key}: not an unencrypted PEM private key ({error})") from None
    leaf = x509.load_pem_x509_certificates(cert_chain)[0]
    if key.public_key() != leaf.public_key():
        raise ConfigError(f"--tls-key {args.tls_key} is not the key of the certificate in --tls-cert {args.tls_cert}")
    client_ca = _certificates(args.client_ca, "--client-ca")
    return Security(TlsFiles(cert_chain, private_key, client_ca), load_partners(args.partners))


def _read(path: str, flag: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(f"{flag} {path}: cannot read it ({error.strerror})") from None


def _certificates(path: str, flag: str) -> bytes:
    from cryptography import x509

    data = _read(path, flag)
    try:
        x509.load_pem_x509_certificates(data)
    except ValueError as error:
        raise ConfigError(f"{flag} {path}: not a PEM certificate ({error})") from None
    return data


def describe_security(security: Security) -> dict[str, object]:
    """Log fields saying how callers authenticate (never a key)."""
    if security.tls is None:
        return {"auth": "insecure-dev", "dev_partner": "dev"}
    return {"auth": "mutual-tls", "partners": len(security.partners or {})}
