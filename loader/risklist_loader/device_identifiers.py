"""Device ids that are not IMEIs, a whole column at once: UUIDs, hex ids and opaque ids as the kernel's rules read them.

After IMEIs (digit_identifiers), a feed's devices are mostly UUIDs (8-4-4-4-12, any case, perhaps in braces),
Android ids in hex and opaque vendor ids. For text of printable ASCII without spaces the kernel's device rule
(risklist_kernel.identifiers) comes down to: 32 hex digits, with hyphens anywhere and perhaps in braces, are a
UUID (hyphenated, lower case); other hex-only text is lower-cased; anything else with a character that is neither
a hex digit, a hyphen nor a brace stays as written. This module decides those with numpy and leaves the rest
(digits that may be IMEIs, backticks, spaces, fewer than 4 characters, hyphens or braces
around something else) to FastRows.key, so every canonical text given here is the one FastRows.key would digest
(tests/loader/test_loader_device_identifiers.py).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from risklist_kernel.enums import EntityType
from risklist_loader.field_cells import field_cells

FIELD_WIDTH = 40
"""Longer fields are left to FastRows.key. So is every urn:uuid: spelling of a UUID (41 characters at least); a
shorter urn:uuid: field has not 32 hex digits after the prefix, and the kernel keeps it as written."""
UUID_WIDTH = 36
_UUID_HEX_DIGITS = 32
_HYPHENS_AFTER = (8, 12, 16, 20)
"""Hex digits before each hyphen of a UUID's canonical layout."""
_MIN_LENGTH = 4

Bools = npt.NDArray[np.bool_]
Cells = npt.NDArray[np.uint8]

_HYPHEN, _OPEN, _CLOSE, _BACKTICK, _BANG, _TILDE = 45, 123, 125, 96, 33, 126


def device_forms(buffer: Cells, starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64],
                 types: npt.NDArray[np.int64]) -> tuple[Bools, list[bytes]]:
    """Which fields (buffer[start:end], of the given entity types) are device ids this module decides, and the
    canonical text of each of those, in field order."""
    lengths = ends - starts
    within = np.arange(FIELD_WIDTH)
    inside = within < lengths[:, None]
    cells = field_cells(buffer, starts, ends, FIELD_WIDTH)
    lower = np.where(inside, cells | np.uint8(0x20), 0).astype(np.uint8)  # letters lower-cased; digits, '-' kept
    digit = (cells >= 48) & (cells <= 57)
    hex_digit = digit | ((lower >= 97) & (lower <= 102))
    hyphen = cells == _HYPHEN
    printable = (cells >= _BANG) & (cells <= _TILDE) & (cells != _BACKTICK)
    candidates = ((types == int(EntityType.DEVICE)) & (lengths >= _MIN_LENGTH) & (lengths <= FIELD_WIDTH)
                  & (printable | ~inside).all(axis=1))
    braced = (cells[:, 0] == _OPEN) & (cells[np.arange(len(cells)), np.clip(lengths - 1, 0, FIELD_WIDTH - 1)] == _CLOSE)
    body = inside & ~(braced[:, None] & ((within == 0) | (within == (lengths - 1)[:, None])))
    hex_count = (hex_digit & body).sum(axis=1)
    hex_or_hyphen = ((hex_digit | hyphen) | ~body).all(axis=1)
    uuid = candidates & hex_or_hyphen & (hex_count == _UUID_HEX_DIGITS)
    hex_only = candidates & ~braced & (hex_digit | ~inside).all(axis=1) & (hex_count != _UUID_HEX_DIGITS)
    hex_only &= ~(digit | ~inside).all(axis=1)  # all digits: perhaps an IMEI, the kernel's rules decide
    other = ~(hex_digit | hyphen | (cells == _OPEN) | (cells == _CLOSE)) & inside
    opaque = candidates & other.any(axis=1)
    decided = uuid | hex_only | opaque
    canonical = np.where((uuid | hex_only)[:, None], lower, cells)
    canonical[uuid] = _uuid_layout(lower[uuid], hex_digit[uuid] & body[uuid])
    texts: list[bytes] = np.ascontiguousarray(canonical[decided]).view(f"S{FIELD_WIDTH}").ravel().tolist()
    return decided, texts


def _uuid_layout(lower: Cells, hex_digit: Bools) -> Cells:
    """The 32 hex digits of each row (where `hex_digit`), hyphenated as 8-4-4-4-12, zero-padded to FIELD_WIDTH."""
    rows, columns = np.nonzero(hex_digit)
    rank = np.cumsum(hex_digit, axis=1)[rows, columns] - 1
    place = rank + np.searchsorted(np.array(_HYPHENS_AFTER), rank, side="right")
    out = np.zeros((len(lower), FIELD_WIDTH), dtype=np.uint8)
    out[rows, place] = lower[rows, columns]
    for hyphens_before, after in enumerate(_HYPHENS_AFTER):
        out[:, after + hyphens_before] = _HYPHEN
    return out

