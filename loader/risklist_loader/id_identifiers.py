"""ID numbers a whole column at once, as the kernel's fast ID rule reads them.

A feed's ID numbers are mostly Chinese resident IDs, with or without a CN: prefix, perhaps grouped with spaces,
and other countries' IDs behind their two-letter prefix. For text of ASCII letters, digits and the separators the
kernel ignores (space, hyphen, dot, slash, tab), with at most a two-letter country and a colon in front, the
kernel's rule (risklist_kernel.identifiers) comes down to: the country upper-cased (the default region's when none
is given), the rest without separators and upper-cased; for CN, 17 digits and a check digit (0-9 or X) that
python-stdnum's ISO 7064 check accepts, a birth date and a place code it knows (asked of the kernel once per
distinct value); for other countries, 4 to 32 letters and digits. This module decides those with numpy and leaves
every other ID field to FastRows.key, so every canonical text given here is the one FastRows.key would digest
(tests/loader/test_loader_id_identifiers.py).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from risklist_kernel.enums import EntityType
from risklist_kernel.identifiers import resident_id_known
from risklist_loader.field_cells import field_cells, packed_left

FIELD_WIDTH = 48
"""Longer fields are left to FastRows.key."""
_PREFIX = 3
"""Two letters and a colon."""
_SHORTEST, _LONGEST = 4, 32
"""Letters and digits an ID of a country other than CN has."""
_RESIDENT_ID = 18
_SEPARATORS = np.frombuffer(b" -./\t", dtype=np.uint8)
"""What the kernel's ID rule deletes (risklist_kernel.identifiers._SEPARATORS)."""
_CHECK_WEIGHTS = np.array([pow(13, 16 - place, 11) for place in range(17)], dtype=np.int64)
"""13**k mod 11 for the 17 digits before the check digit: python-stdnum reads them as a base-13 number."""
_ZERO, _COLON, _X = 48, 58, 88

Bools = npt.NDArray[np.bool_]
Cells = npt.NDArray[np.uint8]


def id_forms(buffer: Cells, starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64], types: npt.NDArray[np.int64],
             default_region: str) -> tuple[Bools, list[bytes]]:
    """Which fields (buffer[start:end], of the given entity types) are ID numbers this module decides, and the
    canonical text of each of those, in field order."""
    decided = np.zeros(len(types), dtype=np.bool_)
    lengths = ends - starts
    region = default_region.encode("ascii") if default_region.isascii() else b""
    rows = np.flatnonzero((types == int(EntityType.ID_NUMBER)) & (lengths >= 1) & (lengths <= FIELD_WIDTH))
    if not len(rows) or len(region) != 2 or not region.isalpha():
        return decided, []
    cells = field_cells(buffer, starts[rows], ends[rows], FIELD_WIDTH)
    inside = np.arange(FIELD_WIDTH) < lengths[rows][:, None]
    upper = np.where((cells >= ord("a")) & (cells <= ord("z")), cells - np.uint8(32), cells)
    letter = (upper >= ord("A")) & (upper <= ord("Z"))
    digit = (cells >= ord("0")) & (cells <= ord("9"))
    colon = cells == _COLON
    prefixed = letter[:, 0] & letter[:, 1] & colon[:, 2]
    body = inside & ~(prefixed[:, None] & (np.arange(FIELD_WIDTH) < _PREFIX))
    kept = (letter | digit) & body
    written = ((kept | np.isin(cells, _SEPARATORS)) | ~body).all(axis=1)
    count = np.where(written, kept.sum(axis=1), 0)
    compact = packed_left(upper, kept & written[:, None], count)
    country = np.where(prefixed[:, None], upper[:, :2], np.frombuffer(region.upper(), dtype=np.uint8))
    chinese = (country[:, 0] == ord("C")) & (country[:, 1] == ord("N"))
    other = written & ~chinese & (count >= _SHORTEST) & (count <= _LONGEST)
    resident = np.flatnonzero(written & chinese & (count == _RESIDENT_ID))
    resident = resident[_resident_ids_valid(compact[resident])]
    chosen = np.zeros(len(rows), dtype=np.bool_)
    chosen[resident] = True
    chosen |= other
    decided[rows[chosen]] = True
    texts = np.zeros((int(chosen.sum()), _PREFIX + _LONGEST), dtype=np.uint8)
    texts[:, :2] = country[chosen]
    texts[:, 2] = _COLON
    texts[:, _PREFIX:] = compact[chosen, :_LONGEST]
    canonicals: list[bytes] = texts.view(f"S{_PREFIX + _LONGEST}").ravel().tolist()
    return decided, canonicals


def _resident_ids_valid(compact: Cells) -> Bools:
    """For 18 upper-cased letters and digits each: 17 digits and their check digit, a birth date and a place code
    python-stdnum accepts (as the kernel's resident_id_known says, asked once per distinct place and date)."""
    values = compact[:, :_RESIDENT_ID].astype(np.int64) - _ZERO
    body_digits: Bools = np.asarray(((values[:, :17] >= 0) & (values[:, :17] <= 9)).all(axis=1))
    checksum = (1 - 2 * (np.where(body_digits[:, None], values[:, :17], 0) @ _CHECK_WEIGHTS)) % 11
    last = compact[:, 17]
    valid: Bools = np.asarray(body_digits & np.where(checksum == 10, last == _X,
                                                     last.astype(np.int64) - _ZERO == checksum))
    places = values[:, :6] @ (10 ** np.arange(5, -1, -1, dtype=np.int64))
    births = values[:, 6:14] @ (10 ** np.arange(7, -1, -1, dtype=np.int64))
    pairs, inverse = np.unique(np.column_stack((places, births))[valid], axis=0, return_inverse=True)
    known = np.array([resident_id_known(f"{place:06d}", birth) for place, birth in pairs.tolist()], dtype=np.bool_)
    valid[valid] = known[inverse.ravel()] if len(pairs) else False
    return valid
