"""Deterministic demo feeds of three fictional partner banks: python seeds/generate.py [--out DIR] [--anchor DATE]."""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from stdnum import iban, luhn
from stdnum.cn import ric

from risklist_kernel.enums import Category, EntityType
from risklist_kernel.errors import InvalidIdentifier
from risklist_kernel.identifiers import Normaliser
from risklist_server.core.settings import DEFAULT_RETENTION_DAYS

SEED = 20261123
TODAY = date(2026, 11, 23)
"""The committed seeds' anchor, their "today": reported_at lies in the two years before it.

`--anchor DATE` writes the same rows with every date moved by DATE - TODAY days (`make serve` anchors
at the day it builds the demo), so the demo's verdicts are the same whatever day it is built on."""
QUIET_BEFORE = timedelta(days=1)
QUIET_AFTER = timedelta(days=3)
"""No contribution expires, and none turns a year old (the built-in policy's max_age_days = 365), from
QUIET_BEFORE before the anchor to QUIET_AFTER after its start: a demo built on its anchor day gives the
same verdicts for two days however late in the day it was built (tests/test_seeds.py checks)."""
POLICY_AGE_DAYS = 365
"""max_age_days of the built-in policy's BLOCK rule (docs/policy.md)."""

FIELDS = ("action", "entity_type", "identifier", "category", "level", "reported_at", "expires_at", "reference")
DATE_FIELDS = ("reported_at", "expires_at")
NORMALISER = Normaliser("CN")
K = TypeVar("K")

TYPE_WEIGHTS = {
    EntityType.ACCOUNT: 50,
    EntityType.CARD: 20,
    EntityType.DEVICE: 15,
    EntityType.PHONE: 10,
    EntityType.ID_NUMBER: 2,
    EntityType.IP: 2,
    EntityType.EMAIL: 1,
}
CATEGORIES = {
    EntityType.ACCOUNT: {
        Category.MONEY_MULE: 40,
        Category.TELECOM_FRAUD: 30,
        Category.MONEY_LAUNDERING: 12,
        Category.GAMBLING: 12,
        Category.OTHER: 6,
    },
    EntityType.CARD: {
        Category.SCAM_MERCHANT: 30,
        Category.ACCOUNT_TAKEOVER: 30,
        Category.IDENTITY_FRAUD: 20,
        Category.GAMBLING: 15,
        Category.OTHER: 5,
    },
    EntityType.DEVICE: {Category.ACCOUNT_TAKEOVER: 50, Category.TELECOM_FRAUD: 35, Category.IDENTITY_FRAUD: 15},
    EntityType.PHONE: {Category.TELECOM_FRAUD: 75, Category.MONEY_MULE: 15, Category.SCAM_MERCHANT: 10},
    EntityType.ID_NUMBER: {Category.IDENTITY_FRAUD: 70, Category.MONEY_MULE: 30},
    EntityType.IP: {Category.ACCOUNT_TAKEOVER: 60, Category.TELECOM_FRAUD: 25, Category.OTHER: 15},
    EntityType.EMAIL: {Category.IDENTITY_FRAUD: 40, Category.SCAM_MERCHANT: 40, Category.ACCOUNT_TAKEOVER: 20},
}
LEVELS = {"low": 20, "medium": 35, "high": 30, "critical": 15}
LEVEL_NUMBERS = {"low": 1, "medium": 2, "high": 3, "critical": 4}

CARD_BINS = ("400000", "411111", "424242", "510510", "555555", "222300", "621234", "622126", "356600")
CN_MOBILE_PREFIXES = (
    "130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "156", "157", "158", "159", "166", "176", "177", "180", "181", "182", "185", "186",
    "187", "188", "189", "198", "199",
)  # fmt: skip
RIC_AREAS = ("110101", "110105", "110108", "120101", "120104", "310104", "310107", "520201")
IBAN_BANKS = {"GB": ("EHBK", "JRBK", "NPCR"), "DE": ("", ""), "NL": ("EHBK", "JRBK", "NPCR")}
DOC_NETWORKS = ("192.0.2.", "198.51.100.", "203.0.113.")
EMAIL_WORDS = ("alice", "bo", "chen", "dong", "fang", "gao", "hui", "jun", "lei", "min", "ning", "ping",
               "qiang", "rui", "shan", "tao", "wei", "xin", "yan", "zhen", "refund", "prize", "agent")
