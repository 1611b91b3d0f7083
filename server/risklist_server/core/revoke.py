"""Revoke: a partner withdraws its own contributions; other partners' are never touched, nor revealed.

A subject the caller has no contribution to is not listed as far as its Revoke goes (counted, never
refused), whoever else lists it: the answer is the one for a subject nobody lists and nothing is
written, so a retried Revoke answers OK again and no Revoke tells the caller whether others list a subject.
"""

from __future__ import annotations

from collections.abc import Sequence

from risklist_kernel.enums import Category
from risklist_server.core.errors import InvalidSubjects
from risklist_server.core.mutation import Removal
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

