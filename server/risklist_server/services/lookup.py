"""Answering checks: resolve subjects to keys, read the store, aggregate verdicts."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from risklist_kernel.digest import KEY_SIZE
from risklist_server.core.errors import BatchTooLarge, InvalidSubject, InvalidSubjects
from risklist_server.core.policy import DEFAULT_POLICY, Policy, PrecisionLookup, unknown_precision
from risklist_server.core.record import Record
from risklist_server.core.subject import Subject, SubjectResolver
from risklist_server.core.verdict import NOT_LISTED, Verdict, aggregate


class RecordReader(Protocol):
    """What lookups need of a store."""

    @property
    def version(self) -> int: ...

    def lookup(self, key: bytes) -> Record | None: ...

    def lookup_packed(self, packed: bytes) -> list[tuple[int, Record]]: ...


class LookupService:
    """Plain functions behind Check/BatchCheck/StreamCheck; tests call them without a network."""

    def __init__(
        self,
        store: RecordReader,
        resolver: SubjectResolver,
        *,
        max_batch: int,
        clock: Callable[[], float] = time.time,
        policy: Callable[[], Policy] = lambda: DEFAULT_POLICY,
        precision: PrecisionLookup = unknown_precision,
    ) -> None:
        """`policy` gives the policy in force at each call (server/risklist_server/services/policy_watch.py reloads it);
        `precision` each source's known precision (None: unknown)."""
        self._store = store
        self._resolver = resolver
        self._max_batch = max_batch
        self._clock = clock
        self._policy = policy
        self._precision = precision

    @property
    def version(self) -> int:
        return self._store.version

    @property
    def max_batch(self) -> int:
        """The most subjects one call may carry (settings.max_batch)."""
        return self._max_batch

    def check(self, subject: Subject) -> tuple[Verdict, int]:
        """The verdict for one subject and the list version it reflects."""
        return self.check_key(self.storage_key(subject))

    def storage_key(self, subject: Subject) -> bytes:
        """The subject's storage key; InvalidSubjects naming the field if it is unusable."""
        try:
            return self._resolver.storage_key(subject)
        except InvalidSubject as error:
            raise InvalidSubjects([(f"subject.{error.field}", error.reason)]) from None

    def check_key(self, key: bytes) -> tuple[Verdict, int]:
        """check for a subject already resolved to a valid storage key."""
        version = self._store.version
        return self.verdict(self._store.lookup(key)), version

    def verdict(self, record: Record | None) -> Verdict:
        """A record's verdict now, with the decision of the policy in force."""
        if record is None:
            return NOT_LISTED
        return aggregate(record, int(self._clock()), self._policy(), self._precision)

    def check_batch(self, subjects: Sequence[Subject]) -> tuple[list[tuple[int, Verdict]], int]:
        """(index, verdict) of the listed subjects only, and the list version.

        A batch over the maximum, or with any invalid subject, is rejected whole.
        """
        return self.check_keys(self.storage_keys(subjects))

    def storage_keys(self, subjects: Sequence[Subject]) -> list[bytes]:
        """The subjects' storage keys in order; BatchTooLarge, or InvalidSubjects naming every bad one."""
        if len(subjects) > self._max_batch:
            raise BatchTooLarge(len(subjects), self._max_batch)
        keys, errors = self._resolver.storage_keys(subjects)
        if errors:
            raise InvalidSubjects([(f"subjects[{index}].{error.field}", error.reason) for index, error in errors])
        return keys

    def check_packed(self, packed: bytes) -> tuple[list[tuple[int, Verdict]], int]:
        """(index, verdict) of the listed keys among concatenated 17-byte storage keys, and the list version.

        The one place a batch becomes verdicts: an all-digest request's keys arrive like this from
        the wire, and check_keys joins resolved ones. The policy is fetched only if something hit.
        """
        count = len(packed) // KEY_SIZE
        if count > self._max_batch:
            raise BatchTooLarge(count, self._max_batch)
        version = self._store.version
        found = self._store.lookup_packed(packed)
        if not found:
            return [], version
        now = int(self._clock())
        policy = self._policy()
        hits = [(index, verdict) for index, record in found
                if (verdict := aggregate(record, now, policy, self._precision)).listed]
        return hits, version

    def check_keys(self, keys: Sequence[bytes]) -> tuple[list[tuple[int, Verdict]], int]:
        """check_batch for subjects already resolved to valid storage keys (client digests)."""
        return self.check_packed(b"".join(keys))
