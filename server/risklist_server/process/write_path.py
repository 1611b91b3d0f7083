"""Wiring a worker for partners' writes and entries: the writer runs them, readers forward to it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from risklist_kernel.digest import Digester
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_server.core.hit_token import OutcomeWindow
from risklist_server.core.record import Record
from risklist_server.core.settings import DAY_SECONDS, HOUR_SECONDS, Settings
from risklist_server.core.subject import SubjectResolver
from risklist_server.core.verdict import Verdict
from risklist_server.rpc.contribution_calls import contribution_calls
from risklist_server.rpc.outcome_calls import outcome_calls
from risklist_server.rpc.write_calls import WriteCall
from risklist_server.rpc.writer_link import ForwardedWrites
from risklist_server.services.changelog_trim import ChangelogTrimmer
from risklist_server.services.contributions import ContributionService
from risklist_server.services.entries import EntryService
from risklist_server.services.expiry_sweep import ExpirySweeper
from risklist_server.services.outcomes import OutcomeService
from risklist_server.store.changelog_trim import ChangelogWindow
from risklist_server.store.replica import ReplicaStore
from risklist_server.store.risk_store import RiskStore

log = structlog.get_logger("risklist.server")


@dataclass
class WriterSide:
    """The writer's part: every write call, its own entries, the expiry sweep and the changelog trim (not started)."""

    calls: dict[str, WriteCall[Any, Any]]
    entries: EntryService
    sweeper: ExpirySweeper
    trimmer: ChangelogTrimmer


@dataclass
class ReaderSide:
    """A reader's part: writes forwarded to the writer, entries from its replica."""

    writes: ForwardedWrites
    entries: EntryService


def subject_resolver(settings: Settings, secret: NetworkSecret) -> SubjectResolver:
    """Raw values and client digests to storage keys, as the network's settings say; the normaliser warmed up, since
    raw values are charged to the caller's quota by the CPU they take (risklist_server.core.subject_cost)."""
    normaliser = Normaliser(settings.default_region)
    normaliser.warm_up()
    return SubjectResolver(normaliser, Digester(secret))


def outcome_window(settings: Settings) -> OutcomeWindow:
    """How long after an answer its hits may be graded, as `settings` say."""
    return OutcomeWindow(settings.outcome_window_days * DAY_SECONDS)


def writer_side(
    settings: Settings, store: RiskStore, secret: NetworkSecret, verdict: Callable[[Record | None], Verdict],
    *, clock: Callable[[], float] = time.time,
) -> WriterSide:
    """The writer's calls and entries over `store`, its expiry sweep and changelog trim, as `settings` say; the
    calls read the time from `clock` (a cluster node's: the log entry's time while it applies one)."""
    resolver = subject_resolver(settings, secret)
    return WriterSide(
        calls={**contribution_calls(ContributionService(store, resolver, settings, clock=clock)),
               **outcome_calls(OutcomeService(resolver, store, window=outcome_window(settings), clock=clock))},
        entries=EntryService(store, resolver, disclose_sources=settings.disclose_sources, verdict=verdict),
        sweeper=ExpirySweeper(store, interval=settings.expiry_sweep_interval_seconds,
                              slice_size=settings.expiry_sweep_slice,
                              max_purged_fraction=settings.expiry_max_purged_fraction_per_hour),
        trimmer=ChangelogTrimmer(store, changelog_window(settings), interval=settings.changelog_trim_interval_seconds),
    )


def changelog_window(settings: Settings) -> ChangelogWindow:
    """The changelog's retention window, as `settings` say."""
    return ChangelogWindow(max_entries=settings.changelog_max_entries,
                           max_age=settings.changelog_max_age_hours * HOUR_SECONDS)


def reader_side(
    settings: Settings, store: ReplicaStore, secret: NetworkSecret, run_dir: str | Path,
    verdict: Callable[[Record | None], Verdict],
) -> ReaderSide:
    """Writes forwarded to the writer's link in `run_dir` (caught up to before answering), entries from `store`."""

    def caught_up_to(version: int) -> None:
        # Read-your-writes on this worker: the acknowledged write is visible here before the answer.
        # The write is durable already: if catching up fails, say so in the log, not to the caller
        # (the catch-up thread retries within milliseconds).
        if store.version < version:
            try:
                store.catch_up()
            except Exception as error:
                log.warning("catch_up_after_write_failed", error=str(error), acknowledged_version=version)

    return ReaderSide(
        writes=ForwardedWrites(run_dir, on_acknowledged=caught_up_to),
        entries=EntryService(store, subject_resolver(settings, secret), disclose_sources=settings.disclose_sources,
                             verdict=verdict),
    )
