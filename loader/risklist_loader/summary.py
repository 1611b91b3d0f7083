"""The end-of-load summary: counts, rate, outcome and exit code, as text and as log fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from risklist_loader.rejects import Reject
from risklist_server.store.apply import ApplyResult

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REJECTS = 3


@dataclass(slots=True)
class LoadSummary:
    """Everything a load did; `refusal` says why nothing was applied (empty when applied)."""

    feed: Path
    source: str
    mode: str
    target: str
    dry_run: bool = False
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    repeated: int = 0
    """Accepted rows identical to the row before them for the same subject and category: not applied."""
    superseded: int = 0
    """Accepted rows a later row for the same subject and category replaces: not applied."""
    expired: int = 0
    """Applied add rows already expired: each ended the source's listing of its category (a removal)."""
    result: ApplyResult = field(default_factory=ApplyResult)
    list_version: int | None = None
    seconds: float = 0.0
    refusal: str = ""
    first_rejects: list[Reject] = field(default_factory=list)
    rejects_path: Path | None = None

    @property
    def exit_code(self) -> int:
        """1 when refused (over the reject ratio, empty snapshot), 3 with rejects, else 0."""
        if self.refusal:
            return EXIT_FAILED
        return EXIT_REJECTS if self.rejected else EXIT_OK

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    @property
    def outcome(self) -> str:
        if self.refusal:
            return f"nothing applied: {self.refusal}"
        if self.dry_run:
            return "dry run: nothing applied"
        return "applied with rejected rows" if self.rejected else "applied"

    def log_fields(self) -> dict[str, object]:
        """The summary as flat structured-log fields (no identifiers: only counts and names)."""
        return {
            "feed": self.feed.name,
            "source": self.source,
            "mode": self.mode,
            "target": self.target,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "repeated": self.repeated,
            "superseded": self.superseded,
            "expired": self.expired,
            "added": self.result.added,
            "unchanged": self.result.unchanged,
            "removed": self.result.removed,
            "not_listed": self.result.not_listed,
            "swept": self.result.swept,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "list_version": self.list_version,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
        }

    def render(self) -> str:
        """Human text for stdout."""
        version = "-" if self.list_version is None else str(self.list_version)
        lines = [
            f"risklist-load {self.feed.name} -> {self.target} "
            f"(source {self.source}, {self.mode}{', dry run' if self.dry_run else ''})",
            f"  rows {self.rows}  accepted {self.accepted}  rejected {self.rejected}",
            f"  repeated {self.repeated}  superseded {self.superseded}  expired {self.expired}",
            f"  added {self.result.added}  unchanged {self.result.unchanged}  "
            f"removed {self.result.removed}  not_listed {self.result.not_listed}  "
            f"swept {self.result.swept}",
            f"  {self.seconds:.2f} s, {self.rows_per_second:,.0f} rows/s, list_version {version}",
        ]
        if self.first_rejects:
            where = (f"; all in {self.rejects_path}" if self.rejects_path
                     else "; --rejects FILE lists all")
            lines.append(f"  first rejects{where}:")
            lines.extend(f"    {reject}" for reject in self.first_rejects)
        lines.append(f"  {self.outcome} (exit {self.exit_code})")
        return "\n".join(lines)
