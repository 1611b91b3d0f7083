"""The secret check: a store only opens with the network secret its digests were made with."""

from __future__ import annotations

from pathlib import Path

from rocksdict import Rdict

from risklist_server.core.errors import StoreError
from risklist_server.store.rocks import SECRET_FINGERPRINT_KEY, get_one, iter_keys


def _mismatch(path: Path, stored: str, given: str, advice: str) -> StoreError:
    return StoreError(
        f"the store at {path} was built with another network secret "
        f"(fingerprint {stored}, given {given}); {advice}"
    )


def _unmarked(path: Path) -> StoreError:
    return StoreError(
        f"the store at {path} has no secret marker, so it was not made by risklist or is damaged; "
        f"restore it from a backup, or build a new one with `risklist-load FEED --source BANK --db {path}`"
    )


def check_writer_secret(path: Path, records: Rdict, meta: Rdict, fingerprint: str, *, create: bool = False) -> None:
    """Refuse another secret's fingerprint, and a store without one; with `create`, record `fingerprint`
    in a new (empty) store."""
    stored = get_one(meta, SECRET_FINGERPRINT_KEY)
    if stored is None:
        if not create:
            raise _unmarked(path)
        if next(iter_keys(records), None) is not None:
            raise StoreError(f"the store at {path} has records but no secret fingerprint")
        meta.put(SECRET_FINGERPRINT_KEY, fingerprint.encode())
    elif stored.decode() != fingerprint:
        raise _mismatch(path, stored.decode(), fingerprint, "use the secret it was built with, or build a new store")


def check_replica_secret(path: Path, meta: Rdict, fingerprint: str) -> None:
    """Refuse another secret's fingerprint, and a store without one (a replica never writes one)."""
    stored = get_one(meta, SECRET_FINGERPRINT_KEY)
    if stored is None:
        raise _unmarked(path)
    if stored.decode() != fingerprint:
        raise _mismatch(path, stored.decode(), fingerprint, "use the secret it was built with")
