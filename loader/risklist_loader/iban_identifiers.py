"""IBANs a whole column at once, as the kernel's fast account rule reads them.

After the digit forms (digit_identifiers), a feed's accounts are mostly IBANs, written compact or in groups of four,
in either case. For text of ASCII letters, digits and the separators the kernel ignores (space, hyphen, dot, slash,
tab) the kernel's rule (risklist_kernel.identifiers) comes down to: drop the separators, upper-case, two letters
and two digits first, a country whose IBANs need nothing more than their check digits and BBAN pattern, the
ISO 7064 mod-97 check, then that pattern. This module drops, upper-cases and checks the digits with numpy; only the
pattern is matched row by row (re, as the kernel does). Every other account is left to FastRows.key, so every
canonical text given here is the one FastRows.key would digest (tests/loader/test_loader_iban_identifiers.py).
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

from risklist_kernel.enums import EntityType
from risklist_kernel.identifiers import fast_iban_bban
from risklist_loader.field_cells import field_cells, packed_left

FIELD_WIDTH = 48
"""Longer fields are left to FastRows.key (an IBAN has at most 34 letters and digits)."""
_NARROWEST = 8

Bools = npt.NDArray[np.bool_]
Cells = npt.NDArray[np.uint8]

_SEPARATORS = np.frombuffer(b" -./\t", dtype=np.uint8)
"""What the kernel's account rule deletes (risklist_kernel.identifiers._SEPARATORS); strip() takes nothing else
from such text."""
_CHECK_LENGTH = 4
"""Country code and check digits, moved behind the BBAN for the mod-97 check."""


def iban_forms(buffer: Cells, starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64],
               types: npt.NDArray[np.int64]) -> tuple[Bools, list[bytes]]:
    """Which fields (buffer[start:end], of the given entity types) are IBANs this module decides, and the
    canonical text of each of those, in field order."""
    decided = np.zeros(len(types), dtype=np.bool_)
    lengths = ends - starts
    rows = np.flatnonzero((types == int(EntityType.ACCOUNT)) & (lengths > 0) & (lengths <= FIELD_WIDTH))
    if not len(rows):
        return decided, []
    width = min(FIELD_WIDTH, max(_NARROWEST, int(lengths[rows].max())))
    cells = field_cells(buffer, starts[rows], ends[rows], width)
    inside = np.arange(width) < lengths[rows][:, None]
    upper = np.where((cells >= ord("a")) & (cells <= ord("z")), cells - np.uint8(32), cells)
    letter = (upper >= ord("A")) & (upper <= ord("Z"))
    digit = (cells >= ord("0")) & (cells <= ord("9"))
    kept = letter | digit
    written: Bools = np.asarray((kept | np.isin(cells, _SEPARATORS) | ~inside).all(axis=1))
    count = np.where(written, kept.sum(axis=1), 0)
    compact = packed_left(upper, kept & written[:, None], count)
    shaped = (written & (count >= _CHECK_LENGTH) & _is_letter(compact[:, 0]) & _is_letter(compact[:, 1])
              & _is_digit(compact[:, 2]) & _is_digit(compact[:, 3]))
    checked = np.flatnonzero(shaped)
    checked = checked[_mod97(compact[checked], count[checked]) == 1]
    texts: list[bytes] = []
    patterns: dict[bytes, re.Pattern[str] | None] = {}
    for row, text in zip(checked.tolist(), compact[checked].view(f"S{width}").ravel().tolist(), strict=True):
        country = text[:2]
        if country not in patterns:
            patterns[country] = fast_iban_bban(text.decode("ascii"))
        pattern = patterns[country]
        if pattern is not None and pattern.match(text[_CHECK_LENGTH:].decode("ascii")):
            decided[rows[row]] = True
            texts.append(text)
    return decided, texts


def _is_letter(column: Cells) -> Bools:
    letter: Bools = (column >= ord("A")) & (column <= ord("Z"))
    return letter


def _is_digit(column: Cells) -> Bools:
    digit: Bools = (column >= ord("0")) & (column <= ord("9"))
    return digit


def _mod97(compact: Cells, count: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """ISO 7064 mod 97 of each row's text (`count` letters and digits) with its first four moved to the end, every
    letter read as two digits (A = 10 ... Z = 35), as int(text.translate(...)) % 97 gives it."""
    remainder = np.zeros(len(compact), dtype=np.int64)
    columns = [*range(_CHECK_LENGTH, compact.shape[1]), *range(_CHECK_LENGTH)]
    for column in columns:
        characters = compact[:, column].astype(np.int64)
        letter = characters >= ord("A")
        step = np.where(letter, 100, 10)
        value = np.where(letter, characters - (ord("A") - 10), characters - ord("0"))
        used = column < count
        remainder = np.where(used, (remainder * step + value) % 97, remainder)
    return remainder
