"""Protobuf <-> core conversions, one function per message."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TypeVar

from google.protobuf.timestamp_pb2 import Timestamp
from risklist.v1 import risklist_pb2 as pb

from risklist_kernel.digest import storage_key
from risklist_kernel.enums import EntityType
from risklist_server.core.contribution_rules import (
    Problem,
    category_from_number,
    clean_reference,
    expires_at_problem,
    level_from_number,
    reference_problem,
    reported_at_problem,
)
from risklist_server.core.errors import InvalidSubject, InvalidSubjects
from risklist_server.core.mutation import Mutation, Removal, Upsert
from risklist_server.core.policy import NOT_LISTED_REASON
from risklist_server.core.record import Contribution
from risklist_server.core.subject import Subject
from risklist_server.core.verdict import Verdict
from risklist_server.services.outcomes import SourceQuality


def subject_from_proto(message: pb.Subject) -> Subject:
    """Which of value/digest is set decides the subject's form."""
    which = message.WhichOneof("id")
    if which == "digest":
        return Subject(message.type, None, message.digest)
    if which == "value":
        return Subject(message.type, message.value, None)
    return Subject(message.type, None, None)


def subjects_from_proto(messages: Iterable[pb.Subject]) -> list[Subject]:
    """subject_from_proto over a batch, inlined: a BatchCheck converts up to max_batch of them."""
    make = tuple.__new__  # Subject's own __new__ adds a call per subject
    subjects: list[Subject] = []
    append = subjects.append
    for message in messages:
        which = message.WhichOneof("id")
        if which == "digest":
            append(make(Subject, (message.type, None, message.digest)))
        elif which == "value":
            append(make(Subject, (message.type, message.value, None)))
        else:
            append(make(Subject, (message.type, None, None)))
    return subjects


def _timestamp(seconds: int) -> Timestamp | None:
    return Timestamp(seconds=seconds) if seconds else None


def verdict_to_proto(verdict: Verdict) -> pb.Verdict:
    if not verdict.listed:
        return pb.Verdict(listed=False, action=pb.ACTION_ALLOW, reason_code=NOT_LISTED_REASON)
    return pb.Verdict(
        listed=True,
        level=int(verdict.level or 0),
        categories=[int(category) for category in verdict.categories],
        source_count=verdict.source_count,
        report_count=verdict.report_count,
        first_reported=_timestamp(verdict.first_reported),
        last_reported=_timestamp(verdict.last_reported),
        expires_at=_timestamp(verdict.expires_at),
        action=int(verdict.action),
        reason_code=verdict.reason_code,
        policy_version=verdict.policy_version,
    )


def batch_mutations(batch: pb.IngestBatch, source: str, number: int, now: int | None = None) -> list[Mutation]:
    """The mutations of an Ingest call's batch (its message `number`) loaded as `source`, checked against `now` (the
    time, by default this moment); InvalidSubjects naming every bad row's field."""
    mutations: list[Mutation] = []
    violations: list[tuple[str, str]] = []
    for index, message in enumerate(batch.mutations):
        try:
            mutations.append(mutation_from_proto(message, source, now))
        except InvalidSubject as error:
            violations.append((f"requests[{number}].batch.mutations[{index}].{error.field}", error.reason))
    if violations:
        raise InvalidSubjects(violations)
    return mutations


def mutation_from_proto(message: pb.Mutation, source: str, now: int | None = None) -> Mutation:
    """A validated Mutation for `source`; raise InvalidSubject naming the bad field.

    `now` (unix seconds; None: the clock) bounds reported_at, as the loader's clock bounds a feed's.
    """
    try:
        entity_type = EntityType(message.type)
    except ValueError:
        raise InvalidSubject("type", f"entity type {message.type} is unspecified or unknown") from None
    try:
        key = storage_key(entity_type, message.digest)
    except ValueError as error:
        raise InvalidSubject("digest", str(error)) from None
    if message.action == pb.MUTATION_ACTION_REMOVE:
        category = None if message.category == pb.CATEGORY_UNSPECIFIED else _checked(
            category_from_number(message.category))
        return Removal(key, source, category)
    if message.action != pb.MUTATION_ACTION_ADD:
        raise InvalidSubject("action", "action must be ADD or REMOVE")
    level = _checked(level_from_number(message.level))
    if not message.HasField("reported_at") or not message.HasField("expires_at"):
        raise InvalidSubject("reported_at", "reported_at and expires_at are required for ADD")
    reported_at = message.reported_at.seconds
    expires_at = message.expires_at.seconds
    reference = clean_reference(message.reference)
    for problem in (reported_at_problem(reported_at, int(time.time()) if now is None else now),
                    expires_at_problem(reported_at, expires_at), reference_problem(reference)):
        _checked(problem)
    category = _checked(category_from_number(message.category))
    return Upsert(key, Contribution(source, category, level, reported_at, expires_at, reference))


_T = TypeVar("_T")


def _checked(value: _T | Problem) -> _T:
    """`value`, unless it is a Problem: then raise it as InvalidSubject."""
    if isinstance(value, Problem):
        raise InvalidSubject(value.field, value.reason)
    return value


def quality_to_proto(rows: Iterable[SourceQuality]) -> pb.GetQualityResponse:
    sources = []
    for row in rows:
        tally = row.tally
        precision = tally.precision
        legacy = row.legacy
        sources.append(pb.SourceQuality(
            source=row.source, confirmed_fraud=tally.confirmed_fraud, false_positive=tally.false_positive,
            customer_explained=tally.customer_explained, unknown=tally.unknown,
            precision=precision or 0.0, precision_known=precision is not None,
            live_contributions=row.live_contributions,
            legacy_unverified=pb.OutcomeCounts(
                confirmed_fraud=legacy.confirmed_fraud, false_positive=legacy.false_positive,
                customer_explained=legacy.customer_explained, unknown=legacy.unknown),
        ))
    return pb.GetQualityResponse(sources=sources)

