"""docs/operations.md keeps up with the code: every log event an operator may see, every column family."""

from __future__ import annotations

import re

from risklist_server.store.rocks import COLUMN_FAMILIES, RECORDS_CF
from tests.support.paths import REPO

EVENT = re.compile(r"""\blog\.(?:debug|info|warning|error|exception)\(\s*["']([a-z_]+)["']""")
OPERATOR_DOCS = ("operations.md", "feeds.md")


def _logged_events() -> set[str]:
    events: set[str] = set()
    for folder in ("server/risklist_server", "loader/risklist_loader"):
        for path in (REPO / folder).rglob("*.py"):
            events.update(EVENT.findall(path.read_text()))
    return events


def test_every_log_event_is_documented() -> None:
    """An operator finds every event the server or the loader logs in docs/operations.md or docs/feeds.md."""
    events = _logged_events()
    assert len(events) > 30  # the pattern still finds the code's log calls
    docs = "".join((REPO / "docs" / name).read_text() for name in OPERATOR_DOCS)
    assert sorted(event for event in events if f"`{event}`" not in docs) == []


def test_the_store_table_lists_every_column_family() -> None:
    """docs/operations.md's store table has a row for each RocksDB column family the store opens."""
    section = (REPO / "docs" / "operations.md").read_text().split("\n## The store\n", 1)[1].split("\n## ", 1)[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|"))
    assert sorted(name for name in (RECORDS_CF, *COLUMN_FAMILIES) if f"`{name}`" not in table) == []