TIME_OFFSETS = ("+08:00", "+08:00", "+08:00", "+00:00", "Z")
NOT_LISTED_PHONE = "+8613900000000"
"""Never generated, so the README can show a miss."""


@dataclass(frozen=True)
class Bank:
    """A fictional partner bank: its source id, reference prefix and rows per feed file."""

    source: str
    name: str
    prefix: str
    csv_rows: int
    jsonl_rows: int
    removes: int
    csv_bad: tuple[str, ...]
    jsonl_bad: tuple[str, ...]


BANKS = (
    Bank("east-harbour-bank", "East Harbour Bank", "EHB", 720, 640, 14,
         ("bad_luhn", "invalid_phone", "unknown_category", "naive_timestamp", "duplicate"),
         ("reference_too_long", "naive_timestamp", "bad_luhn")),
    Bank("jade-river-bank", "Jade River Bank", "JRB", 680, 700, 12,
         ("invalid_phone", "reference_too_long", "duplicate", "unknown_category"),
         ("bad_luhn", "unknown_category", "naive_timestamp", "duplicate")),
    Bank("north-plains-credit", "North Plains Credit Union", "NPC", 760, 620, 16,
         ("naive_timestamp", "bad_luhn", "reference_too_long", "invalid_phone", "duplicate", "unknown_category"),
         ("invalid_phone", "duplicate", "reference_too_long")),
)  # fmt: skip

BAD_REASONS = {
    "bad_luhn": ("identifier", "card number with a wrong Luhn check digit"),
    "invalid_phone": ("identifier", "not a valid phone number (no such CN number range)"),
    "unknown_category": ("category", "category that is not in the list"),
    "naive_timestamp": ("reported_at", "date-time without a UTC offset (naive)"),
    "reference_too_long": ("reference", "reference longer than 64 characters"),
    "duplicate": ("row", "repeats line {original} exactly"),
}
"""Each defect's field and what it is. A "duplicate" is not rejected: the loader counts it as repeated."""


@dataclass(frozen=True)
class Subject:
    """A listed identifier: its type, canonical form and a few raw spellings a bank might use."""

    entity_type: EntityType
    canonical: str
    spellings: tuple[str, ...]


@dataclass(frozen=True)
class Demo:
    """A subject to try: listed by several banks, never removed, with an explicit far expiry."""

    entity_type: EntityType
    spellings: dict[str, tuple[str, str, Category, str]]
    """Per (source, file kind) "source:csv" -> (raw spelling, level, category, reference)."""


DEMOS = (
    Demo(EntityType.PHONE, {
        "east-harbour-bank:csv": ("138 0013 8000", "critical", Category.TELECOM_FRAUD, "EHB-TF-2026-0001"),
        "jade-river-bank:csv": ("+86 138-0013-8000", "high", Category.TELECOM_FRAUD, "JRB/2026/TF/0042"),
        "north-plains-credit:jsonl": ("+8613800138000", "high", Category.MONEY_MULE, "NPC-MM-7781"),
    }),
    Demo(EntityType.ACCOUNT, {
        "east-harbour-bank:csv": ("6217 8000 2026 1123 001", "critical", Category.MONEY_MULE, "EHB-MM-2026-0107"),
        "jade-river-bank:jsonl": ("6217800020261123001", "high", Category.MONEY_MULE, "JRB/2026/MM/0311"),
        "north-plains-credit:csv": ("6217-8000-2026-1123-001", "high", Category.TELECOM_FRAUD, ""),
    }),
    Demo(EntityType.CARD, {
        "east-harbour-bank:jsonl": ("4242 4242 4242 4242", "high", Category.SCAM_MERCHANT, "EHB-SM-0093"),
        "north-plains-credit:csv": ("4242-4242-4242-4242", "critical", Category.ACCOUNT_TAKEOVER, "NPC-ATO-1204"),
    }),
    Demo(EntityType.DEVICE, {
        "jade-river-bank:csv": ("35-209900-176148-1", "critical", Category.ACCOUNT_TAKEOVER, "JRB/2026/ATO/0007"),
        "north-plains-credit:jsonl": ("35 209900 176148 1", "high", Category.TELECOM_FRAUD, ""),
    }),
    Demo(EntityType.ACCOUNT, {
        "jade-river-bank:csv": ("gb43 jrbk 6016 1331 9268 19", "high", Category.MONEY_LAUNDERING, "JRB/2026/ML/0002"),
        "east-harbour-bank:jsonl": ("GB43JRBK60161331926819", "critical", Category.MONEY_LAUNDERING, ""),
    }),
    Demo(EntityType.EMAIL, {
        "east-harbour-bank:csv": ("Refund.Desk@EXAMPLE.COM", "high", Category.SCAM_MERCHANT, "EHB-SM-0101"),
        "jade-river-bank:jsonl": ("refund.desk@example.com", "high", Category.IDENTITY_FRAUD, ""),
    }),
    Demo(EntityType.IP, {
        "north-plains-credit:csv": ("203.0.113.45", "critical", Category.ACCOUNT_TAKEOVER, "NPC-ATO-1300"),
        "east-harbour-bank:csv": ("::ffff:203.0.113.45", "high", Category.ACCOUNT_TAKEOVER, ""),
    }),
)  # fmt: skip


