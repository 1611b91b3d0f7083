"""Digit-form identifiers of a whole column at once: accounts, cards, IMEIs and Chinese mobiles as the kernel's
fast rules read them.

Eight rows in ten of a typical feed are bank accounts, card numbers, IMEIs and mobile numbers written as digits,
perhaps grouped with spaces or hyphens. For those the kernel's rules (risklist_kernel.identifiers) come down to:
drop the spaces and hyphens, check the length, for cards and 15-digit IMEIs the Luhn digit, and for a mobile
its +86 / 0086 prefix and whether phonenumbers' CN patterns call it valid. This module parses every field of a
column with numpy and says which fields it decided; the rest (letters, IBANs, other separators and types, wrong
lengths or check digits, numbers it is not sure of) are left to FastRows.key, so every canonical text given
here is exactly the one FastRows.key would digest (tests/loader/test_loader_digit_identifiers.py).
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from risklist_kernel.enums import EntityType
from risklist_kernel.identifiers import surely_valid_cn_mobile
from risklist_loader.field_cells import field_cells, packed_left

FIELD_WIDTH = 40
"""Longer fields are left to FastRows.key (no digit form here is longer than 34 digits)."""
_NARROWEST = 16
"""The matrix is as wide as the longest field up to FIELD_WIDTH, but never narrower than this: +86 and a mobile's
11 digits (14 bytes) must fit."""

Bools = npt.NDArray[np.bool_]
Cells = npt.NDArray[np.uint8]

_ZERO, _ONE, _THREE, _SIX, _EIGHT, _NINE, _SPACE, _HYPHEN, _PLUS = 48, 49, 51, 54, 56, 57, 32, 45, 43
_LENGTHS = {EntityType.ACCOUNT: (4, 34), EntityType.CARD: (12, 19), EntityType.DEVICE: (14, 16)}
"""Digits a canonical account, card or IMEI has (risklist_kernel.identifiers' rules)."""
_MOBILE_DIGITS = 11
DIGIT_TYPES = np.array([int(entity_type) for entity_type in (*_LENGTHS, EntityType.PHONE)], dtype=np.int64)
"""The entity types digit_forms may decide: fields of other types it leaves."""


def digit_forms(
    buffer: Cells, starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64], types: npt.NDArray[np.int64],
    default_region: str,
) -> tuple[Bools, list[bytes]]:
    """Which fields (buffer[start:end], of the given entity types) are digit forms this module decides, and
    the canonical text of each of those, in field order."""
    lengths = ends - starts
    width = min(FIELD_WIDTH, max(_NARROWEST, int(lengths.max(initial=0))))  # narrower: less work per row
    within = np.arange(width)
    inside = within < lengths[:, None]
    cells = field_cells(buffer, starts, ends, width)
    digit = (cells >= _ZERO) & (cells <= _NINE)
    separator = (cells == _SPACE) | (cells == _HYPHEN)
    fitting = (lengths > 0) & (lengths <= FIELD_WIDTH)
    usable = fitting & (digit | separator | ~inside).all(axis=1)
    leading_plus = (cells == _PLUS) & (within == 0)
    phones = (fitting & (types == int(EntityType.PHONE)) & (digit | separator | ~inside | leading_plus).all(axis=1)
              if default_region == "CN" else np.zeros(len(types), dtype=np.bool_))
    prefix = _mobile_prefix(cells, phones)
    digit[within < prefix[:, None]] = False  # the digits of +86 or 0086 are not the number's
    count = digit.sum(axis=1)
    compact = packed_left(cells, digit, count)
    decided = np.zeros(len(types), dtype=np.bool_)
    for entity_type, (shortest, longest) in _LENGTHS.items():
        decided |= usable & (types == int(entity_type)) & (count >= shortest) & (count <= longest)
    checked = decided & ((types == int(EntityType.CARD)) | ((types == int(EntityType.DEVICE)) & (count == 15)))
    decided[checked] = _luhn_valid(compact[checked], count[checked])
    phones &= _mobile_grammar(cells, digit, separator, prefix, count, lengths)
    mobiles = np.flatnonzero(phones)
    if len(mobiles):
        leading = (compact[mobiles, :_MOBILE_PREFIX_DIGITS].astype(np.int64) - _ZERO) @ _PREFIX_PLACES
        # 179 is a carrier prefix phonenumbers may strip when parsing: the kernel's rules decide those.
        mobiles = mobiles[(leading // 100 != 179) & _sure_mobile_prefixes()[leading]]
        decided[mobiles] = True
        compact[mobiles, 3:] = compact[mobiles, : width - 3]  # 11 digits: "+86" and they fit in 16 bytes
        compact[mobiles, :3] = np.frombuffer(b"+86", dtype=np.uint8)
    texts: list[bytes] = np.ascontiguousarray(compact[decided]).view(f"S{width}").ravel().tolist()
    return decided, texts


_MOBILE_PREFIX_DIGITS = 5
_PREFIX_PLACES = 10 ** np.arange(_MOBILE_PREFIX_DIGITS - 1, -1, -1, dtype=np.int64)
_MOBILE_PROBES = ("000000", "999999", "555555", "012345", "987654", "191817")
"""The rest of an 11-digit number, each digit 0-9 somewhere among them."""


@functools.cache
def _sure_mobile_prefixes() -> Bools:
    """For each number below 10**5, whether the kernel's surely_valid_cn_mobile holds for those five digits followed
    by every probe: the table digit_forms reads a mobile's validity from, instead of two pattern matches a row.

    phonenumbers' CN patterns decide an 11-digit mobile by its first five digits at most (1740[0-5]\\d{6},
    1[38]\\d\\d{8}, ...), so the probes agree; were a pattern to look further, a probe failing leaves that prefix
    False, which only sends its numbers to the kernel's rules (tests/loader/test_loader_digit_identifiers.py
    compares table and rule). Built once a process (some 60 ms), on the first chunk with a mobile."""
    table = np.zeros(10**_MOBILE_PREFIX_DIGITS, dtype=np.bool_)
    for prefix in range(10**4, 2 * 10**4):  # the grammar lets through 1, then 3-9
        text = str(prefix)
        if text[1] >= "3":
            table[prefix] = all(surely_valid_cn_mobile(text + probe) for probe in _MOBILE_PROBES)
    return table


def _luhn_valid(compact: Cells, count: npt.NDArray[np.int64]) -> Bools:
    """Whether each field's digits (at its front, `count` of them) pass the Luhn check."""
    within = np.arange(compact.shape[1])
    values = np.where(within < count[:, None], compact - _ZERO, 0).astype(np.int16)
    doubled = (count[:, None] - within) % 2 == 0  # every second digit from the right, the last one not
    # A doubled digit v counts 2v, less 9 when that has two digits (v >= 5): v more, and 9 less from 5 up.
    extra = np.where(doubled, values - 9 * (values >= 5), 0)
    valid: Bools = ((values.sum(axis=1) + extra.sum(axis=1)) % 10) == 0
    return valid


def _mobile_prefix(cells: Cells, phones: Bools) -> npt.NDArray[np.int64]:
    """Where a mobile number's own digits may start: after +86 or 0086 and one space or hyphen, if given."""
    plus = phones & (cells[:, 0] == _PLUS) & (cells[:, 1] == _EIGHT) & (cells[:, 2] == _SIX)
    zeros = phones & (cells[:, 0] == _ZERO) & (cells[:, 1] == _ZERO) & (cells[:, 2] == _EIGHT) & (cells[:, 3] == _SIX)
    prefix: npt.NDArray[np.int64] = np.where(plus, 3, np.where(zeros, 4, 0)).astype(np.int64)
    after = cells[np.arange(len(cells)), prefix]
    separated: npt.NDArray[np.int64] = ((prefix > 0) & ((after == _SPACE) | (after == _HYPHEN))).astype(np.int64)
    return prefix + separated


def _mobile_grammar(cells: Cells, digit: Bools, separator: Bools, prefix: npt.NDArray[np.int64],
                    count: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]) -> Bools:
    """The kernel's CN mobile form after the prefix: 1, 3-9, a digit, then eight digits each after at most one
    space or hyphen, and nothing else (no + beyond the prefix, no separator last or twice)."""
    rows = np.arange(len(cells))
    width = cells.shape[1]
    within = np.arange(width)
    first, second = cells[rows, prefix], cells[rows, np.minimum(prefix + 1, width - 1)]
    third = digit[rows, np.minimum(prefix + 2, width - 1)]
    body = (within >= prefix[:, None]) & (within < lengths[:, None])
    next_is_digit = np.concatenate((digit[:, 1:], np.zeros((len(cells), 1), dtype=np.bool_)), axis=1)
    loose_separator = (body & separator & ~next_is_digit).any(axis=1)
    no_plus = ~((cells == _PLUS) & (within >= 1)).any(axis=1)
    ok: Bools = ((first == _ONE) & (second >= _THREE) & (second <= _NINE) & third & ~loose_separator
                 & no_plus & (count == _MOBILE_DIGITS))
    return ok
