"""A client's side of mutual TLS: the --ca/--cert/--key (or --insecure) flags and the channel they open."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from risklist_server.core.errors import ConfigError

if TYPE_CHECKING:
    import grpc

CLIENT_TLS_FLAGS = ("--ca", "--cert", "--key")


@dataclass(frozen=True, slots=True)
class ClientTls:
    """The CA that signed the server's certificate, and this partner's certificate and key (PEM)."""

    ca: bytes
    cert: bytes
    key: bytes


def add_client_tls_arguments(parser: argparse.ArgumentParser, *, used_with: str = "") -> None:
    """--ca/--cert/--key for mutual TLS, or --insecure for a plaintext --insecure-dev server."""
    group = parser.add_argument_group(
        "authentication", f"mutual TLS{used_with}: all of --ca, --cert and --key; or --insecure")
    group.add_argument("--ca", metavar="FILE", help="CA certificate the server's certificate chains to (PEM)")
    group.add_argument("--cert", metavar="FILE", help="this partner's client certificate (PEM)")
    group.add_argument("--key", metavar="FILE", help="this partner's private key (PEM)")
    group.add_argument("--insecure", action="store_true",
                       help="plaintext, for a server run with --insecure-dev")


def client_tls_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the flags' combination (a usage error), or None."""
    given = [flag for flag in CLIENT_TLS_FLAGS if getattr(args, flag[2:]) is not None]
    if args.insecure:
        return f"--insecure excludes {', '.join(given)}" if given else None
    if not given:
        return ("say how to authenticate: --ca FILE --cert FILE --key FILE (the files the network operator "
                "issued you), or --insecure for a server run with --insecure-dev")
    missing = [flag for flag in CLIENT_TLS_FLAGS if flag not in given]
    return f"mutual TLS needs all of {', '.join(CLIENT_TLS_FLAGS)}; missing {', '.join(missing)}" if missing else None


def load_client_tls(args: argparse.Namespace) -> ClientTls | None:
    """The files the flags name (None with --insecure); ConfigError naming an unreadable one."""
    if args.insecure:
        return None
    return ClientTls(_read(args.ca, "--ca"), _read(args.cert, "--cert"), _read(args.key, "--key"))


def open_channel(address: str, tls: ClientTls | None, options: Sequence[tuple[str, int | str]] = ()) -> grpc.Channel:
    """A channel to `address`: mutual TLS with `tls`, plaintext without."""
    import grpc  # here: a command that only parses these flags (risklist-load --db) does without grpc's import

    if tls is None:
        return grpc.insecure_channel(address, options=list(options))
    credentials = grpc.ssl_channel_credentials(root_certificates=tls.ca, private_key=tls.key,
                                               certificate_chain=tls.cert)
    return grpc.secure_channel(address, credentials, options=list(options))


def _read(path: str, flag: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(f"{flag} {path}: cannot read it ({error.strerror})") from None
