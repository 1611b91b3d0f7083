"""WatchState: a watchlist's durable state in one SQLite file (stdlib sqlite3, WAL).

Tables: `watched` (storage key -> the bank's label), `pending` (keys added but not yet screened
against a filter, numbered in the order they were added), `alerted` (the last verdict alerted per
listed watched subject), `outbox` (alerts recorded, with whether they were delivered) and `meta`
(the list version processed, the network secret's fingerprint).

Why SQLite: one file, in the standard library, transactions that survive kill -9 and power
loss (WAL with synchronous=FULL: a commit is on disk when it returns), and tables for 10M
watched subjects that never need to be in memory. Why it gives "exactly once": `record` writes
an update's alerts to the outbox, the new last verdicts and the version processed in ONE
transaction; delivery reads the outbox and marks each alert delivered after its consumer
returned. A crash before the commit leaves the old version (the update is processed again, the
same alerts are recorded once); a crash after it leaves the alerts undelivered in the outbox
(delivered at the next start, never recomputed). Only a crash between a consumer's return and
its "delivered" mark hands that one alert again, with the same `alert_id` (risklist-watch's
file output skips ids it already wrote).

One connection, shared by the watchlist's thread and callers adding subjects, under a lock.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from risklist_client.alerts import Alert, Summary
from risklist_kernel.errors import RiskListError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS watched (key BLOB PRIMARY KEY, label TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending (seq INTEGER PRIMARY KEY AUTOINCREMENT, key BLOB NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS alerted (key BLOB PRIMARY KEY, summary TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    alert_id INTEGER PRIMARY KEY AUTOINCREMENT, key BLOB NOT NULL, record TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS outbox_undelivered ON outbox (delivered, alert_id);
"""
CHUNK = 500
"""Keys per `IN (...)` query (SQLite allows 32766 parameters; small chunks keep statements cheap)."""


class StateError(RiskListError):
    """The watchlist's state file cannot be used: made under another network secret, or unreadable."""


@dataclass(frozen=True, slots=True)
class Change:
    """What one confirmed answer changes in the state: a new last verdict (None: cleared) and its alert."""

    key: bytes
    summary: Summary | None
    alert: Alert


