"""The NATS connection flags every command that talks to a cluster's servers takes (risklist-server, risklist-admin
policy): TLS and an nkey (risklist_server.cluster.nats_auth)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from risklist_server.cluster.nats_auth import NatsAuth

NATS_AUTH_FLAGS = ("--cluster-ca", "--cluster-cert", "--cluster-key", "--cluster-nkey")


def add_nats_auth_arguments(group: argparse._ActionsContainer) -> None:
    """--cluster-ca, --cluster-cert, --cluster-key, --cluster-nkey."""
    group.add_argument("--cluster-ca", metavar="FILE",
                       help="TLS to the NATS servers: the CA certificate(s) (PEM) their certificates must chain to")
    group.add_argument("--cluster-cert", metavar="FILE",
                       help="the client certificate (PEM) for NATS servers that verify clients (with "
                       "--cluster-key and --cluster-ca)")
    group.add_argument("--cluster-key", metavar="FILE", help="the private key of --cluster-cert (PEM, unencrypted)")
    group.add_argument("--cluster-nkey", metavar="FILE",
                       help="the nkey user seed (SU...), signing the NATS servers' challenge; their authorization "
                       "block lists its public key")


def nats_auth_of(args: argparse.Namespace) -> NatsAuth:
    """The flags' files, checked (ConfigError naming the flag)."""
    from risklist_server.cluster.nats_auth import nats_auth

    values: dict[str, Any] = {"ca": args.cluster_ca, "cert": args.cluster_cert, "key": args.cluster_key,
                              "nkey": args.cluster_nkey}
    return nats_auth(**values)