@dataclass
class Row:
    """One feed row before it is written; `bad` names the deliberate defect, if any."""

    values: dict[str, str | int]
    subject: Subject | None = None
    category: Category | None = None
    bad: str = ""
    note: str = ""
    demo: bool = False


@dataclass
class Feed:
    """One file's rows, and where its deliberately bad rows ended up (line numbers)."""

    bank: Bank
    kind: str
    rows: list[Row] = field(default_factory=list)

    @property
    def filename(self) -> str:
        return f"{self.bank.source}.{self.kind}"

    def line_of(self, index: int) -> int:
        """Physical line of rows[index]: CSV has its header on line 1."""
        return index + 2 if self.kind == "csv" else index + 1


# -- identifiers ------------------------------------------------------------------------------------


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def _groups(text: str, size: int, separator: str) -> str:
    return separator.join(text[i : i + size] for i in range(0, len(text), size))


def _card(rng: random.Random) -> tuple[str, list[str]]:
    bin_ = rng.choice(CARD_BINS)
    length = 19 if bin_.startswith("62") and rng.random() < 0.3 else 16
    body = bin_ + _digits(rng, length - 1 - len(bin_))
    number = body + luhn.calc_check_digit(body)
    return number, [number, _groups(number, 4, " "), _groups(number, 4, "-")]


def _account(rng: random.Random) -> tuple[str, list[str]]:
    if rng.random() < 0.2:
        country = rng.choice(sorted(IBAN_BANKS))
        if country == "DE":
            bban = "5001" + _digits(rng, 14)
        elif country == "GB":
            bban = rng.choice(IBAN_BANKS["GB"]) + _digits(rng, 14)
        else:
            bban = rng.choice(IBAN_BANKS["NL"]) + _digits(rng, 10)
        number = country + iban.calc_check_digits(country + "00" + bban) + bban
        return number, [number, _groups(number, 4, " "), _groups(number, 4, " ").lower()]
    number = rng.choice(("6217", "6228", "3100", "1102", "4400")) + _digits(rng, rng.choice((12, 13, 15)))
    return number, [number, _groups(number, 4, " "), _groups(number, 4, "-")]


def _phone(rng: random.Random) -> tuple[str, list[str]]:
    national = rng.choice(CN_MOBILE_PREFIXES) + _digits(rng, 8)
    spaced = f"{national[:3]} {national[3:7]} {national[7:]}"
    return "+86" + national, [national, spaced, "+86" + national, f"+86 {national[:3]}-{national[3:7]}-{national[7:]}",
                              "0086 " + spaced]


def _device(rng: random.Random) -> tuple[str, list[str]]:
    kind = rng.random()
    if kind < 0.45:
        body = rng.choice(("35", "86", "35", "01")) + _digits(rng, 12)
        imei = body + luhn.calc_check_digit(body)
        parts = (imei[:2], imei[2:8], imei[8:14], imei[14])
        return imei, [imei, "-".join(parts), " ".join(parts)]
    if kind < 0.8:
        text = "".join(rng.choice("0123456789abcdef") for _ in range(32))
        uuid = f"{text[:8]}-{text[8:12]}-4{text[13:16]}-a{text[17:20]}-{text[20:]}"
        return uuid, [uuid, uuid.upper(), "{" + uuid + "}"]
    android = "".join(rng.choice("0123456789abcdef") for _ in range(16))
    return android, [android, android.upper()]


def _id_number(rng: random.Random) -> tuple[str, list[str]]:
    birth = date(1960, 1, 1) + timedelta(days=rng.randrange(16_000))
    body = f"{rng.choice(RIC_AREAS)}{birth:%Y%m%d}{_digits(rng, 3)}"
    number = body + ric.calc_check_digit(body + "0")
    return "CN:" + number, [number, "CN:" + number, number.lower(), "cn:" + number]


