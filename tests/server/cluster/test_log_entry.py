"""A write as the cluster's log holds it: every entry reads back as written; anything else is refused with why."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risklist_server.cluster.log_entry import ENTRY_VERSION, InvalidLogEntry, LogEntry, decode_entry
from risklist_server.core.partners import Role

ENTRIES = st.builds(LogEntry, method=st.text(max_size=40), partner=st.text(max_size=64),
                    roles=st.frozensets(st.sampled_from(list(Role))), request_id=st.text(max_size=64),
                    received_at_ms=st.integers(-(2**63), 2**63 - 1), request=st.binary(max_size=2000))


@given(ENTRIES)
def test_every_entry_reads_back_as_written(entry: LogEntry) -> None:
    assert decode_entry(entry.encode()) == entry


@given(ENTRIES, st.data())
def test_a_cut_entry_is_refused_not_misread(entry: LogEntry, data: st.DataObject) -> None:
    """Cut anywhere inside its head or texts, an entry is refused (cut inside the request it is a shorter
    request: the log stores whole messages, so that cannot happen from the log)."""
    encoded = entry.encode()
    head_and_texts = len(encoded) - len(entry.request)
    cut = data.draw(st.integers(0, head_and_texts - 1))
    with pytest.raises(InvalidLogEntry):
        decode_entry(encoded[:cut])


def test_another_version_is_refused_with_what_to_do() -> None:
    encoded = bytearray(LogEntry("Report", "bank-a", frozenset(), "r1", 0, b"").encode())
    encoded[0] = ENTRY_VERSION + 1
    with pytest.raises(InvalidLogEntry, match=f"version {ENTRY_VERSION + 1}.*upgrade"):
        decode_entry(bytes(encoded))


def test_an_unknown_role_is_refused() -> None:
    encoded = LogEntry("Report", "bank-a", frozenset({Role.CONTRIBUTE}), "r1", 0, b"").encode()
    with pytest.raises(InvalidLogEntry, match="unknown role"):
        decode_entry(encoded.replace(b"contribute", b"superuser!"))
