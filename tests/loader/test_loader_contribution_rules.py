"""The four ways a contribution comes in (feed rows, the fast path, Report, Admin.Ingest) accept and refuse alike."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import example, given, settings
from hypothesis import strategies as st
from risklist.v1 import risklist_pb2 as pb

from risklist_kernel.digest import Digester
from risklist_kernel.enums import Category, EntityType, RiskLevel
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_loader.fast_rows import FastRows
from risklist_loader.rows import FIELDS, FeedRow
from risklist_loader.timestamps import format_timestamp
from risklist_loader.validate import RowValidator, ValidRow
from risklist_server.core.contribution_rules import FUTURE_TOLERANCE_SECONDS, MAX_EXPIRY_DAYS
from risklist_server.core.errors import InvalidSubject, InvalidSubjects
from risklist_server.core.mutation import Upsert
from risklist_server.core.record import Contribution, contribution_tail
from risklist_server.core.report import ReportInput, report_upserts
from risklist_server.core.settings import DAY_SECONDS, Settings
from risklist_server.core.subject import Subject, SubjectResolver
from risklist_server.rpc.convert import mutation_from_proto

SECRET = NetworkSecret(secrets.token_bytes(32))
DIGESTER = Digester(SECRET)
NORMALISER = Normaliser("CN")
PHONE = "+8613800138000"
NOW = 1_800_000_000
SOURCE = "bank-a"
SETTINGS = Settings()
HORIZON = MAX_EXPIRY_DAYS * DAY_SECONDS

REFERENCES = st.one_of(
    st.text(max_size=70),
    st.text(alphabet=st.sampled_from("AZaz09-_ #/\t\n\x00\x07\x1f\x7f\x85\xa0\u200b\u2028\u3000\ue000案"),
            max_size=70),
    st.sampled_from(["", " ", "CASE-1", " CASE-1 ", "a\tb", "CASE\x07-1", "r" * 64, "r" * 65, " " + "r" * 64 + " "]),
)
EXPIRIES = st.one_of(
    st.none(),
    st.sampled_from([NOW - 1, NOW, NOW + 1, NOW + HORIZON, NOW + HORIZON + 1]),
    st.integers(min_value=NOW - 10 * DAY_SECONDS, max_value=NOW + HORIZON + 10 * DAY_SECONDS),
)
CATEGORIES = st.integers(min_value=0, max_value=len(Category) + 1)
LEVELS = st.integers(min_value=0, max_value=len(RiskLevel) + 1)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one entry point made of the fields: the contribution, or the fields it refused."""

    contribution: Contribution | None
    refused: frozenset[str]


def _feed_values(category: int, level: int, reported_at: int, expires_at: int | None,
                 reference: str) -> dict[str, object]:
    return {
        "action": "add",
        "entity_type": "phone",
        "identifier": PHONE,
        "category": Category(category).feed_name if category in Category._value2member_map_ else "bogus",
        "level": str(level),
        "reported_at": format_timestamp(reported_at),
        "expires_at": None if expires_at is None else format_timestamp(expires_at),
        "reference": reference,
    }


def through_feed(category: int, level: int, reported_at: int, expires_at: int | None, reference: str) -> Outcome:
    """The general path: RowValidator over a feed row carrying the fields."""
    validator = RowValidator(SOURCE, NORMALISER, DIGESTER, SETTINGS, NOW)
    checked = validator.validate(FeedRow(2, _feed_values(category, level, reported_at, expires_at, reference)))
    if isinstance(checked, ValidRow):
        assert isinstance(checked.mutation, Upsert)
        return Outcome(checked.mutation.contribution, frozenset())
    return Outcome(None, frozenset(reject.field for reject in checked))


def through_fast_path(category: int, level: int, reported_at: int, expires_at: int | None,
                      reference: str) -> bytes | None:
    """The fast path's tail for the fields as a plain CSV line, or None when it leaves the line to the general path."""
    values = _feed_values(category, level, reported_at, expires_at, reference)
    line = ",".join("" if values[name] is None else str(values[name]) for name in FIELDS)
    result = FastRows(FIELDS, NORMALISER, SECRET, SETTINGS, NOW).row(line.encode("utf-8"))
    return None if result is None else result[3]


def through_report(category: int, level: int, expires_at: int | None, reference: str) -> Outcome:
    """core.report, reported at NOW (Report's reported_at is always the server's clock)."""
    report = ReportInput(Subject(int(EntityType.PHONE), PHONE), category, level, reference, expires_at)
    resolver = SubjectResolver(NORMALISER, DIGESTER)
    try:
        [planned] = report_upserts([report], source=SOURCE, resolver=resolver, settings=SETTINGS, now=NOW)
    except InvalidSubjects as error:
        return Outcome(None, frozenset(field.removeprefix("reports[0].") for field, _ in error.violations))
    return Outcome(planned.upsert.contribution, frozenset())


