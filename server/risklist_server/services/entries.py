"""GetEntry as a plain function: a subject's live contributions, as the network lets the caller see them."""

from __future__ import annotations

import time
from collections.abc import Callable

from risklist_server.core.entry import Entry, entry_view
from risklist_server.core.errors import InvalidSubject, InvalidSubjects
from risklist_server.core.record import Record
from risklist_server.core.subject import Subject, SubjectResolver
from risklist_server.core.verdict import Verdict
from risklist_server.services.lookup import RecordReader


class EntryService:
    """Reads from any worker's store (the writer's or a replica)."""

    def __init__(
        self,
        store: RecordReader,
        resolver: SubjectResolver,
        *,
        disclose_sources: bool,
        verdict: Callable[[Record | None], Verdict],
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`verdict` decides a record's verdict with the policy in force (LookupService.verdict)."""
        self._store = store
        self._verdict = verdict
        self._resolver = resolver
        self._disclose = disclose_sources
        self._clock = clock

    def get_entry(self, caller: str, subject: Subject) -> tuple[Entry, int]:
        """The entry for `subject` as `caller` sees it, and the list version it reflects."""
        version = self._store.version
        try:
            key = self._resolver.storage_key(subject)
        except InvalidSubject as error:
            raise InvalidSubjects([(f"subject.{error.field}", error.reason)]) from None
        record = self._store.lookup(key)
        entry = entry_view(record, self._verdict(record), caller=caller, disclose_sources=self._disclose,
                           now=int(self._clock()))
        return entry, version