def _ip(rng: random.Random) -> tuple[str, list[str]]:
    if rng.random() < 0.25:
        address = f"2001:db8:{rng.randrange(1, 0xffff):x}::{rng.randrange(1, 0xffff):x}"
        return address, [address, address.upper()]
    address = rng.choice(DOC_NETWORKS) + str(rng.randrange(1, 255))
    return address, [address, "::ffff:" + address]


def _email(rng: random.Random) -> tuple[str, list[str]]:
    local = f"{rng.choice(EMAIL_WORDS)}{rng.choice(('.', '_', ''))}{rng.choice(EMAIL_WORDS)}{rng.randrange(100)}"
    address = f"{local}@{rng.choice(('example.com', 'example.org'))}"
    user, domain = address.split("@")
    return address, [address, f"{user}@{domain.upper()}", address.title()]


MAKERS: dict[EntityType, Callable[[random.Random], tuple[str, list[str]]]] = {
    EntityType.ACCOUNT: _account,
    EntityType.CARD: _card,
    EntityType.PHONE: _phone,
    EntityType.DEVICE: _device,
    EntityType.ID_NUMBER: _id_number,
    EntityType.IP: _ip,
    EntityType.EMAIL: _email,
}


def canonical(entity_type: EntityType, raw: str) -> str:
    """The project's canonical form (raises InvalidIdentifier if a generator went wrong)."""
    return NORMALISER.normalise(entity_type, raw)


def make_subject(rng: random.Random, entity_type: EntityType) -> Subject:
    """A fresh valid subject; every spelling is checked to normalise to the canonical form."""
    expected, spellings = MAKERS[entity_type](rng)
    for raw in spellings:
        got = canonical(entity_type, raw)
        if got != expected:
            raise AssertionError(f"{entity_type.feed_name} {raw!r} normalises to {got!r}, not {expected!r}")
    return Subject(entity_type, expected, tuple(spellings))


# -- rows -------------------------------------------------------------------------------------------


def _weighted(rng: random.Random, weights: Mapping[K, int]) -> K:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _moment(rng: random.Random) -> datetime:
    """A reported moment in the two years before TODAY, in UTC, whose age limits miss the quiet days."""
    start = _midnight(TODAY) - timedelta(days=730)
    return _clear_of_the_quiet_days(start + timedelta(seconds=rng.randrange(729 * 86_400)))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _clear_of_the_quiet_days(reported: datetime) -> datetime:
    """`reported`, or a few days later if a default expiry or the policy's age limit would fall in the quiet days.

    Row dates are uniform, so some limit (reported_at + a retention, or + 365 days) falls on every day; the
    rows whose limit would fall between TODAY - QUIET_BEFORE and TODAY + QUIET_AFTER move on by that width.
    """
    quiet_start, width = _midnight(TODAY) - QUIET_BEFORE, QUIET_BEFORE + QUIET_AFTER
    for days in sorted({POLICY_AGE_DAYS, *DEFAULT_RETENTION_DAYS.values()}):
        if quiet_start <= reported + timedelta(days=days) < quiet_start + width:
            return reported + width
    return reported


def _stamp(rng: random.Random, moment: datetime, *, plain_share: float = 0.45) -> str:
    """A plain date or an ISO 8601 date-time with an offset (+08:00 mostly)."""
    if rng.random() < plain_share:
        return moment.date().isoformat()
    offset = rng.choice(TIME_OFFSETS)
    if offset == "+08:00":
        local = moment + timedelta(hours=8)
        return local.strftime("%Y-%m-%dT%H:%M:%S") + offset
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + offset


def _reference(rng: random.Random, bank: Bank, category: Category, moment: datetime) -> str:
    roll = rng.random()
    if roll < 0.35:
        return ""
    code = "".join(part[0] for part in category.feed_name.split("_")).upper()
    if roll < 0.9:
        return f"{bank.prefix}-{code}-{moment.year}-{rng.randrange(10_000):04d}"
    if roll < 0.96:
        return f"{bank.prefix}/{moment.year}/{code}/{rng.randrange(1000):03d}, branch {rng.randrange(1, 90)}"
    return f"{bank.prefix}-{moment.year}-案件-{rng.randrange(1000):03d}"


