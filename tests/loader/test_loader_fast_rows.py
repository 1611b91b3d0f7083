"""The fast path's spooled bytes: exactly what core.record's encode_record stores for the same contribution."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from risklist_kernel.digest import Digester
from risklist_kernel.enums import Category, EntityType, RiskLevel
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_loader.fast_rows import FastRows
from risklist_loader.rows import FIELDS
from risklist_loader.timestamps import format_timestamp
from risklist_server.core.contribution_rules import MAX_EXPIRY_DAYS, MAX_REFERENCE_LENGTH
from risklist_server.core.record import Contribution, encode_record, record_prefix
from risklist_server.core.settings import DAY_SECONDS, Settings

SECRET = NetworkSecret(bytes(range(32)))
NOW = 1_800_000_000
PHONE = "+8613800138000"
PLAIN = st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters=',"')


@settings(max_examples=300, deadline=None)
@given(
    category=st.sampled_from(Category),
    level=st.sampled_from(RiskLevel),
    reported_at=st.integers(min_value=0, max_value=NOW),
    lifetime=st.one_of(st.none(), st.integers(min_value=1, max_value=MAX_EXPIRY_DAYS * DAY_SECONDS)),
    reference=st.text(alphabet=PLAIN, max_size=MAX_REFERENCE_LENGTH).map(str.strip),
    source=st.sampled_from(["bank-a", "b", "east-harbour-bank"]),
)
def test_fast_path_bytes_are_encode_records(category: Category, level: RiskLevel, reported_at: int,
                                            lifetime: int | None, reference: str, source: str) -> None:
    """A plain CSV row taken by the fast path spools the tail that, after record_prefix, is encode_record's record."""
    settings_ = Settings()
    expires_at = reported_at + (settings_.retention_seconds(category) if lifetime is None else lifetime)
    values = {"action": "add", "entity_type": "phone", "identifier": PHONE, "category": category.feed_name,
              "level": level.feed_name, "reported_at": format_timestamp(reported_at),
              "expires_at": "" if lifetime is None else format_timestamp(expires_at), "reference": reference}
    line = ",".join(values[name] for name in FIELDS)
    taken = FastRows(FIELDS, Normaliser("CN"), SECRET, settings_, NOW).row(line.encode("ascii"))
    assert taken is not None, "a plain valid row should take the fast path"
    key, action, spooled_category, tail = taken
    expected_action = 1 if expires_at > NOW else 3  # an add already expired is spooled as such
    assert (key, action, spooled_category) == (Digester(SECRET).storage_key(EntityType.PHONE, PHONE), expected_action,
                                               category)
    contribution = Contribution(source, category, level, reported_at, expires_at, reference)
    assert record_prefix(source, 1) + tail == encode_record((contribution,))
