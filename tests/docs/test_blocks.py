"""Fenced blocks and their markers: each block is found with its line, language, text and the marker before it."""

from __future__ import annotations

from pathlib import Path

from tests.docs.blocks import read_blocks
from tests.support.paths import REPO

DOCUMENT = """# A page

<!-- example: run -->
```sh
risklist-check --type phone +8613800138000
```
<!-- example: output -->
```
LISTED
```

Unmarked:

```python
print(1)
```

<!-- example: not-run: a reason -->
<!-- built-in policy -->
```toml
[default]
```
<!-- example: not-run -->
```
x
```
<!-- example: invented -->
```
y
```
"""


def _blocks(tmp_path: Path) -> list[tuple[int, str, str | None, str, str]]:
    page = tmp_path / "page.md"
    page.write_text(DOCUMENT, encoding="utf-8")
    return [(block.line, block.language, block.kind, block.argument, block.text) for block in read_blocks(page)]


def test_each_block_has_its_line_language_text_and_marker(tmp_path: Path) -> None:
    """Markers right before a fence (other comments between allowed) classify it; others leave it unmarked."""
    assert _blocks(tmp_path) == [
        (4, "sh", "run", "", "risklist-check --type phone +8613800138000\n"),
        (8, "", "output", "", "LISTED\n"),
        (14, "python", None, "", "print(1)\n"),
        (20, "toml", "not-run", "a reason", "[default]\n"),
        (24, "", None, "", "x\n"),  # not-run without its colon and reason
        (28, "", None, "", "y\n"),  # a kind the tests do not know
    ]


def test_every_committed_document_block_is_marked() -> None:
    """README.md, seeds/README.md and docs/*.md: no block without a known marker (tests/docs runs them all)."""
    documents = [REPO / "README.md", REPO / "seeds" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    unmarked = [block.where for path in documents for block in read_blocks(path) if block.kind is None]
    assert unmarked == []
