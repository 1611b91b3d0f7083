"""Every fenced block of README.md, seeds/README.md and docs/*.md is marked, and every example runs as shown."""

from __future__ import annotations

import pytest

from tests.docs.blocks import read_blocks
from tests.docs.runner import DocumentRun
from tests.support.demo import Demo
from tests.support.paths import REPO

DOCUMENTS = (
    "README.md",
    "seeds/README.md",
    "docs/identifiers.md",
    "docs/feeds.md",
    "docs/policy.md",
    "docs/security.md",
    "docs/operations.md",
    "docs/api.md",
    "docs/client.md",
    "docs/cluster.md",
)
"""In the order their examples run against the one demo. api.md's examples write (Report, Revoke,
ReportOutcome), so it runs after every document whose shown answers they would change (operations.md's
quality table counts outcomes); client.md's SDK downloads the filter, which a server then serves for 5 s
unchanged, so it runs after api.md's GetFilter, which shows the filter just after api.md's writes."""


def test_every_document_is_run() -> None:
    """A new document in docs/ has its examples run too."""
    documents = {"README.md", "seeds/README.md", *(f"docs/{path.name}" for path in (REPO / "docs").glob("*.md"))}
    assert sorted(documents) == sorted(DOCUMENTS)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_examples_run_as_shown(demo: Demo, document: str) -> None:
    """Each block does what its marker says against the demo: commands exit as shown and print what the
    document shows, grpcurl calls answer what it shows, files are accepted, unmarked blocks fail."""
    failures = DocumentRun(demo).run(read_blocks(REPO / document))
    assert not failures, "\n\n".join(failures)
