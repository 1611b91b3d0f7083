"""Revoke: a partner withdraws its own contributions; what only other partners reported stays untouchable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from risklist_kernel.enums import Category
from risklist_server.core.errors import InvalidSubjects, NotOwnContribution
from risklist_server.core.mutation import Removal
from risklist_server.core.record import Record
from risklist_server.core.subject import Subject, SubjectResolver


def revoke_removals(
    subjects: Sequence[Subject], category: int, *, source: str, resolver: SubjectResolver, max_batch: int
) -> list[Removal]:
    """One removal of the source's contributions per subject (of `category`; 0 = every category)."""
    if not subjects:
        raise InvalidSubjects([("subjects", "give at least one subject")])
    if len(subjects) > max_batch:
        raise InvalidSubjects([("subjects", f"{len(subjects)} subjects exceed the maximum of {max_batch} "
                                            "per request; split them into several requests")])
    violations: list[tuple[str, str]] = []
    chosen: Category | None = None
    if category:
        try:
            chosen = Category(category)
        except ValueError:
            violations.append(("category", f"category {category} is unknown; leave it unspecified (0) "
                                           "to revoke every category you reported"))
    keys, errors = resolver.storage_keys(subjects)
    violations.extend((f"subjects[{index}].{error.field}", error.reason) for index, error in errors)
    if violations:
        raise InvalidSubjects(violations)
    return [Removal(key, source, chosen) for key in keys]


def require_own(removals: Sequence[Removal], records: Mapping[bytes, Record], now: int) -> None:
    """Raise NotOwnContribution if a removal matches none of its source's contributions but another
    partner's live ones: that subject is listed by others only, and revoking it is not the caller's to do.

    A subject nobody lists (or listed only in other categories) is simply not listed: no error.
    """
    refused: list[str] = []
    for index, removal in enumerate(removals):
        record = records.get(removal.key, ())
        matching = [c for c in record if removal.category is None or c.category == removal.category]
        if any(c.source == removal.source for c in matching):
            continue
        if any(c.is_live(now) for c in matching):
            refused.append(f"subjects[{index}]")
    if refused:
        raise NotOwnContribution(refused)
