"""Seeded, deterministic partner feeds of any size: `python -m benchmarks.datagen --entries 10M --seed 1 --out F.csv`.

Design (what the benchmark harness relies on):

- Subject `i` (0 <= i < entries) is derived from (seed, i) alone, by integer hashing, so any subject
  can be rebuilt without generating the others (listed_values uses this). Its entity type comes
  from a seeded table of 100 slots: 50% account, 20% card, 15% device, 10% phone and 5% the rest
  (2% id_number, 2% ip, 1% email). Every identifier is valid for risklist_kernel.identifiers
  (Luhn-valid cards and IMEIs, allocated CN mobile ranges, IBANs with check digits, resident IDs
  with their check character ...), spelled in varied ways (spaces, dashes, case, +86/0086).
- Subjects are DISTINCT: the part of each identifier that varies is an invertible affine
  permutation of the subject's index within its type, so two subjects never share a canonical
  form (up to about 10^9 subjects of one type). Misses (miss_values) use prefixes, bank codes,
  number ranges and domains that generated subjects never use, so they are disjoint for any size.
- Several sources: subject i is reported by one source; about `overlap` of subjects are
  reported again, by another source, with another category and spelling. Rows come in blocks of
  4096 subjects: the block's first reports, then its second reports (so rows ~ entries*(1+overlap)).
- The CSV carries no source column (a load has one --source; docs/feeds.md). write_csv writes one
  mixed file; since second reports always use another category, the whole file also loads under a
  single --source with every row applied (no row repeats or supersedes another: each re-reported
  subject then gets two categories).
  The CLI's --per-source writes one file per source instead (FILE.<source>.csv), each to be loaded
  with its own --source, which gives multi-source records.
- Every row is an add row; reported_at lies in the two years before ANCHOR, the first day of the
  current (UTC) month. Rows without an expiry expire after their category's default retention, so
  the share a load counts as expired (and does not add) would grow with the date of the load if the
  dates were fixed; anchored to the month, it stays within the range of one month's ageing
  (benchmarks/dataset.py names its cached data by the anchor, so a new month builds new data).
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

CSV_HEADER = "action,entity_type,identifier,category,level,reported_at,expires_at,reference"
BLOCK = 4096
"""Subjects per block: a block's first reports, then its second reports."""

_M64 = (1 << 64) - 1
ANCHOR = datetime.now(UTC).date().replace(day=1)
"""Rows are dated in the two years before this day: the first of the month the generator was imported in."""
_SOURCE_NAMES = ("east-harbour-bank", "jade-river-bank", "north-plains-credit", "west-lake-bank",
                 "south-bay-savings", "pearl-delta-bank", "high-ridge-credit", "silver-coast-bank")
_SOURCE_PREFIXES = ("EHB", "JRB", "NPC", "WLB", "SBS", "PDB", "HRC", "SCB")

# Type slots out of 100: the entity-type mix.
_TYPE_WEIGHTS = (("account", 50), ("card", 20), ("device", 15), ("phone", 10), ("id_number", 2),
                 ("ip", 2), ("email", 1))

_CATEGORIES = {
    "account": ("money_mule", "money_mule", "telecom_fraud", "telecom_fraud", "money_laundering",
                "gambling", "other"),
    "card": ("scam_merchant", "account_takeover", "account_takeover", "identity_fraud", "gambling",
             "other"),
    "device": ("account_takeover", "account_takeover", "telecom_fraud", "identity_fraud"),
    "phone": ("telecom_fraud", "telecom_fraud", "telecom_fraud", "money_mule", "scam_merchant"),
    "id_number": ("identity_fraud", "identity_fraud", "money_mule"),
    "ip": ("account_takeover", "account_takeover", "telecom_fraud", "other"),
    "email": ("identity_fraud", "scam_merchant", "account_takeover"),
}
_OTHER_CATEGORIES = {
    (entity_type, first): tuple(name for name in dict.fromkeys(names) if name != first)
    for entity_type, names in _CATEGORIES.items()
    for first in names
}
_CATEGORY_CODES = {"telecom_fraud": "TF", "money_mule": "MM", "account_takeover": "ATO",
                   "identity_fraud": "IF", "gambling": "GB", "money_laundering": "ML",
                   "scam_merchant": "SM", "other": "OT"}
_LEVELS = ("low", "low", "medium", "medium", "medium", "high", "high", "high", "critical", "critical",
           "1", "2", "3", "4", "High", "CRITICAL")

