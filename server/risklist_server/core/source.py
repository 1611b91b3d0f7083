"""Source ids: who contributed a record (a partner bank's id on the network)."""

from __future__ import annotations

import re

SOURCE_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
SOURCE_ID_RULE = "1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"


def is_valid_source_id(text: str) -> bool:
    """Whether `text` may name a source (lower case, so ids never differ by case alone)."""
    return SOURCE_ID_PATTERN.fullmatch(text) is not None
