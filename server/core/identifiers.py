"""The identifier normaliser: one implementation, shared with the SDK (risklist_client.identifiers)."""

from __future__ import annotations

from risklist_client.identifiers import MAX_RAW_LENGTH, Normaliser, ascii_fast_rule

__all__ = ["MAX_RAW_LENGTH", "Normaliser", "ascii_fast_rule"]