def add_row(rng: random.Random, bank: Bank, kind: str, subject: Subject, *, raw: str | None = None,
            level: str | None = None, category: Category | None = None, reference: str | None = None,
            far_expiry: bool = False) -> Row:
    """An add row for `subject` with plausible random fields (some overridden)."""
    category = category or _weighted(rng, CATEGORIES[subject.entity_type])
    level_name = level or _weighted(rng, LEVELS)
    moment = _moment(rng)
    level_value: str | int = level_name
    roll = rng.random()
    if roll < 0.2:
        level_value = LEVEL_NUMBERS[level_name] if kind == "jsonl" else str(LEVEL_NUMBERS[level_name])
    elif roll < 0.25:
        level_value = level_name.capitalize()
    values: dict[str, str | int] = {
        "action": "add",
        "entity_type": subject.entity_type.feed_name,
        "identifier": raw if raw is not None else rng.choice(subject.spellings),
        "category": category.feed_name,
        "level": level_value,
        "reported_at": _stamp(rng, moment),
    }
    if far_expiry:
        values["expires_at"] = f"{2029 + rng.randrange(2)}-12-31"
    elif rng.random() < 0.3:
        expiry = _midnight(TODAY) + timedelta(days=rng.randrange(30, 1500))
        values["expires_at"] = _stamp(rng, expiry, plain_share=0.7)
    text = _reference(rng, bank, category, moment) if reference is None else reference
    if text:
        values["reference"] = text
    if far_expiry:
        recent = datetime(2026, 9, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(80 * 86_400))
        values["reported_at"] = _stamp(rng, recent)
    return Row(values, subject, category, demo=far_expiry)