# Generated subjects and misses use disjoint prefixes / codes / ranges (index 0: listed, 1: miss).
_CARD_BINS = (("400000", "411111", "424242", "510510", "555555", "222300", "621234", "622126",
               "356600"), ("499988", "534567", "601100"))
_ACCOUNT_PREFIXES = (("6217", "6228", "6222", "3100", "1102", "4400"), ("9558", "9559"))
_GB_BANKS = (("EHBK", "JRBK", "NPCR", "WLBK", "SBSV"), ("MISS", "ZZQB"))
_DE_BANKS = (("50010517", "37040044", "10070000"), ("20041111", "76026000"))
_PHONE_PREFIXES = (tuple(range(130, 140)) + (150, 151, 152, 153, 155, 156, 157, 158, 159)
                   + tuple(range(180, 190)), (166, 167, 170, 171, 172, 173, 175, 176, 177, 178))
_IMEI_PREFIXES = (("35", "86"), ("01", "99"))
_RIC_AREAS = (("110101", "110105", "110108", "120101", "120104", "310104", "310107", "520201"),
              ("110102", "110106", "120102", "310101", "310105", "520203"))
_FOREIGN_ID = (("HK", "GB"), ("MO", "SG"))
_EMAIL_DOMAINS = (("example.com", "example.org", "mail.example.net", "bank-customer.example"),
                  ("miss.example", "nowhere.example"))
_EMAIL_WORDS = ("alice", "bo", "chen", "dong", "fang", "gao", "hui", "jun", "lei", "min", "ning",
                "ping", "qiang", "rui", "shan", "tao", "wei", "xin", "yan", "zhen", "refund", "prize",
                "agent", "service", "support")
_FP_PREFIXES = ("fp_", "mx_")
_IBAN_LETTERS = str.maketrans({chr(65 + n): str(10 + n) for n in range(26)})
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_LUHN_DOUBLE = bytes(((2 * (c - 48)) % 9 if c != 57 else 9) if 48 <= c <= 57 else 0 for c in range(256))
_LUHN_PLAIN = bytes((c - 48) if 48 <= c <= 57 else 0 for c in range(256))

# Reported days (no 29 February, so expiry = same day N years later is always a real date).
_DAYS = tuple(
    day.isoformat()
    for day in (ANCHOR - timedelta(days=offset) for offset in range(1, 731))
    if not (day.month == 2 and day.day == 29)
)
_CLOCK = tuple(f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}" for second in range(86400))
_BIRTH_START = date(1950, 1, 1)
_BIRTH_DAYS = 20_000  # 1950-01-01 .. 2004-10-04
_BIRTHS = tuple((_BIRTH_START + timedelta(days=d)).strftime("%Y%m%d") for d in range(_BIRTH_DAYS))


class FeedRow(NamedTuple):
    """One generated add row: its source, then the CSV columns (empty string = absent)."""

    source: str
    action: str
    entity_type: str
    identifier: str
    category: str
    level: str
    reported_at: str
    expires_at: str
    reference: str

    def csv_line(self) -> str:
        """The row as a CSV line without line end (no field holds a comma or a quote)."""
        return ",".join(self[1:])

    def values(self) -> dict[str, object]:
        """The field values as the loader's readers give them (absent fields left out)."""
        return {name: value for name, value in zip(self._fields[1:], self[1:], strict=True) if value}


