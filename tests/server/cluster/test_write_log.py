"""The write log on three real nats-servers: ordered, de-duplicated by request id, acknowledged only with a quorum,
read back in order from any position."""

from __future__ import annotations

import asyncio
import threading
import time

import nats
import pytest

from risklist_server.cluster.log_entry import LogEntry
from risklist_server.cluster.write_log import STREAM, LogGap, LogSettings, LogUnavailable, WriteLog
from risklist_server.core.errors import ConfigError
from risklist_server.core.partners import Role
from tools.local_nats import NatsCluster

DEADLINE_S = 15.0
"""Long enough for a stream leader to be elected on a loaded machine."""
SMALL = LogSettings(max_bytes=64 * 2**20)
"""The test servers' JetStream holds 2 GB each (tools/local_nats.py)."""


def _entry(number: int) -> LogEntry:
    return LogEntry("Report", "bank-a", frozenset({Role.CONTRIBUTE}), f"request-{number}", 1_800_000_000_000 + number,
                    f"body {number}".encode())


def _read(log: WriteLog, after: int, *, limit: int = 100, within_s: float = 30.0) -> list[tuple[int, LogEntry]]:
    """One read, as the applier reads: one that fails (LogUnavailable: a server restarting, a loaded machine) is
    read again, up to `within_s`; any other answer or error is the read's."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return log.read(after, limit=limit, timeout_s=1.0)
        except LogUnavailable:
            if time.monotonic() > deadline:
                raise


def _read_all(log: WriteLog, after: int = 0) -> list[tuple[int, LogEntry]]:
    found: list[tuple[int, LogEntry]] = []
    while batch := _read(log, found[-1][0] if found else after):
        found.extend(batch)
    return found


def test_entries_are_ordered_and_a_repeated_request_id_is_stored_once(cluster: NatsCluster) -> None:
    with WriteLog(cluster.urls, SMALL).open() as log:
        sequences = [log.append(_entry(number), timeout_s=DEADLINE_S) for number in range(5)]
        assert sequences == sorted(sequences) and len(set(sequences)) == 5
        # A retry after a lost acknowledgement: the same request id names the first copy's sequence.
        assert log.append(_entry(3), timeout_s=DEADLINE_S) == sequences[3]
        assert log.last_sequence() == sequences[-1]
        stored = _read_all(log)
        assert [entry for _, entry in stored] == [_entry(number) for number in range(5)]
        assert [sequence for sequence, _ in stored] == sequences
        assert [entry for _, entry in _read_all(log, after=sequences[1])] == [_entry(number) for number in (2, 3, 4)]


def test_a_read_waiting_when_the_log_closes_is_unavailable_not_a_crash(cluster: NatsCluster) -> None:
    """A node stopping closes its log while its applier may be waiting on a read: the read ends as LogUnavailable
    (which every caller handles), whether it was waiting on the log's loop or came after the loop closed."""
    log = WriteLog(cluster.urls, SMALL).open()
    last = log.append(_entry(1), timeout_s=DEADLINE_S)
    outcome: list[BaseException | list[tuple[int, LogEntry]]] = []
    started = threading.Event()

    def read() -> None:
        started.set()
        try:
            outcome.append(log.read(last, limit=10, timeout_s=20.0))  # nothing follows: it waits
        except BaseException as error:  # noqa: BLE001 - the test asserts what it was
            outcome.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    started.wait()
    log.close()
    reader.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], LogUnavailable), outcome


def test_a_second_log_on_the_same_servers_finds_the_stream(cluster: NatsCluster) -> None:
    """Nodes open the log one after another: the first creates the stream, the others use it as it is."""
    with WriteLog(cluster.urls, SMALL).open() as first:
        first.append(_entry(1), timeout_s=DEADLINE_S)
    with WriteLog(list(reversed(cluster.urls)), SMALL).open() as second:
        assert [entry for _, entry in _read_all(second)] == [_entry(1)]


