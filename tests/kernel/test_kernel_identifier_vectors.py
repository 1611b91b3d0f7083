"""docs/identifiers.md's tables and reference snippet, checked row by row against the code."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from risklist_kernel.digest import PERSONALISATION, Digester
from risklist_kernel.enums import EntityType
from risklist_kernel.errors import InvalidIdentifier
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from tests.support.paths import REPO

DOC = REPO / "docs" / "identifiers.md"
TEST_SECRET_HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
VALID_HEADER = "| type | raw input | canonical form | digest (hex) |"
KEYS_HEADER = "| type | canonical form | storage key (hex) |"
INVALID_HEADER = "| type | raw input | reason |"
PERSON_HEADER = "| type | type byte | personalisation | personalisation (hex) |"

NORMALISER = Normaliser("CN")
DIGESTER = Digester(NetworkSecret(bytes.fromhex(TEST_SECRET_HEX)))


def table(header: str) -> list[list[str]]:
    """The rows of the markdown table under `header`, cells stripped of one pair of backticks."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    assert lines.count(header) == 1, f"exactly one table headed {header!r} in {DOC}"
    rows = []
    for line in lines[lines.index(header) + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        assert len(cells) == header.count(" | ") + 1, f"malformed row {line!r}"
        rows.append([_unquote(cell) for cell in cells])
    assert rows, f"the table headed {header!r} is empty"
    return rows


def _unquote(cell: str) -> str:
    """`text` -> text; other cells unchanged."""
    if len(cell) >= 2 and cell[0] == cell[-1] == "`":
        return cell[1:-1]
    return cell


def _ids(rows: list[list[str]]) -> list[str]:
    return [f"{row[0]}:{row[1]}" for row in rows]


VALID = table(VALID_HEADER)
KEYS = table(KEYS_HEADER)
INVALID = table(INVALID_HEADER)
PERSON = table(PERSON_HEADER)


def test_doc_publishes_the_test_secret() -> None:
    """The vectors' secret is printed in the doc, as the one the tests use."""
    assert f"\n{TEST_SECRET_HEX}\n" in DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize(("type_name", "raw", "canonical", "digest_hex"), VALID, ids=_ids(VALID))
def test_valid_vector(type_name: str, raw: str, canonical: str, digest_hex: str) -> None:
    """The raw input normalises to the documented canonical form, which digests as documented."""
    entity_type = EntityType.from_feed_name(type_name)
    assert NORMALISER.normalise(entity_type, raw) == canonical
    assert NORMALISER.normalise(entity_type, canonical) == canonical
    assert DIGESTER.digest(entity_type, canonical).hex() == digest_hex


def test_every_type_has_at_least_three_valid_vectors() -> None:
    """Each entity type has three or more valid vectors, raw spellings included."""
    counts = Counter(row[0] for row in VALID)
    assert all(counts[t.feed_name] >= 3 for t in EntityType), counts
    assert any(raw != canonical for _, raw, canonical, _ in VALID)


@pytest.mark.parametrize(("type_name", "canonical", "key_hex"), KEYS, ids=_ids(KEYS))
def test_storage_key_vector(type_name: str, canonical: str, key_hex: str) -> None:
    """The documented storage key is the type byte followed by the digest."""
    entity_type = EntityType.from_feed_name(type_name)
    assert DIGESTER.storage_key(entity_type, canonical).hex() == key_hex


@pytest.mark.parametrize(("type_name", "raw", "reason"), INVALID, ids=_ids(INVALID))
def test_invalid_vector(type_name: str, raw: str, reason: str) -> None:
    """The invalid input is rejected with exactly the documented reason."""
    entity_type = EntityType.from_feed_name(type_name)
    with pytest.raises(InvalidIdentifier) as caught:
        NORMALISER.normalise(entity_type, raw)
    assert caught.value.entity_type == type_name
    assert caught.value.reason == reason


def test_every_type_has_invalid_vectors() -> None:
    """Each entity type has at least three invalid examples."""
    counts = Counter(row[0] for row in INVALID)
    assert all(counts[t.feed_name] >= 3 for t in EntityType), counts


def test_personalisation_table() -> None:
    """The type bytes and personalisations in the doc are the code's, for every type."""
    expected = [
        [t.feed_name, f"0x{t.value:02x}", PERSONALISATION[t].decode(), PERSONALISATION[t].hex()] for t in EntityType
    ]
    assert expected == PERSON


def test_reference_snippet_matches_the_server() -> None:
    """The doc's hashlib-only snippet gives the server's digests and keys for every vector."""
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) == 1, "exactly one python block: the reference implementation"
    namespace: dict[str, Any] = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)
    secret = bytes.fromhex(TEST_SECRET_HEX)
    for type_name, _, canonical, digest_hex in VALID:
        entity_type = EntityType.from_feed_name(type_name)
        assert namespace["risklist_digest"](secret, type_name, canonical).hex() == digest_hex
        assert namespace["risklist_storage_key"](secret, type_name, canonical) == DIGESTER.storage_key(
            entity_type, canonical
        )
