"""Keyed digests and storage keys: one implementation, shared with the SDK (risklist_client.digest)."""

from __future__ import annotations

from risklist_client.digest import DIGEST_SIZE, KEY_SIZE, PERSONALISATION, Digester, storage_key

__all__ = ["DIGEST_SIZE", "KEY_SIZE", "PERSONALISATION", "Digester", "storage_key"]