def through_ingest(category: int, level: int, reported_at: int, expires_at: int, reference: str) -> Outcome:
    """Admin.Ingest's conversion of one wire mutation (it stops at the first bad field)."""
    message = pb.Mutation(action=pb.MUTATION_ACTION_ADD, type=pb.ENTITY_TYPE_PHONE,
                          digest=DIGESTER.digest(EntityType.PHONE, PHONE), category=category, level=level,  # type: ignore[arg-type]
                          reported_at=Timestamp(seconds=reported_at), expires_at=Timestamp(seconds=expires_at),
                          reference=reference)
    try:
        mutation = mutation_from_proto(message, SOURCE, now=NOW)
    except InvalidSubject as error:
        return Outcome(None, frozenset({error.field}))
    assert isinstance(mutation, Upsert)
    return Outcome(mutation.contribution, frozenset())


def _default_expiry(category: int, reported_at: int) -> int:
    known = category in Category._value2member_map_
    return reported_at + SETTINGS.retention_seconds(Category(category if known else 1))


def _agree(outcomes: dict[str, Outcome], single: dict[str, Outcome]) -> None:
    """Every path accepts with the same contribution or refuses naming the same fields (`single`: first field only)."""
    first = next(iter(outcomes.values()))
    for name, outcome in outcomes.items():
        assert outcome == first, f"{name} disagrees: {outcome} vs {first}"
    for name, outcome in single.items():
        assert (outcome.contribution, bool(outcome.refused)) == (first.contribution, bool(first.refused)), name
        assert outcome.refused <= first.refused, f"{name} refused {outcome.refused}, the others {first.refused}"


@settings(max_examples=400, deadline=None)
@given(category=CATEGORIES, level=LEVELS, expires_at=EXPIRIES, reference=REFERENCES)
@example(category=1, level=3, expires_at=None, reference="CASE\x07-1")
@example(category=1, level=3, expires_at=NOW + HORIZON + 1, reference="")
def test_all_four_paths_accept_and_refuse_alike(category: int, level: int, expires_at: int | None,
                                                reference: str) -> None:
    """The same category, level, expiry and reference are accepted (as one contribution) or refused by every path."""
    feed = through_feed(category, level, NOW, expires_at, reference)
    report = through_report(category, level, expires_at, reference)
    wire_expiry = _default_expiry(category, NOW) if expires_at is None else expires_at
    ingest = through_ingest(category, level, NOW, wire_expiry, reference)
    _agree({"feed": feed, "report": report}, {"ingest": ingest})
    fast = through_fast_path(category, level, NOW, expires_at, reference)
    if fast is not None:
        assert feed.contribution is not None and fast == contribution_tail(feed.contribution)
    elif feed.contribution is not None and reference.isascii() and not any(ch in reference for ch in ',"\r\n'):
        raise AssertionError("the fast path left a plain valid line to the general path")


@settings(max_examples=200, deadline=None)
@given(reported_at=st.one_of(
    st.sampled_from([0, NOW + FUTURE_TOLERANCE_SECONDS, NOW + FUTURE_TOLERANCE_SECONDS + 1]),
    st.integers(min_value=0, max_value=NOW + 3 * FUTURE_TOLERANCE_SECONDS),
))
def test_feed_and_ingest_bound_reported_at_alike(reported_at: int) -> None:
    """A reported_at up to a day ahead of the receiver's clock passes the feed, fast path and Ingest; later fails."""
    expires_at = reported_at + DAY_SECONDS
    feed = through_feed(1, 3, reported_at, expires_at, "CASE-1")
    ingest = through_ingest(1, 3, reported_at, expires_at, "CASE-1")
    _agree({"feed": feed, "ingest": ingest}, {})
    assert (feed.contribution is None) == (reported_at > NOW + FUTURE_TOLERANCE_SECONDS)
    fast = through_fast_path(1, 3, reported_at, expires_at, "CASE-1")
    assert (fast is None) == (feed.contribution is None)


def test_ingest_refuses_a_reported_at_before_1970() -> None:
    """A negative reported_at on the wire is refused naming reported_at, as a feed's pre-1970 date is."""
    assert through_ingest(1, 3, -5, 10, "") == Outcome(None, frozenset({"reported_at"}))
