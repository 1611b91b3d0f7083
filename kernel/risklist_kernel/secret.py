"""The network secret: loaded from a file named by a flag or RISKLIST_SECRET_FILE, never shown."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from risklist_kernel.errors import SecretError

SECRET_FILE_ENV = "RISKLIST_SECRET_FILE"
MIN_SECRET_BYTES = 32
MAX_SECRET_BYTES = 64  # BLAKE2b's longest key

DEMO_SECRET_HEX = "64656d6f2d6f6e6c792d6e6f742d612d7365637265742d64656d6f2d6f6e6c79"
"""The public secret of `--demo` mode: anyone can compute its digests; never for real data."""


@dataclass(frozen=True, slots=True)
class NetworkSecret:
    """The BLAKE2b key shared by the network's members; repr never shows it."""

    key: bytes = field(repr=False)
    is_demo: bool = False

    def __post_init__(self) -> None:
        if not MIN_SECRET_BYTES <= len(self.key) <= MAX_SECRET_BYTES:
            raise SecretError(
                f"the network secret has {len(self.key)} bytes; it needs "
                f"{MIN_SECRET_BYTES} to {MAX_SECRET_BYTES}"
            )

    @property
    def fingerprint(self) -> str:
        """A short public id of the secret, safe to log and store, to tell secrets apart."""
        return hashlib.blake2b(b"risklist fingerprint", key=self.key, digest_size=8).hexdigest()

    @classmethod
    def from_hex(cls, text: str, *, origin: str) -> NetworkSecret:
        """Parse hex text; `origin` says where it came from, for the error message."""
        stripped = text.strip()
        try:
            key = bytes.fromhex(stripped)
        except ValueError:
            raise SecretError(
                f"{origin} does not hold a hex secret; create one with: "
                "(umask 077; python3 -c 'import secrets; print(secrets.token_hex(32))' > FILE)"
            ) from None
        try:
            return cls(key)
        except SecretError as error:
            raise SecretError(f"{origin}: {error}") from None

    @classmethod
    def demo(cls) -> NetworkSecret:
        """The well-known demo secret (explicit demo mode only)."""
        return cls(bytes.fromhex(DEMO_SECRET_HEX), is_demo=True)


def load_secret(path: str | os.PathLike[str] | None) -> NetworkSecret:
    """Load the secret from `path`, else from $RISKLIST_SECRET_FILE; raise SecretError if neither."""
    if path is None:
        env_value = os.environ.get(SECRET_FILE_ENV)
        if not env_value:
            raise SecretError(
                f"no network secret: pass --secret-file FILE or set {SECRET_FILE_ENV}"
            )
        path = env_value
    secret_path = Path(path)
    try:
        with secret_path.open("rb") as file:
            _refuse_open_permissions(secret_path, os.fstat(file.fileno()).st_mode)
            text = file.read().decode("ascii")
    except FileNotFoundError:
        raise SecretError(f"secret file {secret_path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SecretError(f"cannot read secret file {secret_path}: {error}") from None
    return NetworkSecret.from_hex(text, origin=f"secret file {secret_path}")


def _refuse_open_permissions(path: Path, mode: int) -> None:
    """As ssh refuses a private key: anyone who can read the secret can digest and test identifiers."""
    if mode & 0o077:
        raise SecretError(
            f"secret file {path} is accessible by group or others (mode {stat.S_IMODE(mode):04o}); the network "
            f"secret must be readable by its owner only: run chmod 600 {path}"
        )


def write_secret(path: str | os.PathLike[str], secret: NetworkSecret) -> Path:
    """Write `secret` as hex to `path`, readable and writable by its owner only (0600), as load_secret wants it."""
    target = Path(path)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        os.fchmod(file.fileno(), 0o600)  # an existing file keeps its mode through O_CREAT
        file.write(secret.key.hex() + "\n")
    return target
