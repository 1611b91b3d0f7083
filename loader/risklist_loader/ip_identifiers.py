"""IPv4 addresses a whole column at once, as the kernel's IP rule reads them.

A feed's IP rows are mostly dotted IPv4 addresses, some written IPv4-mapped (::ffff:a.b.c.d). For those the
kernel's rule (risklist_kernel.identifiers: ipaddress, then the mapped address's IPv4 form) comes down to: four
groups of one to three digits between three dots, each at most 255 and without a leading zero, perhaps after
::ffff: in either case; the canonical text is the dotted address as written. This module decides those with
numpy; every other IP field (other IPv6 forms, surrounding spaces, zones) is left to FastRows.key, so every
canonical text given here is the one FastRows.key would digest (tests/loader/test_loader_ip_identifiers.py).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from risklist_kernel.enums import EntityType
from risklist_loader.field_cells import field_cells

Bools = npt.NDArray[np.bool_]
Cells = npt.NDArray[np.uint8]

MAPPED_PREFIX = b"::ffff:"
"""What precedes an IPv4-mapped address (the hex digits in either case)."""
DOTTED_WIDTH = len("255.255.255.255")
FIELD_WIDTH = len(MAPPED_PREFIX) + DOTTED_WIDTH
"""Longer fields are left to FastRows.key."""
_SHORTEST = len("0.0.0.0")
_GROUPS = 4
_ZERO, _NINE, _DOT, _COLON, _LOWER_F = 48, 57, 46, 58, 102
_CASE = 0x20
"""OR-ed into a byte: 'F' and 'f' both become 'f' (no other byte does)."""


def ip_forms(buffer: Cells, starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64],
             types: npt.NDArray[np.int64]) -> tuple[Bools, list[bytes]]:
    """Which fields (buffer[start:end], of the given entity types) are IPv4 addresses this module decides, and the
    canonical text of each of those, in field order."""
    decided = np.zeros(len(types), dtype=np.bool_)
    lengths = ends - starts
    rows = np.flatnonzero((types == int(EntityType.IP)) & (lengths >= _SHORTEST) & (lengths <= FIELD_WIDTH))
    if not len(rows):
        return decided, []
    cells = field_cells(buffer, starts[rows], ends[rows], FIELD_WIDTH)
    prefix = len(MAPPED_PREFIX)
    mapped = ((cells[:, 0] == _COLON) & (cells[:, 1] == _COLON) & ((cells[:, 2:6] | _CASE) == _LOWER_F).all(axis=1)
              & (cells[:, 6] == _COLON))
    dotted = np.where(mapped[:, None], cells[:, prefix:], cells[:, :DOTTED_WIDTH])
    length = lengths[rows] - np.where(mapped, prefix, 0)
    inside = np.arange(DOTTED_WIDTH) < length[:, None]
    digit = (dotted >= _ZERO) & (dotted <= _NINE)
    dot = dotted == _DOT
    candidates = np.flatnonzero((length >= _SHORTEST) & (length <= DOTTED_WIDTH)
                                & ((digit | dot) == inside).all(axis=1) & (dot.sum(axis=1) == _GROUPS - 1))
    good = _groups_valid(dotted[candidates], length[candidates], dot[candidates])
    chosen = candidates[good]
    decided[rows[chosen]] = True
    texts: list[bytes] = np.ascontiguousarray(dotted[chosen]).view(f"S{DOTTED_WIDTH}").ravel().tolist()
    return decided, texts


def _groups_valid(dotted: Cells, length: npt.NDArray[np.int64], dot: Bools) -> Bools:
    """For text of digits and exactly three dots: whether its four groups are one to three digits, at most 255,
    without a leading zero (ipaddress refuses those)."""
    count = len(dotted)
    dots = np.nonzero(dot)[1].reshape(count, _GROUPS - 1)  # row-major: each row's three dots, in order
    group_starts = np.column_stack((np.zeros(count, dtype=np.int64), dots + 1))
    group_ends = np.column_stack((dots, length))
    sizes = group_ends - group_starts
    valid: Bools = np.asarray(((sizes >= 1) & (sizes <= 3)).all(axis=1))
    values = np.zeros((count, _GROUPS), dtype=np.int64)
    for place in range(3):
        column = np.minimum(group_starts + place, DOTTED_WIDTH - 1)
        digits = np.take_along_axis(dotted, column, axis=1).astype(np.int64) - _ZERO
        values = np.where(place < sizes, values * 10 + digits, values)
    first = np.take_along_axis(dotted, np.minimum(group_starts, DOTTED_WIDTH - 1), axis=1)
    valid &= ~((sizes > 1) & (first == _ZERO)).any(axis=1) & (values <= 255).all(axis=1)
    return valid