def _mix(value: int) -> int:
    """splitmix64's finaliser: 64 well-mixed bits from any integer."""
    z = (value + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _permute(index: int, size: int, salt: int) -> int:
    """A bijection of [0, size) (affine map with a multiplier coprime to size); index < size."""
    multiplier = (0x5DEECE66D * 2 + 1) % size
    while _gcd(multiplier, size) != 1:
        multiplier += 1
    return (multiplier * index + salt % size) % size


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _luhn_digit(body: str) -> str:
    """The Luhn check digit to append to `body`."""
    data = body.encode()
    total = sum(_LUHN_DOUBLE[c] for c in data[-1::-2]) + sum(_LUHN_PLAIN[c] for c in data[-2::-2])
    return str(-total % 10)


def _groups(text: str, size: int, separator: str) -> str:
    return separator.join([text[i : i + size] for i in range(0, len(text), size)])


def _iban(country: str, bban: str) -> str:
    digits = (bban + country).translate(_IBAN_LETTERS) + "00"
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


class _Subjects:
    """Builds subject i of one seed: its entity type and one of its raw spellings."""

    def __init__(self, seed: int, miss: bool = False) -> None:
        self.seed = seed
        self._salt = _mix(seed * 2 + (1 if miss else 0))
        self._side = 1 if miss else 0
        slots = [name for name, weight in _TYPE_WEIGHTS for _ in range(weight)]
        random.Random(seed).shuffle(slots)
        self.slot_type = tuple(slots)
        per_type: dict[str, int] = {}
        ranks = []
        for name in slots:
            ranks.append(per_type.get(name, 0))
            per_type[name] = per_type.get(name, 0) + 1
        self.slot_rank = tuple(ranks)
        self.type_weight = {name: weight for name, weight in _TYPE_WEIGHTS}
        self._makers: dict[str, Callable[[int, int, int], str]] = {
            "account": self._account, "card": self._card, "device": self._device,
            "phone": self._phone, "id_number": self._id_number, "ip": self._ip, "email": self._email,
        }
        self._perm_cache: dict[int, tuple[int, int]] = {}

    def entity_type(self, index: int) -> str:
        return self.slot_type[index % 100]

    def spelling(self, index: int, variant: int) -> tuple[str, str]:
        """(entity type, raw identifier) of subject `index`, spelled per `variant`."""
        slot = index % 100
        entity_type = self.slot_type[slot]
        within = (index // 100) * self.type_weight[entity_type] + self.slot_rank[slot]
        bits = _mix(self._salt ^ (index * 0x2545F4914F6CDD1D))
        return entity_type, self._makers[entity_type](within, bits, variant)

    def _perm(self, index: int, size: int) -> int:
        cached = self._perm_cache.get(size)
        if cached is None:
            multiplier = (0x5DEECE66D * 2 + 1) % size
            while _gcd(multiplier, size) != 1:
                multiplier += 1
            cached = (multiplier, self._salt % size)
            self._perm_cache[size] = cached
        multiplier, offset = cached
        return (multiplier * index + offset) % size

    # -- per type: `within` is the subject's index within its type, `bits` its random bits --------

    def _account(self, within: int, bits: int, variant: int) -> str:
        side = self._side
        if bits & 0xFF < 52:  # ~20% IBANs
            body = self._perm(within, 10**10)
            if bits >> 8 & 1:
                bank = _DE_BANKS[side][(bits >> 9) % len(_DE_BANKS[side])]
                number = _iban("DE", f"{bank}{body:010d}")
            else:
                bank = _GB_BANKS[side][(bits >> 9) % len(_GB_BANKS[side])]
                number = _iban("GB", f"{bank}{(bits >> 16) % 10000:04d}{body:010d}")
            style = variant % 3
            if style == 0:
                return number
            spaced = _groups(number, 4, " ")
            return spaced if style == 1 else spaced.lower()
        prefixes = _ACCOUNT_PREFIXES[side]
        number = f"{prefixes[(bits >> 8) % len(prefixes)]}{self._perm(within, 10**12):012d}"
        length = (bits >> 16) % 3
        if length:
            number += f"{(bits >> 20) % 1000:03d}"[: 2 * length - 1]  # 17 or 19 digits
        style = variant % 3
        if style == 0:
            return number
        return _groups(number, 4, " " if style == 1 else "-")

    def _card(self, within: int, bits: int, variant: int) -> str:
        bins = _CARD_BINS[self._side]
        card_bin = bins[bits % len(bins)]
        if card_bin.startswith("62") and (bits >> 8) % 10 < 3:
            body = f"{card_bin}{self._perm(within, 10**9):09d}{(bits >> 16) % 1000:03d}"
        else:
            body = f"{card_bin}{self._perm(within, 10**9):09d}"
        number = body + _luhn_digit(body)
        style = variant % 3
        if style == 0:
            return number
        return _groups(number, 4, " " if style == 1 else "-")

    def _device(self, within: int, bits: int, variant: int) -> str:
        side = self._side
        kind = bits % 100
        if kind < 45:
            prefixes = _IMEI_PREFIXES[side]
            body = f"{prefixes[(bits >> 8) & 1]}{self._perm(within, 10**12):012d}"
            imei = body + _luhn_digit(body)
            style = variant % 3
            if style == 0:
                return imei
            separator = "-" if style == 1 else " "
            return separator.join((imei[:2], imei[2:8], imei[8:14], imei[14]))
        if kind < 80:
            unique = f"{self._perm(within, 1 << 48):012x}"
            noise = f"{_mix(bits):016x}{bits & 0xFFFF:04x}"
            version = "7" if side else "4"
            uuid = f"{unique[:8]}-{unique[8:12]}-{version}{noise[:3]}-a{noise[3:6]}-{noise[6:18]}"
            style = variant % 3
            return uuid if style == 0 else uuid.upper() if style == 1 else "{" + uuid + "}"
        if kind < 95:
            first = "0123456789abcdef"[(bits >> 8) % 8 + 8 * side]
            android = f"{first}{self._perm(within, 1 << 60):015x}"
            return android.upper() if variant % 2 else android
        value = self._perm(within, 62**9)
        text = []
        for _ in range(9):
            value, digit = divmod(value, 62)
            text.append(_B62[digit])
        return _FP_PREFIXES[side] + "".join(text)

    def _phone(self, within: int, bits: int, variant: int) -> str:
        prefixes = _PHONE_PREFIXES[self._side]
        value = self._perm(within, len(prefixes) * 10**8)
        national = f"{prefixes[value // 10**8]}{value % 10**8:08d}"
        style = variant % 5
        if style == 0:
            return national
        spaced = f"{national[:3]} {national[3:7]} {national[7:]}"
        if style == 1:
            return spaced
        if style == 2:
            return "+86" + national
        if style == 3:
            return f"+86 {national[:3]}-{national[3:7]}-{national[7:]}"
        return "0086 " + spaced

    def _id_number(self, within: int, bits: int, variant: int) -> str:
        side = self._side
        if bits % 10 == 0:  # a foreign id, no check digit
            country = _FOREIGN_ID[side][(bits >> 4) & 1]
            number = f"{chr(65 + (bits >> 5) % 26)}{self._perm(within, 10**10):010d}"
            return f"{country}:{number}" if variant % 2 else f"{country.lower()}:{number}"
        areas = _RIC_AREAS[side]
        value = self._perm(within, len(areas) * _BIRTH_DAYS * 1000)
        value, serial = divmod(value, 1000)
        area_index, day = divmod(value, _BIRTH_DAYS)
        body = f"{areas[area_index]}{_BIRTHS[day]}{serial:03d}"
        total = sum(w * (c - 48) for w, c in zip(_RIC_WEIGHTS, body.encode(), strict=True))
        number = body + "10X98765432"[total % 11]
        style = variant % 4
        if style == 0:
            return number
        if style == 1:
            return "CN:" + number
        if style == 2:
            return number.lower()
        return f"cn:{number[:6]} {number[6:14]} {number[14:]}"

    def _ip(self, within: int, bits: int, variant: int) -> str:
        side = self._side
        if bits % 5:  # IPv4: listed first octet 1-99, misses 200-223
            value = self._perm(within, 99 * (1 << 24) if not side else 24 * (1 << 24))
            first = (value >> 24) + (1 if not side else 200)
            address = f"{first}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"
            return "::ffff:" + address if variant % 4 == 3 else address
        value = self._perm(within, 1 << 47) | (side << 47)
        groups = (value >> 32 & 0xFFFF, value >> 16 & 0xFFFF, value & 0xFFFF)
        address = "2001:db8:{:x}:{:x}:{:x}::{:x}".format(*groups, (bits >> 8 & 0xFFFF) | 1)
        return address.upper() if variant % 2 else address

    def _email(self, within: int, bits: int, variant: int) -> str:
        domains = _EMAIL_DOMAINS[self._side]
        first = _EMAIL_WORDS[bits % len(_EMAIL_WORDS)]
        second = _EMAIL_WORDS[(bits >> 8) % len(_EMAIL_WORDS)]
        joiner = ("", ".", "_")[(bits >> 16) % 3]
        address = f"{first}{joiner}{second}{self._perm(within, 10**9)}@{domains[(bits >> 20) % len(domains)]}"
        style = variant % 3
        if style == 0:
            return address
        if style == 1:
            return address.title()
        local, _, domain = address.partition("@")
        return f"{local}@{domain.upper()}"


class _Rows:
    """Builds the rows of subjects [start, stop) of one generation."""

    def __init__(self, entries: int, seed: int, sources: int, overlap: float) -> None:
        if entries < 0:
            raise ValueError("entries must be zero or more")
        if sources < 1 or sources > 999:
            raise ValueError("sources must be from 1 to 999")
        if not 0.0 <= overlap <= 1.0:
            raise ValueError("overlap must be between 0 and 1")
        self.entries = entries
        self.subjects = _Subjects(seed)
        named = tuple(zip(_SOURCE_NAMES, _SOURCE_PREFIXES, strict=True))
        self.sources = tuple(
            named[n] if n < len(named) else (f"bank-{n + 1:03d}", f"B{n + 1:03d}") for n in range(sources)
        )
        self._overlap_cut = int(overlap * 65536)
        self._attr_salt = _mix(seed * 2 + 0x1234567)

    def block(self, start: int, stop: int) -> list[FeedRow]:
        """First reports of subjects [start, stop), then their second reports."""
        rows: list[FeedRow] = []
        seconds: list[FeedRow] = []
        count = len(self.sources)
        for index in range(start, stop):
            attrs = _mix(self._attr_salt ^ index)
            source = attrs % count
            rows.append(self._row(index, attrs >> 8, source, 0, attrs >> 40))
            if (attrs >> 24) & 0xFFFF < self._overlap_cut:
                again = _mix(attrs)
                other = (source + 1 + again % (count - 1)) % count if count > 1 else source
                seconds.append(self._row(index, again >> 8, other, 1 + again % 7, attrs >> 40))
        rows.extend(seconds)
        return rows

    def _row(self, index: int, bits: int, source: int, variant_shift: int, category_pick: int) -> FeedRow:
        entity_type, raw = self.subjects.spelling(index, bits % 60 + variant_shift)
        categories = _CATEGORIES[entity_type]
        category = categories[category_pick % len(categories)]
        if variant_shift:  # a second report: always another category than the first
            others = _OTHER_CATEGORIES[entity_type, category]
            category = others[(bits >> 6) % len(others)]
        bits >>= 8
        level = _LEVELS[bits & 15]
        bits >>= 4
        day = _DAYS[bits % len(_DAYS)]
        bits >>= 10
        clock = _CLOCK[bits % 86400]
        bits >>= 17
        style = bits % 20
        bits >>= 5
        if style < 8:
            reported = f"{day}T{clock}+08:00"
        elif style < 12:
            reported = f"{day}T{clock}Z"
        elif style < 17:
            reported = day
        else:
            reported = f"{day} {clock}+00:00"
        expires = ""
        if bits % 20 < 7:
            expires = f"{int(day[:4]) + 1 + (bits >> 5) % 6}{day[4:]}"
        reference = ""
        if (bits >> 8) % 10 < 6:
            name, prefix = self.sources[source]
            serial = (index * 7919 + variant_shift * 104729) % 1000000
            reference = f"{prefix}-{_CATEGORY_CODES[category]}-{day[:4]}-{serial:06d}"
        return FeedRow(self.sources[source][0], "add", entity_type, raw, category, level, reported,
                       expires, reference)


def generate_rows(entries: int, seed: int, sources: int = 5, overlap: float = 0.1) -> Iterator[FeedRow]:
    """Rows for `entries` distinct subjects (about entries*(1+overlap) rows), deterministic per seed."""
    rows = _Rows(entries, seed, sources, overlap)
    for start in range(0, entries, BLOCK):
        yield from rows.block(start, min(entries, start + BLOCK))


def miss_values(count: int, seed: int) -> list[tuple[str, str]]:
    """(entity_type, raw identifier) pairs no generate_rows subject has, whatever its size."""
    subjects = _Subjects(seed, miss=True)
    return [subjects.spelling(index, _mix(index) % 60) for index in range(count)]


def listed_values(entries: int, seed: int, count: int, zipf_s: float = 1.1) -> list[tuple[str, str]]:
    """`count` hits among generate_rows(entries, seed)'s subjects, Zipf-like (rank r ~ r^-zipf_s)."""
    if entries < 1:
        raise ValueError("entries must be at least 1 to draw listed values")
    subjects = _Subjects(seed)
    rng = random.Random(_mix(seed) ^ 0x715)
    exponent = 1.0 - zipf_s
    top = float(entries + 1) ** exponent if exponent else 0.0
    picks = []
    for _ in range(count):
        u = rng.random()
        # Inverse CDF of a continuous power law on [1, entries + 1) (log-uniform when s == 1).
        position = (1.0 + u * (top - 1.0)) ** (1.0 / exponent) if exponent else (entries + 1) ** u
        rank = int(position) - 1
        rank = min(max(rank, 0), entries - 1)
        index = _permute(rank, entries, seed)  # hot subjects spread over the feed
        picks.append(subjects.spelling(index, rng.randrange(60)))
    return picks


def write_csv(path: Path, rows: Iterable[FeedRow]) -> int:
    """Write `rows` as one CSV feed (header first, LF line ends); return the rows written."""
    written = 0
    with path.open("w", encoding="utf-8", newline="\n", buffering=1 << 20) as handle:
        handle.write(CSV_HEADER + "\n")
        chunk: list[str] = []
        for row in rows:
            chunk.append(",".join(row[1:]))
            if len(chunk) >= 8192:
                handle.write("\n".join(chunk) + "\n")
                written += len(chunk)
                chunk = []
        if chunk:
            handle.write("\n".join(chunk) + "\n")
            written += len(chunk)
    return written


# -- the command line: blocks are generated on every core, written in order -------------------------

_WORKER: _Rows | None = None


def _init_worker(entries: int, seed: int, sources: int, overlap: float) -> None:
    global _WORKER
    _WORKER = _Rows(entries, seed, sources, overlap)


def _block_lines(start: int) -> list[tuple[str, bytes]]:
    """(source, CSV lines) of one block, grouped by source in first-seen order."""
    assert _WORKER is not None
    rows = _WORKER.block(start, min(_WORKER.entries, start + BLOCK))
    grouped: dict[str, list[str]] = {}
    for row in rows:
        grouped.setdefault(row.source, []).append(",".join(row[1:]))
    return [(source, ("\n".join(lines) + "\n").encode()) for source, lines in grouped.items()]


def _block_all(start: int) -> tuple[int, bytes]:
    assert _WORKER is not None
    rows = _WORKER.block(start, min(_WORKER.entries, start + BLOCK))
    return len(rows), ("\n".join([",".join(row[1:]) for row in rows]) + "\n").encode()


def parse_count(text: str) -> int:
    """'10M' -> 10_000_000, '100k' -> 100_000, '2500' -> 2500."""
    scale = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000, "b": 1_000_000_000}
    stripped = text.strip().lower().replace("_", "")
    try:
        if stripped and stripped[-1] in scale:
            return int(float(stripped[:-1]) * scale[stripped[-1]])
        return int(stripped)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count such as 2500, 100k or 10M") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=parse_count, required=True, help="distinct subjects, e.g. 100k, 10M")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sources", type=int, default=5)
    parser.add_argument("--overlap", type=float, default=0.1)
    parser.add_argument("--out", type=Path, required=True, help="the CSV file to write")
    parser.add_argument("--per-source", action="store_true",
                        help="write OUT's stem.<source>.csv per source instead of one mixed file")
    parser.add_argument("--workers", type=int, default=multiprocessing.cpu_count() or 1)
    args = parser.parse_args(argv)
    rows = _Rows(args.entries, args.seed, args.sources, args.overlap)  # checks the arguments
    starts = range(0, args.entries, BLOCK)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("fork")
    with context.Pool(max(1, args.workers), _init_worker,
                      (args.entries, args.seed, args.sources, args.overlap)) as pool:
        if args.per_source:
            handles = {}
            counts = dict.fromkeys((name for name, _ in rows.sources), 0)
            try:
                for name, _ in rows.sources:
                    handle = args.out.with_name(f"{args.out.stem}.{name}.csv").open("wb", buffering=1 << 20)
                    handle.write((CSV_HEADER + "\n").encode())
                    handles[name] = handle
                for groups in pool.imap(_block_lines, starts, chunksize=4):
                    for name, data in groups:
                        handles[name].write(data)
                        counts[name] += data.count(b"\n")
            finally:
                for handle in handles.values():
                    handle.close()
            for name, handle in handles.items():
                print(f"{handle.name}: {counts[name]} rows (--source {name})")
            return 0
        total = 0
        with args.out.open("wb", buffering=1 << 20) as out:
            out.write((CSV_HEADER + "\n").encode())
            for written, data in pool.imap(_block_all, starts, chunksize=4):
                out.write(data)
                total += written
    print(f"{args.out}: {total} rows for {args.entries} subjects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