class WatchState:
    """The state file of one watchlist; thread-safe."""

    def __init__(self, path: Path | str, fingerprint: str) -> None:
        """Open or create `path`; StateError if it was made under a secret with another `fingerprint`."""
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as error:
            raise StateError(f"{self.path}: cannot open the watchlist state ({error}); move the file away to "
                             "start afresh (every watched subject is screened again, alerts may repeat)") from None
        known = self._meta("fingerprint")
        if known is None:
            self._set_meta("fingerprint", fingerprint)
        elif known != fingerprint:
            self._db.close()
            raise StateError(
                f"{self.path} was made under network secret {known}, not this one ({fingerprint}): its digests "
                "name other subjects. Use the secret it was made with, or another --state directory.")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---- the version processed --------------------------------------------------------------

    @property
    def version(self) -> int | None:
        """The last list version whose changes were processed (None: never screened)."""
        value = self._meta("version")
        return None if value is None else int(value)

    @property
    def list_id(self) -> str | None:
        """Which list `version` counts (the filter's list_id at the last full screen; None: a state from before
        list ids, or never screened)."""
        return self._meta("list_id")

    # ---- watched subjects --------------------------------------------------------------------

    def add(self, entries: Iterable[tuple[bytes, str]]) -> list[bytes]:
        """Watch (key, label) pairs; return the keys that were not watched before (now pending a screen).
        A key watched already keeps its state; its label is updated."""
        added: list[bytes] = []
        with self._lock, self._transaction():
            for key, label in entries:
                if self._db.execute("INSERT OR IGNORE INTO watched (key, label) VALUES (?, ?)", (key, label)).rowcount:
                    added.append(key)
                else:
                    self._db.execute("UPDATE watched SET label = ? WHERE key = ? AND label != ?", (label, key, label))
            self._db.executemany("INSERT OR IGNORE INTO pending (key) VALUES (?)", ((key,) for key in added))
        return added

    def remove(self, keys: Iterable[bytes]) -> int:
        """Stop watching `keys` (their alert state goes too: watched again, a listed one alerts LISTED again)."""
        removed = 0
        with self._lock, self._transaction():
            for key in keys:
                removed += self._db.execute("DELETE FROM watched WHERE key = ?", (key,)).rowcount
                self._db.execute("DELETE FROM pending WHERE key = ?", (key,))
                self._db.execute("DELETE FROM alerted WHERE key = ?", (key,))
        return removed

    def replace_all(self, entries: Iterable[tuple[bytes, str]]) -> tuple[list[bytes], int]:
        """Make the watched subjects exactly `entries` (labels updated); return the keys new to the watchlist
        (now pending a screen) and how many stopped being watched. Compared in SQLite, not in memory."""
        with self._lock, self._transaction():
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS incoming (key BLOB PRIMARY KEY, label TEXT) "
                             "WITHOUT ROWID")
            self._db.execute("DELETE FROM incoming")
            self._db.executemany("INSERT OR REPLACE INTO incoming (key, label) VALUES (?, ?)", entries)
            gone = self._db.execute("SELECT key FROM watched WHERE key NOT IN (SELECT key FROM incoming)").fetchall()
            for (key,) in gone:
                for table in ("watched", "pending", "alerted"):
                    self._db.execute(f"DELETE FROM {table} WHERE key = ?", (key,))
            added = [key for (key,) in self._db.execute(
                "SELECT key FROM incoming WHERE key NOT IN (SELECT key FROM watched)").fetchall()]
            self._db.execute("INSERT INTO watched (key, label) SELECT key, label FROM incoming WHERE true "
                             "ON CONFLICT (key) DO UPDATE SET label = excluded.label WHERE label != excluded.label")
            self._db.executemany("INSERT OR IGNORE INTO pending (key) VALUES (?)", ((key,) for key in added))
            self._db.execute("DELETE FROM incoming")
        return added, len(gone)

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM watched").fetchone()[0])

    def watched_keys(self, batch: int = 65536) -> Iterator[bytes]:
        """Every watched key in ascending order, read `batch` at a time (the lock is not held between batches)."""
        last = b""
        while True:
            with self._lock:
                rows = self._db.execute("SELECT key FROM watched WHERE key > ? ORDER BY key LIMIT ?",
                                        (last, batch)).fetchall()
            if not rows:
                return
            for (key,) in rows:
                yield key
            last = rows[-1][0]

    def labels(self, keys: Sequence[bytes]) -> dict[bytes, str]:
        """The watched keys among `keys`, with their labels."""
        return {key: label for key, label in self._rows_for("SELECT key, label FROM watched", keys)}

    def pending(self) -> list[bytes]:
        with self._lock:
            return [key for (key,) in self._db.execute("SELECT key FROM pending ORDER BY key")]

    def pending_mark(self) -> int:
        """The newest pending key's number: a screen that reads every watched key after this call covers the
        keys pending up to it (`record(screened_through=...)`); keys added later get higher numbers."""
        with self._lock:
            return int(self._db.execute("SELECT coalesce(max(seq), 0) FROM pending").fetchone()[0])

    # ---- alert state --------------------------------------------------------------------------

    def alerted_keys(self) -> list[bytes]:
        """Watched subjects whose last alert said listed."""
        with self._lock:
            return [key for (key,) in self._db.execute("SELECT key FROM alerted")]

    def summaries(self, keys: Sequence[bytes]) -> dict[bytes, Summary]:
        """The last verdict alerted for each of `keys` that has one."""
        return {key: Summary.from_json(text) for key, text in self._rows_for("SELECT key, summary FROM alerted", keys)}

    def _rows_for(self, select: str, keys: Sequence[bytes]) -> list[tuple[bytes, str]]:
        """The rows of `select` (a SELECT of key and one column) whose key is one of `keys`, CHUNK keys a query."""
        rows: list[tuple[bytes, str]] = []
        with self._lock:
            for start in range(0, len(keys), CHUNK):
                part = keys[start : start + CHUNK]
                rows.extend(self._db.execute(f"{select} WHERE key IN ({','.join('?' * len(part))})", part))
        return rows

    def record(self, changes: Sequence[Change], *, version: int | None, screened: Sequence[bytes] = (),
               screened_through: int = 0, reset: bool = False, list_id: str | None = None) -> list[Alert]:
        """In one transaction: the changes' alerts into the outbox, their new last verdicts, `screened`
        keys and those pending up to the mark `screened_through` out of `pending`, and `version` (if
        newer, or any with `reset`) as processed, with `list_id` (a full screen's) as the list it counts.
        Returns the alerts with their ids. A change for a key no longer watched is dropped."""
        recorded: list[Alert] = []
        with self._lock, self._transaction():
            now = time.time()
            for change in changes:
                if self._db.execute("SELECT 1 FROM watched WHERE key = ?", (change.key,)).fetchone() is None:
                    continue
                if change.summary is None:
                    self._db.execute("DELETE FROM alerted WHERE key = ?", (change.key,))
                else:
                    self._db.execute("INSERT OR REPLACE INTO alerted (key, summary) VALUES (?, ?)",
                                     (change.key, change.summary.to_json()))
                alert = change.alert
                cursor = self._db.execute("INSERT INTO outbox (key, record) VALUES (?, ?)",
                                          (change.key, alert.to_record()))
                alert_id = cursor.lastrowid
                assert alert_id is not None
                recorded.append(Alert(alert_id, alert.kind, alert.entity_type, alert.label, alert.subject_key,
                                      alert.result, alert.previous, now))
            self._db.execute("DELETE FROM pending WHERE seq <= ?", (screened_through,))
            self._db.executemany("DELETE FROM pending WHERE key = ?", ((key,) for key in screened))
            current = self._meta_unlocked("version")
            if version is not None and (reset or current is None or version > int(current)):
                self._set_meta_unlocked("version", str(version))
            if list_id is not None:
                self._set_meta_unlocked("list_id", list_id)
        return recorded

    def undelivered(self) -> list[Alert]:
        """Recorded alerts not yet marked delivered, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT alert_id, key, record FROM outbox WHERE delivered = 0 "
                                    "ORDER BY alert_id").fetchall()
        return [Alert.from_record(int(alert_id), key, record) for alert_id, key, record in rows]

    def delivered(self, alert_id: int) -> None:
        with self._lock:
            self._db.execute("UPDATE outbox SET delivered = 1 WHERE alert_id = ?", (alert_id,))

    def trim_outbox(self, keep: int = 100_000) -> None:
        """Forget delivered alerts beyond the newest `keep` (ids are never reused: AUTOINCREMENT)."""
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE delivered = 1 AND alert_id <= "
                             "(SELECT max(alert_id) FROM outbox) - ?", (keep,))

    # ---- internals ----------------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _meta(self, name: str) -> str | None:
        with self._lock:
            return self._meta_unlocked(name)

    def _meta_unlocked(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, name: str, value: str) -> None:
        with self._lock:
            self._set_meta_unlocked(name, value)

    def _set_meta_unlocked(self, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on an exception) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