def test_without_a_quorum_appends_are_refused_within_the_deadline_and_nothing_acknowledged_is_lost(
        cluster: NatsCluster) -> None:
    with WriteLog(cluster.urls, SMALL).open() as log:
        acknowledged = [log.append(_entry(number), timeout_s=DEADLINE_S) for number in range(3)]
        cluster.kill("n1")
        acknowledged.append(log.append(_entry(3), timeout_s=DEADLINE_S))  # two of three: still a quorum
        cluster.kill("n2")
        started = time.monotonic()
        with pytest.raises(LogUnavailable, match="request-4 within 1.5 s"):
            log.append(_entry(4), timeout_s=1.5)
        assert time.monotonic() - started < 1.5 + 1.0
        cluster.start("n1", "n2")
        acknowledged.append(log.append(_entry(5), timeout_s=DEADLINE_S))
        stored = dict(_read_all(log))
        assert all(stored[sequence] == _entry(number) for number, sequence in zip((0, 1, 2, 3, 5), acknowledged,
                                                                                   strict=True))


def test_a_stream_the_servers_cannot_hold_is_a_clear_error_at_open(cluster: NatsCluster) -> None:
    with pytest.raises(ConfigError, match="refused to create the write log's stream.*max_file_store"):
        WriteLog(cluster.urls, LogSettings(max_bytes=64 * 2**30)).open()


def test_no_server_at_all_is_a_clear_error_at_open() -> None:
    with pytest.raises(LogUnavailable, match="no NATS server of nats://127.0.0.1:1 answered within 1 s"):
        WriteLog(["nats://127.0.0.1:1"], LogSettings(replicas=1), connect_timeout_s=0.5).open()


async def _delete(urls: list[str], sequence: int) -> None:
    client = await nats.connect(servers=urls)
    try:
        await client.jetstream().delete_msg(STREAM, sequence)
    finally:
        await client.close()


def test_entries_gone_from_the_log_stop_a_reader_instead_of_being_skipped(cluster: NatsCluster) -> None:
    """A node whose next entry is past the log's retention (here: deleted) gets LogGap, never the entries after
    it as if nothing were missing: its records would silently differ from every other node's."""
    with WriteLog(cluster.urls, SMALL).open() as log:
        sequences = [log.append(_entry(number), timeout_s=DEADLINE_S) for number in range(4)]
        asyncio.run(_delete(cluster.urls, sequences[1]))
        assert [sequence for sequence, _ in _read(log, 0)] == sequences[:1]
        gap = rf"no longer holds entry {sequences[1]} \(the next it holds is {sequences[2]}"
        with pytest.raises(LogGap, match=gap):
            _read(log, sequences[0])
        asyncio.run(_delete(cluster.urls, sequences[0]))
        with pytest.raises(LogGap, match=f"no longer holds entry {sequences[0]}"):
            _read(log, 0)  # a new node, the log's start gone: the same


def test_entries_delivered_to_an_abandoned_read_are_read_again_not_taken_for_a_gap(cluster: NatsCluster) -> None:
    """A read cut short (its caller timed out) may leave the consumer's next messages delivered to nobody; the
    stream still holds them, so they are read again from a new consumer, never reported as a LogGap (which
    stops a node for good: it did, in the storm test with nats-servers killed)."""
    with WriteLog(cluster.urls, SMALL).open() as log:
        sequences = [log.append(_entry(number), timeout_s=DEADLINE_S) for number in range(5)]
        assert [sequence for sequence, _ in _read(log, 0, limit=1)] == sequences[:1]
        reader = log._reader
        assert reader is not None
        log._run(reader.fetch(2, timeout=1.0), 5.0)  # what an abandoned fetch took: entries 2 and 3, never seen
        found = [sequence for sequence, _ in _read_all(log, after=sequences[0])]
        assert found == sequences[1:]
