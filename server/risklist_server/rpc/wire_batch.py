"""BatchCheck requests made only of client digests, read straight from the wire in one numpy pass.

A `Subject{type: T, digest: 16 bytes}` inside `BatchCheckRequest.subjects` is encoded by every
protobuf library as the same 22 bytes: `0a 14` (field 1, length 20), `08 T` (type, one-byte
varint), `1a 10` (field 3, length 16), then the digest. A request that is nothing but such
records, with T a known entity type, gives its storage keys (T + digest) without building a
message object per subject. Anything else (raw values, other encodings, bad digests) returns
None and takes the general path, which also produces the precise errors.
"""

from __future__ import annotations

import numpy as np

from risklist_kernel.digest import DIGEST_SIZE, KEY_SIZE
from risklist_kernel.enums import EntityType

RECORD_SIZE = 6 + DIGEST_SIZE
_FIXED_COLUMNS = np.array([0, 1, 2, 4, 5])
_FIXED_BYTES = np.array([0x0A, 4 + DIGEST_SIZE, 0x08, 0x1A, DIGEST_SIZE], dtype=np.uint8)
_KNOWN_TYPES = np.zeros(256, dtype=bool)
_KNOWN_TYPES[[int(entity_type) for entity_type in EntityType]] = True


def _digest_records(request: bytes) -> np.ndarray | None:
    """The request as rows of RECORD_SIZE bytes if it is an all-digest BatchCheckRequest, else None."""
    count, rest = divmod(len(request), RECORD_SIZE)
    if rest or not count:
        return None
    records = np.frombuffer(request, dtype=np.uint8).reshape(count, RECORD_SIZE)
    if not (records[:, _FIXED_COLUMNS] == _FIXED_BYTES).all() or not _KNOWN_TYPES[records[:, 3]].all():
        return None
    return records


def digest_count(request: bytes) -> int | None:
    """How many subjects an all-digest BatchCheckRequest holds (its length tells, its shape checked), or None
    if it is not such a request: a batch over the maximum is counted exactly without a key being made."""
    records = _digest_records(request)
    return None if records is None else len(records)


def packed_digest_keys(request: bytes) -> bytes | None:
    """The storage keys of an all-digest BatchCheckRequest, concatenated in request order (as the front
    reads them and the audit trail stores them), or None if it is not such a request."""
    records = _digest_records(request)
    if records is None:
        return None
    count = len(records)
    keys = np.empty((count, KEY_SIZE), dtype=np.uint8)
    keys[:, 0] = records[:, 3]
    keys[:, 1:] = records[:, 6:]
    return keys.tobytes()
