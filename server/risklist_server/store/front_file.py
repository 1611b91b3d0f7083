"""The published Bloom front file: the front with the changelog sequence it covers, its owner, a checksum.

The writer publishes it atomically (temp file, fsync, rename, fsync the directory); reader
workers map it read-only (risklist_server.store.front_map), so a node holds one copy. The
header names the secret and the store (its id in `meta`, risklist_server.store.store_id) it was built for: a file copied
from another store, or made under another secret, is refused like a damaged one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from risklist_kernel.bloom import BITS_PER_MASK
from risklist_server.core.errors import StoreError
from risklist_server.store.front import BloomFront

if TYPE_CHECKING:
    from risklist_server.store.shared_front import SharedFront

MAGIC = b"RLBF"
FORMAT_VERSION = 2
HEADER = struct.Struct("<4sHBBQQQ32s16s16s")
"""magic, version, k, spare, words, covered sequence, keys added, sha256 of the words, secret tag, store tag.
96 bytes, so the words that follow are 8-byte aligned in a mapping."""


@dataclass(frozen=True, slots=True)
class FrontOwner:
    """Whose front a file is: the network secret's fingerprint and the store's id (risklist_server.store.store_id)."""

    secret_fingerprint: str
    store_identity: str

    def tags(self) -> tuple[bytes, bytes]:
        """16-byte tags of the secret and the store, as the header holds them (no secret material)."""
        return (hashlib.blake2b(self.secret_fingerprint.encode(), digest_size=16, person=b"rl-front-secret").digest(),
                hashlib.blake2b(self.store_identity.encode(), digest_size=16, person=b"rl-front-store").digest())


@dataclass(frozen=True, slots=True)
class FrontHeader:
    word_count: int
    covered_sequence: int
    added: int
    checksum: bytes


@dataclass(frozen=True, slots=True)
class SavedFront:
    front: BloomFront
    covered_sequence: int


def save_front(path: Path, front: BloomFront | SharedFront, covered_sequence: int, owner: FrontOwner) -> None:
    """Write `front` atomically (see save_front_words)."""
    save_front_words(path, front.to_bytes(), covered_sequence, front.added, owner)


def save_front_words(path: Path, body: bytes | memoryview, covered_sequence: int, added: int,
                     owner: FrontOwner) -> None:
    """Write atomically: temp file (one per thread, so two publications never share one), fsync, rename,
    fsync the directory.

    A failed write (a full disk) leaves the previous file as it was and no temp file behind, and
    raises StoreError with one line saying what to do.
    """
    secret_tag, store_tag = owner.tags()
    header = HEADER.pack(MAGIC, FORMAT_VERSION, BITS_PER_MASK, 0, len(body) // 8, covered_sequence, added,
                         hashlib.sha256(body).digest(), secret_tag, store_tag)
    temporary = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(header)
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise StoreError(
            f"cannot save the Bloom front in {path.parent}: {error.strerror or error}; free space on "
            "that disk, then re-run (the store itself is intact; the front is rebuilt if it is stale)"
        ) from None
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def check_header(data: bytes | memoryview, owner: FrontOwner) -> FrontHeader | str:
    """The header of a front file's contents, or why it is refused (the checksum is the caller's to check)."""
    if len(data) < HEADER.size:
        return f"truncated: {len(data)} bytes, shorter than the {HEADER.size}-byte header"
    magic, version, bits, _, words, covered, added, checksum, secret_tag, store_tag = HEADER.unpack_from(data)
    if magic != MAGIC:
        return "not a Bloom front file (wrong magic)"
    if version != FORMAT_VERSION or bits != BITS_PER_MASK:
        return f"format {version} with {bits} bits per key, expected format {FORMAT_VERSION} with {BITS_PER_MASK}"
    expected_secret, expected_store = owner.tags()
    if secret_tag != expected_secret:
        return "made under another network secret"
    if store_tag != expected_store:
        return "made for another store (its store id differs)"
    if len(data) - HEADER.size != words * 8:
        return f"truncated or padded: {len(data) - HEADER.size} bytes of words, the header says {words * 8}"
    return FrontHeader(words, covered, added, checksum)


def load_front(path: Path, owner: FrontOwner) -> SavedFront | str:
    """A private copy of the saved front, or why there is none (absent, damaged, another owner's)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "missing"
    header = check_header(data, owner)
    if isinstance(header, str):
        return header
    body = data[HEADER.size :]
    if hashlib.sha256(body).digest() != header.checksum:
        return "checksum mismatch (damaged)"
    return SavedFront(BloomFront(header.word_count, body, header.added), header.covered_sequence)
