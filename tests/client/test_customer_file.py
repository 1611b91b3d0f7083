"""Customer files for risklist-watch: CSV and JSON Lines give the same subjects and labels; bad rows name their line."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risklist_client.customer_file import CustomerFileError, read_customers

ROWS = st.lists(st.tuples(st.sampled_from(["phone", "email", "account"]),
                          st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
                                  min_size=1, max_size=20).filter(str.strip),
                          st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
                                  max_size=20)),
                min_size=1, max_size=8)


def _key(kind: str, identifier: str) -> bytes:
    """A stand-in for RiskListClient.storage_key: the type and the value as given."""
    return f"{kind.strip()}|{identifier}".encode()


@settings(deadline=None)
@given(ROWS)
def test_csv_and_json_lines_read_the_same(rows: list[tuple[str, str, str]]) -> None:
    """Whatever the quoting, a CSV written by csv.writer and the same rows as JSON Lines give equal entries;
    a label is the reference, or the identifier when there is none."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["identifier", "ENTITY_TYPE", "reference", "extra"])
    writer.writerows([identifier, kind, reference, "x"] for kind, identifier, reference in rows)
    with tempfile.TemporaryDirectory() as directory:
        as_csv = Path(directory) / "c.csv"
        as_csv.write_text(text.getvalue(), encoding="utf-8")
        as_jsonl = Path(directory) / "c.jsonl"
        as_jsonl.write_text("".join(json.dumps({"entity_type": k, "identifier": i, "reference": r}) + "\n"
                                    for k, i, r in rows), encoding="utf-8")
        from_csv, from_jsonl = read_customers(as_csv, _key), read_customers(as_jsonl, _key)
    expected = [(_key(k, i), (r.strip() or i.strip())[:256]) for k, i, r in rows]
    assert from_jsonl.entries == expected and from_jsonl.rejected == []
    assert from_csv.entries == expected and from_csv.rejected == []


def test_bad_rows_are_skipped_with_their_line_and_reason(tmp_path: Path) -> None:
    """A short row, an empty identifier and a refused identifier are rejected by physical line; the rest read."""
    path = tmp_path / "c.csv"
    path.write_text("entity_type,identifier\nphone,1\n\nphone\nphone,\nphone,bad\n")

    def key(kind: str, identifier: str) -> bytes:
        if identifier == "bad":
            raise ValueError("unknown value")
        return identifier.encode()

    customers = read_customers(path, key)
    assert customers.entries == [(b"1", "1")]
    assert [str(r) for r in customers.rejected] == [
        "line 4: 1 fields, the header has 2", "line 5: entity_type and identifier must both be given",
        "line 6: entity_type: unknown value"]


def test_an_empty_or_non_utf8_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    """0 bytes and Latin-1 bytes stop the read with a message saying what to do."""
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(CustomerFileError, match="empty .0 bytes.*export it again"):
        read_customers(empty, _key)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("entity_type,identifier\nemail,caf\xe9@example.com\n".encode("latin-1"))
    with pytest.raises(CustomerFileError, match="not UTF-8.*CSV UTF-8"):
        read_customers(latin, _key)
