"""The expiry purge's collaborator: slices that cover every record once, and what purging leaves."""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from risklist_kernel.enums import Category, RiskLevel
from risklist_server.core.record import Contribution, Record, decode_record, encode_record
from risklist_server.store.expiry_purge import purge_expired, scan_expired
from risklist_server.store.rocks import iter_items, open_rocks

KEYS = sorted(bytes((1 + n % 5,)) + bytes([n]) * 16 for n in range(20))
NOW = 1_800_000_000

contributions = st.builds(
    Contribution,
    source=st.sampled_from(["bank-a", "bank-b"]),
    category=st.sampled_from([Category.GAMBLING, Category.MONEY_MULE]),
    level=st.just(RiskLevel.LOW),
    reported_at=st.just(1),
    expires_at=st.sampled_from([NOW - 1, NOW, NOW + 1]),
)
stored_records = st.dictionaries(
    st.sampled_from(KEYS),
    st.lists(contributions, min_size=1, max_size=3, unique_by=lambda c: c.identity).map(lambda cs: tuple(sorted(cs))),
    max_size=20,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stored_records, st.integers(1, 7))
def test_slices_cover_every_record_once_and_purge_as_the_model_says(stored: dict[bytes, Record], limit: int) -> None:
    """Slice after slice reads each record once; purging keeps exactly the live contributions and writes nothing."""
    with tempfile.TemporaryDirectory() as directory:
        db = open_rocks(str(Path(directory) / "db"), create=True)
        try:
            for key, record in stored.items():
                db[key] = encode_record(record)
            scanned = 0
            expired: list[bytes] = []
            start: bytes | None = None
            while True:
                scan = scan_expired(db, start, limit, NOW)
                assert scan.scanned <= limit
                scanned += scan.scanned
                expired += scan.expired
                if scan.next_key is None:
                    break
                start = scan.next_key
            assert scanned == len(stored)
            live = {key: tuple(c for c in record if c.expires_at > NOW) for key, record in stored.items()}
            assert expired == sorted(key for key in stored if live[key] != stored[key])
            after, purged = purge_expired(db, expired, NOW)
            assert after == {key: live[key] for key in expired}
            assert purged == sum(len(stored[key]) - len(live[key]) for key in expired)
            assert {key: decode_record(value) for key, value in iter_items(db)} == stored
        finally:
            db.close()


def test_purge_rereads_so_a_record_changed_since_the_scan_is_judged_anew(tmp_path: Path) -> None:
    """A record renewed or removed between scan and purge is left alone; one that emptied is unlisted."""
    db = open_rocks(str(tmp_path / "db"), create=True)
    old = Contribution("bank-a", Category.GAMBLING, RiskLevel.LOW, 1, NOW - 1)
    for key in KEYS[:3]:
        db[key] = encode_record((old,))
    scan = scan_expired(db, None, 10, NOW)
    assert scan.expired == KEYS[:3] and scan.next_key is None
    db[KEYS[0]] = encode_record((Contribution("bank-a", Category.GAMBLING, RiskLevel.LOW, 1, NOW + 5),))
    del db[KEYS[1]]
    after, purged = purge_expired(db, scan.expired, NOW)
    assert (after, purged) == ({KEYS[2]: ()}, 1)
    db.close()


def test_a_slice_lets_other_threads_run_while_it_scans(tmp_path: Path) -> None:
    """A sweep slice hands the interpreter to other threads as it goes, so calls served by the same process do not
    wait for the whole slice (a 10,000-record slice once stalled Check for 50 ms every second).

    With the interpreter's switch interval at 100 s, a thread only runs while the scanning one lets it go."""
    db = open_rocks(str(tmp_path / "db"), create=True)
    record = encode_record((Contribution("bank-a", Category.GAMBLING, RiskLevel.LOW, 1, NOW + 1),))
    for number in range(5_000):
        db[bytes((1,)) + number.to_bytes(16, "big")] = record
    scanning = threading.Event()
    finished = threading.Event()
    turns_during_scan = 0

    def other_thread() -> None:
        nonlocal turns_during_scan
        scanning.wait()
        while not finished.is_set():
            turns_during_scan += 1
            time.sleep(0)

    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    other = threading.Thread(target=other_thread)
    other.start()
    try:
        scanning.set()
        time.sleep(0)  # the other thread waits for the interpreter from here on
        scan = scan_expired(db, None, 5_000, NOW)
        finished.set()
    finally:
        finished.set()
        sys.setswitchinterval(switch_interval)
        other.join()
        db.close()
    assert scan.scanned == 5_000
    assert turns_during_scan >= 5_000 // 1_000
