"""JSON Lines feeds: one JSON object per line, keyed by the feed's field names."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from risklist_loader.lines import Line
from risklist_loader.rejects import Reject, shown
from risklist_loader.rows import FIELDS, BadRow, FeedRow, ReadRow


class _DuplicateKey(ValueError):
    """An object names the same field twice."""


def _unique_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        name = key.strip().lower()
        if name in result:
            raise _DuplicateKey(name)
        result[name] = value
    return result


class JsonlFeed:
    """Yields FeedRow/BadRow per non-blank line; never raises for a bad line."""

    def __init__(self, lines: Iterable[Line]) -> None:
        self._lines = iter(lines)

    def __iter__(self) -> Iterator[ReadRow]:
        for line in self._lines:
            row = self.read_line(line)
            if row is not None:
                yield row

    def read_line(self, line: Line) -> ReadRow | None:
        """The row of one line; None for a blank line."""
        if line.problem:
            return BadRow(line.number, (Reject(line.number, "row", line.problem),))
        if line.text.strip():
            return self._row(line)
        return None

    def _row(self, line: Line) -> ReadRow:
        number = line.number
        try:
            document = json.loads(line.text, object_pairs_hook=_unique_pairs)
        except _DuplicateKey as error:
            return _bad(number, "row", f"the field {shown(error.args[0])} appears twice")
        except json.JSONDecodeError as error:
            reason = f"not valid JSON: {error.msg} at column {error.colno}"
            if not line.terminated:
                reason += "; the last line is cut short (file truncated?)"
            return _bad(number, "row", reason, truncated=not line.terminated)
        except ValueError:  # e.g. an integer longer than Python's int-conversion limit
            return _bad(number, "row", "not valid JSON: a number is too long")
        except RecursionError:
            return _bad(number, "row", "not a feed row: JSON nested too deeply")
        if not isinstance(document, dict):
            return _bad(number, "row", 'not a JSON object; each line must be {"action": ...}')
        unknown = [name for name in document if name not in FIELDS]
        if unknown:
            expected = f"unknown field; expected {', '.join(FIELDS)}"
            rejects = tuple(Reject(number, shown(name).strip("'"), expected) for name in unknown)
            return BadRow(number, rejects)
        present = {name: value for name, value in document.items() if value is not None}
        return FeedRow(number, present)


def _bad(number: int, field: str, reason: str, *, truncated: bool = False) -> BadRow:
    return BadRow(number, (Reject(number, field, reason),), truncated)