def bad_row(rng: random.Random, bank: Bank, defect: str, feed: Feed, fresh: Callable[[EntityType], Subject]) -> Row:
    """A row with exactly one deliberate defect."""
    if defect == "duplicate":
        candidates = [row for row in feed.rows if not row.bad and row.values["action"] == "add" and not row.demo]
        original = rng.choice(candidates[: max(1, len(candidates) // 2)])
        return Row(dict(original.values), original.subject, original.category, bad=defect,
                   note=str(feed.rows.index(original)))
    entity_type = EntityType.CARD if defect == "bad_luhn" else EntityType.PHONE if defect == "invalid_phone" else None
    subject = fresh(entity_type or _weighted(rng, TYPE_WEIGHTS))
    row = add_row(rng, bank, feed.kind, subject)
    row.bad = defect
    row.subject = None
    if defect == "bad_luhn":
        number = subject.canonical
        wrong = number[:-1] + str((int(number[-1]) + 1 + rng.randrange(8)) % 10)
        row.values["identifier"] = _groups(wrong, 4, " ")
        _must_fail(EntityType.CARD, str(row.values["identifier"]))
    elif defect == "invalid_phone":
        raw = rng.choice(("12", "10", "11")) + _digits(rng, 9)
        row.values["identifier"] = f"{raw[:3]} {raw[3:7]} {raw[7:]}"
        _must_fail(EntityType.PHONE, str(row.values["identifier"]))
    elif defect == "unknown_category":
        row.values["category"] = rng.choice(("phishing", "crypto_scam", "fraud"))
    elif defect == "naive_timestamp":
        row.values["reported_at"] = _moment(rng).strftime("%Y-%m-%dT%H:%M:%S")
    elif defect == "reference_too_long":
        row.values["reference"] = (
            f"{bank.prefix}-CASE-{rng.randrange(10_000):04d} escalated by branch operations after customer "
            "complaint; see case notes"
        )
        assert len(str(row.values["reference"])) > 64
    return row


def _must_fail(entity_type: EntityType, raw: str) -> None:
    try:
        canonical(entity_type, raw)
    except InvalidIdentifier:
        return
    raise AssertionError(f"{raw!r} was meant to be an invalid {entity_type.feed_name}")


# -- assembling the feeds ---------------------------------------------------------------------------


def build(rng: random.Random) -> list[Feed]:
    """Every bank's CSV and JSONL feed, in a fixed order."""
    used: set[tuple[EntityType, str]] = {(EntityType.PHONE, NOT_LISTED_PHONE)}
    for demo in DEMOS:
        for raw, *_ in demo.spellings.values():
            used.add((demo.entity_type, canonical(demo.entity_type, raw)))

    def fresh(entity_type: EntityType) -> Subject:
        while True:
            subject = make_subject(rng, entity_type)
            if (entity_type, subject.canonical) not in used:
                used.add((entity_type, subject.canonical))
                return subject

    shared = [fresh(_weighted(rng, TYPE_WEIGHTS)) for _ in range(160)]
    feeds: list[Feed] = []
    for bank in BANKS:
        picked_shared = rng.sample(shared, 70)
        for kind, total, defects in (("csv", bank.csv_rows, bank.csv_bad), ("jsonl", bank.jsonl_rows, bank.jsonl_bad)):
            feed = Feed(bank, kind)
            half = picked_shared[:35] if kind == "csv" else picked_shared[35:]
            demo_rows = [
                add_row(rng, bank, kind, _demo_subject(demo), raw=raw, level=level, category=category,
                        reference=reference, far_expiry=True)
                for demo in DEMOS
                for key, (raw, level, category, reference) in demo.spellings.items()
                if key == f"{bank.source}:{kind}"
            ]
            plain = total - len(defects) - len(demo_rows) - len(half) - (bank.removes if kind == "jsonl" else 0)
            rows = [add_row(rng, bank, kind, subject) for subject in half]
            rows += [add_row(rng, bank, kind, fresh(_weighted(rng, TYPE_WEIGHTS))) for _ in range(plain)]
            rng.shuffle(rows)
            for row in demo_rows:
                rows.insert(rng.randrange(len(rows) + 1), row)
            feed.rows = rows
            feeds.append(feed)
        csv_feed, jsonl_feed = feeds[-2], feeds[-1]
        shared_keys = {(s.entity_type, s.canonical) for s in shared}
        removable = [
            row for row in csv_feed.rows
            if not row.demo and row.subject is not None
            and (row.subject.entity_type, row.subject.canonical) not in shared_keys
        ]
        for position, row in enumerate(rng.sample(removable, bank.removes)):
            assert row.subject is not None and row.category is not None
            values: dict[str, str | int] = {
                "action": "remove",
                "entity_type": row.subject.entity_type.feed_name,
                "identifier": rng.choice(row.subject.spellings),
            }
            if position % 5 != 4:  # every fifth removal drops every category of the subject
                values["category"] = row.category.feed_name
            jsonl_feed.rows.insert(rng.randrange(len(jsonl_feed.rows) + 1),
                                   Row(values, row.subject, row.category, note="remove"))
        for feed, defects in ((csv_feed, bank.csv_bad), (jsonl_feed, bank.jsonl_bad)):
            for defect in defects:
                row = bad_row(rng, bank, defect, feed, fresh)
                if defect == "duplicate":
                    original = int(row.note)
                    position = rng.randrange(original + 1, len(feed.rows) + 1)
                else:
                    position = rng.randrange(len(feed.rows) + 1)
                feed.rows.insert(position, row)
    return feeds


def _demo_subject(demo: Demo) -> Subject:
    raws = tuple(raw for raw, *_ in demo.spellings.values())
    return Subject(demo.entity_type, canonical(demo.entity_type, raws[0]), raws)


def shifted(text: str, days: int) -> str:
    """A feed timestamp moved by `days` whole days, spelt as before.

    A plain date or a date-time (with an offset, or naive as in the bad rows) starts with its date, and
    moving the date moves the moment by exactly that many days: offsets are fixed, there is no DST.
    """
    if days == 0:
        return text
    return (date.fromisoformat(text[:10]) + timedelta(days=days)).isoformat() + text[10:]


def _values(row: Row, days: int) -> dict[str, str | int]:
    """The row's values with its dates moved by `days`."""
    return {name: shifted(str(value), days) if name in DATE_FIELDS else value for name, value in row.values.items()}


def render_csv(feed: Feed, days: int = 0) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FIELDS)
    for row in feed.rows:
        values = _values(row, days)
        writer.writerow([values.get(name, "") for name in FIELDS])
    return buffer.getvalue()


def render_jsonl(feed: Feed, days: int = 0) -> str:
    lines = []
    for row in feed.rows:
        values = _values(row, days)
        ordered = {name: values[name] for name in FIELDS if name in values}
        lines.append(json.dumps(ordered, ensure_ascii=False))
    return "\n".join(lines) + "\n"


# -- README -----------------------------------------------------------------------------------------


def _originals(feed: Feed) -> dict[int, int]:
    """Index of each duplicate row -> index of the row it copies (first equal earlier row)."""
    result = {}
    for index, row in enumerate(feed.rows):
        if row.bad == "duplicate":
            result[index] = next(i for i, other in enumerate(feed.rows[:index]) if other.values == row.values)
    return result


def listing_summary(feeds: Sequence[Feed]) -> tuple[int, int]:
    """(subjects listed by exactly two banks, by three) at TODAY, after removals and expiry."""
    live: dict[tuple[EntityType, str], dict[str, bool]] = {}
    now = _midnight(TODAY)
    for feed in feeds:  # CSVs before JSONLs per bank is enough: removals only target the same bank's CSV
        for row in feed.rows:
            if row.bad or row.subject is None:
                continue
            key = (row.subject.entity_type, row.subject.canonical)
            per_source = live.setdefault(key, {})
            if row.values["action"] == "remove":
                per_source.pop(feed.bank.source, None)
                continue
            expires = _expiry(row)
            if expires > now:
                per_source[feed.bank.source] = True
    counts = [len(sources) for sources in live.values()]
    return counts.count(2), counts.count(3)


def _expiry(row: Row) -> datetime:
    def parse(text: str) -> datetime:
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    if "expires_at" in row.values:
        return parse(str(row.values["expires_at"]))
    assert row.category is not None
    return parse(str(row.values["reported_at"])) + timedelta(days=DEFAULT_RETENTION_DAYS[row.category])


def render_readme(feeds: Sequence[Feed]) -> str:
    out = io.StringIO()
    w = out.write
    w("# seeds/ — demo feeds of three fictional partner banks\n\n")
    w("**Generated by `seeds/generate.py`; do not edit by hand** — change the generator and run\n"
      "`make seeds` (or `.venv/bin/python seeds/generate.py`). The output is deterministic (fixed seed\n"
      f"{SEED}); `tests/test_seeds.py` regenerates it and fails if anything here differs.\n\n")
    w("`make serve` writes these feeds dated as of today into `.demo/seeds/` (`generate.py --anchor today`:\n"
      f"the same rows, every date moved by the days since {TODAY}, so the demo answers the same whatever\n"
      "the day), then loads every CSV, then every JSONL file, into the demo store in delta mode with\n"
      "`--source <file name before the first dot>`. Each file holds a few deliberately bad rows, so each\n"
      "load exits 3 (applied with rejects), well under the default 5% reject ratio.\n\n")
    w("All data is fictional: card numbers on test BINs with a computed Luhn digit, phone numbers in\n"
      "CN mobile ranges, IP addresses only from the documentation ranges (192.0.2.0/24, 198.51.100.0/24,\n"
      "203.0.113.0/24, 2001:db8::/32), e-mail under example.com / example.org, IBANs with computed check\n"
      f"digits, resident IDs with computed check characters. Dates lie in the two years before {TODAY}.\n\n")
    w("## Banks and files\n\n")
    w("| bank (source id) | file | rows | add | remove | repeated | deliberately bad |\n"
      "| --- | --- | --- | --- | --- | --- | --- |\n")
    for feed in feeds:
        adds = sum(1 for r in feed.rows if not r.bad and r.values["action"] == "add")
        removes = sum(1 for r in feed.rows if not r.bad and r.values["action"] == "remove")
        repeated = sum(1 for r in feed.rows if r.bad == "duplicate")
        bad = sum(1 for r in feed.rows if r.bad and r.bad != "duplicate")
        w(f"| {feed.bank.name} (`{feed.bank.source}`) | `{feed.filename}` | {len(feed.rows)} | {adds} | "
          f"{removes} | {repeated} | {bad} ({bad / len(feed.rows):.1%}) |\n")
    two, three = listing_summary(feeds)
    w("\nEntity types: about 50% account, 20% card, 15% device, 10% phone, 5% id_number/ip/email.\n"
      f"Subjects are shared between banks: on {TODAY}, {two} subjects are listed by two banks and\n"
      f"{three} by three.\n\n")
    w("The CSV files have the header\n`" + ",".join(FIELDS) + "`;\nthe JSON Lines files hold one object per "
      "line with the same keys\n(absent optional values are left out; some levels are JSON numbers).\n"
      "Identifiers come in the spellings banks really send (spaces, hyphens, lower-case IBANs, national\n"
      "phone formats, `::ffff:` IPv4-mapped addresses, upper-case UUIDs and e-mail domains, ID numbers\n"
      "with a lower-case `x`); timestamps are plain dates or ISO 8601 with an offset (`+08:00`,\n"
      "`+00:00`, `Z`). Rows without `expires_at` expire after the category's default retention, so some\n"
      "of the oldest rows have expired by the time they are loaded: the loader counts them as `expired`\n"
      "and does not add them (docs/feeds.md §4). Each JSONL file removes a few subjects its\n"
      "bank added in its CSV file (every fifth removal has no category: all categories go).\n\n")
    w("## Deliberately bad rows\n\nLine numbers are physical lines; in CSV files the header is line 1.\n\n")
    w("| file | line | field | why it is rejected |\n| --- | --- | --- | --- |\n")
    for feed in feeds:
        for index, row in enumerate(feed.rows):
            if row.bad and row.bad != "duplicate":
                field_name, why = BAD_REASONS[row.bad]
                w(f"| `{feed.filename}` | {feed.line_of(index)} | {field_name} | {why} |\n")
    w("\nSome files also repeat an earlier row exactly. That is not an error: the loader counts such a row\n"
      "as `repeated` and applies it once (docs/feeds.md §4).\n\n")
    for feed in feeds:
        originals = _originals(feed)
        for index, row in enumerate(feed.rows):
            if row.bad == "duplicate":
                why = BAD_REASONS[row.bad][1].format(original=feed.line_of(originals[index]))
                w(f"- `{feed.filename}` line {feed.line_of(index)} {why}\n")
    years = sorted({int(str(row.values["expires_at"])[:4]) for feed in feeds for row in feed.rows if row.demo})
    w("\n## Subjects to try\n\nListed by two or three banks, high or critical, never removed, expiring "
      f"{years[0]}–{years[-1]}\n(in `make serve`'s copy, as many days later as it is after {TODAY}):\n\n")
    w("| type | value | listed by |\n| --- | --- | --- |\n")
    for demo in DEMOS:
        value = canonical(demo.entity_type, next(iter(demo.spellings.values()))[0])
        banks = ", ".join(f"`{key.replace(':', '.')}` ({level}, {category.feed_name})"
                          for key, (_, level, category, _) in demo.spellings.items())
        w(f"| {demo.entity_type.feed_name} | `{value}` | {banks} |\n")
    w("\nWith `make serve` running, in another terminal, as East Harbour Bank (each prints `LISTED`, the\n"
      "last `NOT LISTED`):\n\n<!-- example: run -->\n```sh\n")
    certs = ".demo/certs"
    w(f"tls='--ca {certs}/ca.pem --cert {certs}/east-harbour-bank.pem --key {certs}/east-harbour-bank.key'\n")
    for demo in DEMOS:
        raw = list(demo.spellings.values())[-1][0]
        w(f".venv/bin/risklist-check --server 127.0.0.1:50051 $tls --type {demo.entity_type.feed_name} '{raw}'\n")
    w(f".venv/bin/risklist-check --server 127.0.0.1:50051 $tls --type phone '{NOT_LISTED_PHONE}'   # not listed\n```\n")
    return out.getvalue()


def write_all(out: Path, anchor: date = TODAY) -> list[Path]:
    """Generate every file into `out`, dated as of `anchor`; return the paths written.

    At the committed anchor (TODAY) that is seeds/ itself, README included; at another anchor only the
    feeds, every date moved by the same number of days (the README describes the committed seeds).
    """
    rng = random.Random(SEED)
    feeds = build(rng)
    days = (anchor - TODAY).days
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for feed in feeds:
        path = out / feed.filename
        path.write_text(render_csv(feed, days) if feed.kind == "csv" else render_jsonl(feed, days), encoding="utf-8",
                        newline="")
        written.append(path)
    if days == 0:
        readme = out / "README.md"
        readme.write_text(render_readme(feeds), encoding="utf-8", newline="")
        written.append(readme)
    return written


def parse_anchor(text: str) -> date:
    """`today` (the UTC date now) or a date YYYY-MM-DD."""
    if text == "today":
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: give YYYY-MM-DD or today") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, metavar="DIR",
                        help="directory to write into (default: the seeds/ folder itself)")
    parser.add_argument("--anchor", type=parse_anchor, default=TODAY, metavar="DATE",
                        help=f"date the rows as of DATE (YYYY-MM-DD or today) instead of {TODAY}: every date moves "
                        "by the same number of days, and only the feeds are written (make serve: today)")
    args = parser.parse_args(argv)
    for path in write_all(args.out, args.anchor):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
