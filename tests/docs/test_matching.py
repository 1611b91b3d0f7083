"""What a document shows against what the demo answered: only the listed normalisations, bound one to one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.docs.matching import Bindings, Mismatch, match_json, match_text, moved_back

ID_A, ID_B = "5f0c9e1a2b3c4d5e6f708192", "a1d2e3f4a5b6c7d8e9f00112"


def _match(shown: object, real: object, bindings: Bindings | None = None, days: int = 0) -> None:
    match_json(shown, real, days=days, bindings=bindings or Bindings(), where="doc.md:1")


@given(moment=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9000, 1, 1)),
       days=st.integers(0, 5000), fraction=st.booleans())
def test_moving_a_timestamp_back_keeps_its_form_and_moves_it_by_whole_days(moment: datetime, days: int,
                                                                           fraction: bool) -> None:
    """A demo timestamp moved back by `days` names the moment exactly that many days earlier, in the same form."""
    moment = moment.replace(microsecond=moment.microsecond if fraction else 0)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{moment.microsecond:06d}" if fraction else "") + "Z"
    moved = moved_back(text, days)
    assert len(moved) == len(text) and moved.endswith("Z")
    parsed = datetime.fromisoformat(moved.replace("Z", "+00:00"))
    assert parsed == moment.replace(tzinfo=UTC) - timedelta(days=days)


def test_dates_are_compared_after_moving_them_back_by_the_demos_days() -> None:
    """A demo built 9 days after the seeds' anchor answers dates 9 days later; they match the shown ones."""
    _match({"firstReported": "2026-09-08T00:00:00Z"}, {"firstReported": "2026-09-17T00:00:00Z"}, days=9)
    with pytest.raises(Mismatch, match="9 days later"):
        _match({"firstReported": "2026-09-08T00:00:00Z"}, {"firstReported": "2026-09-18T00:00:00Z"}, days=9)


def test_a_shown_request_id_stands_for_one_real_one_throughout_a_document() -> None:
    """The same shown id must meet the same real id, and two shown ids two real ones."""
    bindings = Bindings()
    _match({"requestId": ID_A}, {"requestId": "0" * 24}, bindings)
    _match({"requestId": ID_A}, {"requestId": "0" * 24}, bindings)
    with pytest.raises(Mismatch, match="stood for"):
        _match({"requestId": ID_A}, {"requestId": "1" * 24}, bindings)
    with pytest.raises(Mismatch, match="two values where the demo had one"):
        _match({"requestId": ID_B}, {"requestId": "0" * 24}, bindings)
    assert bindings.real("request id", ID_A) == "0" * 24


def test_versions_are_bound_so_a_write_must_show_a_new_one() -> None:
    """A document showing the same version after a write that moved it on fails."""
    bindings = Bindings()
    _match({"listVersion": "7"}, {"listVersion": "12"}, bindings)
    with pytest.raises(Mismatch):
        _match({"listVersion": "7"}, {"listVersion": "13"}, bindings)


def test_members_are_all_shown_unless_an_ellipsis_member_says_more_follow() -> None:
    """A member the demo answers but the document does not show fails, unless `"…": "…"` stands for it."""
    with pytest.raises(Mismatch, match="not shown"):
        _match({"listed": True}, {"listed": True, "level": "RISK_LEVEL_HIGH"})
    _match({"listed": True, "…": "…"}, {"listed": True, "level": "RISK_LEVEL_HIGH"})
    with pytest.raises(Mismatch, match="missing"):
        _match({"listed": True, "sourceCount": 3, "…": "…"}, {"listed": True})


def test_elided_strings_match_by_their_prefix_and_values_exactly() -> None:
    """`"A…"` matches a string starting with A; other values, numbers included, must be equal and of one type."""
    _match({"addedKeys": "A…"}, {"addedKeys": "A3wWMLAh"})
    _match({"data": "…"}, {"data": "0APV7X"})
    with pytest.raises(Mismatch):
        _match({"addedKeys": "B…"}, {"addedKeys": "A3wWMLAh"})
    with pytest.raises(Mismatch):
        _match({"sourceCount": 2}, {"sourceCount": 3})
    with pytest.raises(Mismatch):
        _match({"wordCount": 1024}, {"wordCount": "1024"})


def test_printed_text_normalises_ids_versions_times_and_durations_only() -> None:
    """risklist-check's lines match with other ids and versions, and dates moved; any other change fails."""
    shown = ("LISTED  action=block (BLOCK_MULTI_SOURCE)\n        first=2026-09-08T00:00:00Z\n"
             f"        (list version 7, request {ID_A})\n  0.08 s, 8,029 rows/s\n")
    real = ("LISTED  action=block (BLOCK_MULTI_SOURCE)\n        first=2026-09-17T00:00:00Z\n"
            f"        (list version 31, request {ID_B})\n  1.50 s, 402 rows/s\n")
    match_text(shown, real, days=9, bindings=Bindings(), where="doc.md:1")
    with pytest.raises(Mismatch):
        match_text(shown, real.replace("block (", "review ("), days=9, bindings=Bindings(), where="doc.md:1")
    with pytest.raises(Mismatch):
        match_text(shown, real, days=8, bindings=Bindings(), where="doc.md:1")
