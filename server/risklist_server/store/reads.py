"""The read side shared by the writer's store and its read replicas: front, lookups, changelog."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog
from rocksdict import Rdict

from risklist_kernel.digest import KEY_SIZE
from risklist_server.core.outcome import SourceTally
from risklist_server.core.record import Record, decode_record
from risklist_server.store.changelog import Change, decode_changes, sequence_key
from risklist_server.store.changelog_trim import read_trimmed_through
from risklist_server.store.front import DEFAULT_BITS_PER_KEY, BloomFront, Front
from risklist_server.store.front_file import FrontOwner
from risklist_server.store.list_id import read_cluster_list_id
from risklist_server.store.outcome_key import read_outcome_key
from risklist_server.store.outcomes import OutcomeLedger
from risklist_server.store.rocks import CHANGELOG_CF, META_CF, get_one, iter_items, iter_keys, multi_get
from risklist_server.store.store_id import read_store_id

log = structlog.get_logger("risklist.store")

FRONT_FILE = "risklist-front.bin"
MIN_FRONT_CAPACITY = 100_000


@dataclass(frozen=True, slots=True)
class FrontPolicy:
    """Where the Bloom front is consulted; benchmarks/RESULTS.md says why these defaults."""

    single: bool = True
    batch: bool = True
    bits_per_key: int = DEFAULT_BITS_PER_KEY


DEFAULT_FRONT_POLICY = FrontPolicy()


class StoreReads:
    """Lookups through the Bloom front, and the changelog that keeps the front in step.

    Subclasses open `_db` and `_changelog`, set `path`, `front_policy` and `_sequence`, then
    open the front.
    """

    path: Path
    front_policy: FrontPolicy
    front: Front
    secret_fingerprint: str
    _db: Rdict
    _changelog: Rdict
    _meta: Rdict
    _outcomes: OutcomeLedger
    _outcome_key: bytes | None
    _sequence: int
    _trimmed_through: int
    _store_id: str
    _cluster_list_id: str | None

    @property
    def version(self) -> int:
        """The changelog sequence of the last write this view has seen (0: none yet)."""
        return self._sequence

    @property
    def trimmed_through(self) -> int:
        """The changelog's low-water mark as this view saw it: the last sequence trimmed away (0: none).

        changes_since(v) lists every change after v only for v ≥ this (risklist_server.store.changelog_trim).
        """
        return self._trimmed_through

    def lookup(self, key: bytes) -> Record | None:
        """The record at `key`, or None when not listed."""
        if self.front_policy.single and not self.front.might_contain(key):
            return None
        data = get_one(self._db, key)
        return None if data is None else decode_record(data)

    def lookup_many(self, keys: Sequence[bytes]) -> list[Record | None]:
        """Records for `keys` in order; the front screens the batch, RocksDB answers the rest."""
        results: list[Record | None] = [None] * len(keys)
        if self.front_policy.batch:
            candidates = self.front.might_contain_many(keys).nonzero()[0].tolist()
        else:
            candidates = list(range(len(keys)))
        if not candidates:
            return results
        values = multi_get(self._db, [keys[index] for index in candidates])
        for index, data in zip(candidates, values, strict=True):
            if data is not None:
                results[index] = decode_record(data)
        return results

    def lookup_packed(self, packed: bytes) -> list[tuple[int, Record]]:
        """(index, record) of the listed keys among concatenated 17-byte keys, in order.

        The keys stay concatenated through the front; only its candidates become separate
        bytes objects for RocksDB (99% of a typical batch never does).
        """
        if self.front_policy.batch:
            candidates = self.front.might_contain_packed(packed).nonzero()[0].tolist()
        else:
            candidates = list(range(len(packed) // KEY_SIZE))
        if not candidates:
            return []
        values = multi_get(self._db, [packed[index * KEY_SIZE : (index + 1) * KEY_SIZE] for index in candidates])
        return [
            (index, decode_record(data)) for index, data in zip(candidates, values, strict=True) if data is not None
        ]

    def changes_since(self, sequence: int) -> Iterator[tuple[int, list[Change]]]:
        """Changelog entries after `sequence`, oldest first."""
        for key, value in iter_items(self._changelog, sequence_key(sequence + 1)):
            yield int.from_bytes(key, "big"), decode_changes(value)

    def source_tallies(self) -> dict[str, SourceTally]:
        """Verified outcomes reported for each source's hits, by source id (list quality, the policy's precision)."""
        return self._outcomes.tallies()

    def legacy_source_tallies(self) -> dict[str, SourceTally]:
        """Outcomes recorded before outcomes were verified, by source id (shown to the operator, never used)."""
        return self._outcomes.legacy_tallies()

    def outcome_key(self) -> bytes | None:
        """The key hits' outcome tokens are made with (risklist_server.store.outcome_key); None while the store
        has none (a replica of a store its writer has not opened since outcomes were verified)."""
        key = self._outcome_key
        if key is None:
            key = self._outcome_key = read_outcome_key(self._meta)
        return key

    def iter_records(self) -> Iterator[tuple[bytes, Record]]:
        """Every listed key with its record, in key order (for sweeps and rebuilds)."""
        for key, value in iter_items(self._db):
            yield key, decode_record(value)

    def _attach(self, path: str | Path, front_policy: FrontPolicy, db: Rdict) -> None:
        """Set what the read side works on (the subclass opened `db`, read-write or as a secondary)."""
        self.path = Path(path)
        self.front_policy = front_policy
        self._db = db
        self._changelog = db.get_column_family(CHANGELOG_CF)
        self._meta = db.get_column_family(META_CF)
        self._outcomes = OutcomeLedger(db)
        self._outcome_key = None
        self._trimmed_through = read_trimmed_through(self._meta)
        self._store_id = read_store_id(self._meta)
        self._cluster_list_id = read_cluster_list_id(self._meta)

    def _last_sequence(self) -> int:
        last = next(iter_keys(self._changelog, backwards=True), None)
        return max(self._trimmed_through, 0 if last is None else int.from_bytes(last, "big"))

    @property
    def store_id(self) -> str:
        """This store's id (risklist_server.store.store_id): which list its versions count, for partners."""
        return self._store_id

    @property
    def list_id(self) -> str:
        """Which list this store's versions count, for partners (risklist_server.store.list_id): the cluster's
        once the store joined one, else its store id. A node's writer joins before its readers open the store."""
        return self._store_id if self._cluster_list_id is None else self._cluster_list_id

    def table_readers_bytes(self) -> int:
        """Memory RocksDB holds for the open SST files' index and filter blocks (outside the block cache)."""
        return self._db.property_int_value("rocksdb.estimate-table-readers-mem") or 0

    def _front_capacity(self) -> int:
        return self.front.word_count * 64 // self.front_policy.bits_per_key

    def _front_overfull(self) -> bool:
        return self.front.added > 2 * self._front_capacity()

    def _front_owner(self) -> FrontOwner:
        """Whose front file this store's is: this secret's and this store's (its id in meta)."""
        return FrontOwner(self.secret_fingerprint, self._store_id)

    def _add_changes_to_front(self, front: Front, after: int) -> tuple[int, int] | None:
        """Add every key listed by changelog entries after `after`; return (last sequence, added).

        None when the changelog no longer reaches back to `after` (trimmed past it): `front` may then
        lack keys listed since, and must be rebuilt from the records (the writer) or not trusted (a reader).
        """
        if after < self._trimmed_through:
            return None
        last, added = after, 0
        for sequence, changes in self.changes_since(after):
            if sequence != last + 1:
                return None
            for change in changes:
                if change.listed:
                    front.add(change.key)
                    added += 1
            last = sequence
        return last, added

    def record_estimate(self) -> int:
        """About how many records the store holds (RocksDB's estimate: cheap, and close once compacted)."""
        return self._db.property_int_value("rocksdb.estimate-num-keys") or 0

    def _rebuild_front(self) -> BloomFront:
        capacity = max(MIN_FRONT_CAPACITY, 2 * self.record_estimate())
        front = BloomFront.for_capacity(capacity, self.front_policy.bits_per_key)
        for key in iter_keys(self._db):
            front.add(key)
        return front
