"""Policy files the cluster tests push (docs/policy.md)."""

from __future__ import annotations

BLOCK_HIGH = """\
[[rule]]
action = "BLOCK"
reason_code = "BLOCK_ANY_HIGH"
min_level = "high"
allow_single_source = true

[default]
action = "REVIEW"
reason_code = "REVIEW_LISTED"
"""
"""Blocks on one bank's HIGH report, where the built-in policy only reviews it."""
