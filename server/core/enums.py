"""Entity types, risk levels and categories: shared with the SDK (risklist_client.enums)."""

from __future__ import annotations

from risklist_client.enums import Category, EntityType, RiskLevel

__all__ = ["Category", "EntityType", "RiskLevel"]
