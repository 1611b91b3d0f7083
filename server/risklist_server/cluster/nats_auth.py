"""How a node checks the NATS servers and proves itself to them: --cluster-ca, --cluster-cert/-key, --cluster-nkey.

TLS verifies the servers' certificates against --cluster-ca (and, for servers that require one, presents the node's
client certificate); an nkey seed signs the nonce each server sends, so the secret never crosses the wire and the
servers hold only its public key (docs/cluster.md says why these and not a .creds file or a password). The files
are read and checked here, once, in the supervisor before it forks: nothing heavy is imported (ssl, and nkeys to
check a seed). The node's connection reads the seed file again at every (re)connection, as nats-py does.
"""

from __future__ import annotations

import os
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from risklist_server.core.errors import ConfigError

USER_SEED_PREFIX = "SU"
"""An nkey user seed's first letters: S (a seed) and U (of a user)."""


@dataclass(frozen=True, slots=True)
class NatsAuth:
    """The checked files (absolute paths) and the nkey's public key; all None: plaintext, no credentials."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    nkey_seed: str | None = None
    nkey_public: str | None = None
    """The seed's public key (U...): what the servers' authorization block lists. Not a secret."""

    @property
    def tls(self) -> bool:
        """Whether the node requires TLS of the servers (and verifies their certificates against `ca`)."""
        return self.ca is not None

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client context verifying the servers against `ca` (with the node's certificate, if any); None
        without TLS."""
        if self.ca is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.cert is not None:
            context.load_cert_chain(self.cert, self.key)
        return context

    def connect_options(self) -> dict[str, Any]:
        """nats-py connect()'s keyword arguments for these settings."""
        options: dict[str, Any] = {}
        context = self.ssl_context()
        if context is not None:
            options["tls"] = context
        if self.nkey_seed is not None:
            options["nkeys_seed"] = self.nkey_seed
        return options

    def describe(self) -> dict[str, str]:
        """For the node's start line: how it talks to NATS (never a secret)."""
        tls = "off" if self.ca is None else ("mutual" if self.cert is not None else "server")
        fields = {"cluster_tls": tls}
        if self.nkey_public is not None:
            fields["cluster_nkey"] = self.nkey_public
        return fields


NO_AUTH = NatsAuth()
"""Plaintext, no credentials: a node whose NATS servers are on a private network (and the tests' default)."""


def nats_auth(*, ca: str | None = None, cert: str | None = None, key: str | None = None,
              nkey: str | None = None) -> NatsAuth:
    """The flags' files, read and checked; ConfigError saying which flag, what is wrong and what to do."""
    if (cert is None) != (key is None):
        raise ConfigError("--cluster-cert and --cluster-key go together: the node's client certificate for the NATS "
                          "servers and its private key; give both, or neither")
    if cert is not None and ca is None:
        raise ConfigError("--cluster-cert needs --cluster-ca: the CA that issued the NATS servers' certificates, "
                          "to verify them")
    auth = NatsAuth(ca=_path(ca, "--cluster-ca"), cert=_path(cert, "--cluster-cert"), key=_path(key, "--cluster-key"),
                    nkey_seed=_path(nkey, "--cluster-nkey"))
    _check_tls(auth)
    if auth.nkey_seed is None:
        return auth
    return NatsAuth(auth.ca, auth.cert, auth.key, auth.nkey_seed, _nkey_public(auth.nkey_seed))


def _path(path: str | None, flag: str) -> str | None:
    if path is None:
        return None
    file = Path(path)
    try:
        with file.open("rb"):
            pass
    except OSError as error:
        raise ConfigError(f"{flag} {path}: cannot read it ({error.strerror}); give a readable file") from None
    return str(file.absolute())


def _check_tls(auth: NatsAuth) -> None:
    if auth.ca is not None:
        try:
            ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=auth.ca)
        except ssl.SSLError as error:
            raise ConfigError(f"--cluster-ca {auth.ca}: not a PEM CA certificate ({ssl_reason(error)}); give the CA "
                              "that issued the NATS servers' certificates") from None
    if auth.cert is not None:
        try:
            ssl.create_default_context(ssl.Purpose.SERVER_AUTH).load_cert_chain(auth.cert, auth.key)
        except ssl.SSLError as error:
            raise ConfigError(f"--cluster-cert {auth.cert} with --cluster-key {auth.key}: not a PEM certificate with "
                              f"its unencrypted private key ({ssl_reason(error)}); give the node's client certificate "
                              "and the key it was issued for") from None


def ssl_reason(error: ssl.SSLError) -> str:
    """OpenSSL's reason (KEY_VALUES_MISMATCH ...), or its message where it gives none."""
    return str(error.reason or error.strerror or error)


def _nkey_public(path: str) -> str:
    """The public key of the nkey user seed in `path`; ConfigError (never quoting the file) if it holds none."""
    import nkeys  # nats-py's own dependency for nkeys_seed

    with open(path, "rb") as file:
        mode = os.fstat(file.fileno()).st_mode
        if mode & 0o077:  # as the network secret: whoever reads the seed can write to the network's log
            raise ConfigError(f"--cluster-nkey {path} is accessible by group or others (mode "
                              f"{stat.S_IMODE(mode):04o}); an nkey seed must be readable by its owner only: run "
                              f"chmod 600 {path}")
        seed = bytearray(file.read().strip())
    problem = ("--cluster-nkey {path}: not an nkey user seed (one line starting SU, as `nsc` or `nk -gen user` "
               "writes it); give the seed whose public key (U...) the NATS servers' authorization block lists")
    if not seed.startswith(USER_SEED_PREFIX.encode()):
        raise ConfigError(problem.format(path=path))
    try:
        pair = nkeys.from_seed(seed)
        public: str = pair.public_key.decode()
        pair.wipe()
    except (nkeys.NkeysError, ValueError):
        raise ConfigError(problem.format(path=path)) from None
    finally:
        seed[:] = bytes(len(seed))
    return public
