"""risklist-server's authentication flags: --tls-cert/--tls-key/--client-ca with --partners, or --insecure-dev."""

from __future__ import annotations

import argparse

from risklist_server.rpc.access.config import SecurityFiles

TLS_FLAGS = ("--tls-cert", "--tls-key", "--client-ca")


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


def security_files(args: argparse.Namespace) -> SecurityFiles | None:
    """The files the (checked) flags name; None for --insecure-dev."""
    if args.insecure_dev:
        return None
    return SecurityFiles(tls_cert=args.tls_cert, tls_key=args.tls_key, client_ca=args.client_ca,
                         partners=args.partners)
