"""Entity types, risk levels, categories and policy actions: shared with the SDK (risklist_client.enums)."""

from __future__ import annotations

from risklist_client.enums import Action, Category, EntityType, RiskLevel

__all__ = ["Action", "Category", "EntityType", "RiskLevel"]
